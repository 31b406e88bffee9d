"""The narrow storage backend a store reaches its bytes through, in restic's shape.

Three sides, each small enough for an object store such as S3 to implement:

- files (objects, packs, indexes, caches), by store-relative key: ``get``, ``get_range``,
  ``put_if_absent``, ``has``, ``list``, ``delete``, ``stat``;
- refs: ``read_ref`` gives the value and an opaque version; ``compare_and_swap`` moves a
  ref only from the version the caller read, appending its reflog line; ``list_refs``;
- leases: locks with an expiry, refreshed while held, which still mean something where a
  pid means nothing (another host, a remote).

Two implementations: :class:`casstore.backend_local.LocalBackend` (the on-disk format
of docs/format.md, unchanged) and :class:`casstore.backend_memory.MemoryBackend`.
``tests/test_backend_contract.py`` runs one suite against both.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Protocol

from casstore.errors import CasstoreError


class StoredFileMissing(CasstoreError):
    """A key the caller expected in the backend is not there."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"{key} is missing from the store")


@dataclass(frozen=True)
class FileStat:
    """What the backend knows of a stored file: its size and when it was last written or freshened."""

    size: int
    modified: float  # seconds since the epoch, by the backend's clock


class Lease(Protocol):
    """A held lock that expires unless refreshed."""

    name: str
    owner: str
    expires: float

    def refresh(self, ttl: float) -> None:
        """Extend the lease to ``ttl`` seconds from now; raises RefLocked if it was lost."""

    def release(self) -> None:
        """Give the lease up (a no-op if another holder took it over after it expired)."""


class Backend(Protocol):
    """The operations a store needs from wherever its bytes live."""

    def get(self, key: str) -> bytes:
        """Return the whole content of ``key`` (raises StoredFileMissing)."""

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``key`` from ``offset`` (short at the end)."""

    def put_if_absent(self, key: str, content: bytes) -> bool:
        """Store ``content`` under ``key`` durably unless it exists; True if this call wrote it."""

    def has(self, key: str) -> bool:
        """Tell whether ``key`` exists."""

    def list(self, prefix: str) -> list[str]:
        """Return every key starting with ``prefix``, sorted."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (a no-op when it is already gone)."""

    def stat(self, key: str) -> FileStat:
        """Return the size and modification time of ``key`` (raises StoredFileMissing)."""

    def touch(self, key: str) -> None:
        """Mark ``key`` as just used, so a concurrent gc judges it young."""

    def read_ref(self, name: str) -> tuple[str | None, str | None]:
        """Return ``(value, version)`` of ref ``name``, or ``(None, None)`` when it does not exist."""

    def compare_and_swap(self, name: str, expected: str | None, new: str | None, log_line: bytes) -> str | None:
        """Move ``name`` from version ``expected`` (None: absent) to ``new`` (None: delete); return the new version.

        Raises RefConflict when the ref no longer has version ``expected``. ``log_line`` is
        appended to the ref's reflog in the same step.
        """

    def list_refs(self, prefix: str = "") -> dict[str, str]:
        """Return ``{ref name: raw value}`` of every ref starting with ``prefix``."""

    def read_log(self, name: str) -> bytes:
        """Return the reflog of ``name`` (empty when it has none)."""

    def list_logs(self) -> builtins.list[str]:
        """Return the names of every ref that has a reflog."""

    def replace_log(self, name: str, content: bytes) -> None:
        """Replace the reflog of ``name`` (gc's expiry); empty content removes it."""

    def ref_locks(self) -> builtins.list[str]:
        """Return the ref locks present now (left by a killed writer, or held by a running one)."""

    def acquire(self, name: str, ttl: float, owner: str) -> Lease:
        """Take lease ``name`` for ``ttl`` seconds, or raise RefLocked naming its live holder."""
