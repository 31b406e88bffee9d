"""The narrow storage backend a store reaches its bytes through, in restic's shape.

Three sides, each small enough for an object store such as S3 to implement:

- files (objects, packs, indexes, caches), by store-relative key: ``get``, ``get_range``,
  ``put_if_absent``, ``has``, ``list``, ``delete``, ``stat``;
- refs: ``read_ref`` gives the value and an opaque version; ``compare_and_swap`` moves a
  ref only from the version the caller read, appending its reflog line; ``list_refs``;
- leases: locks with an expiry, refreshed while held, which still mean something where a
  pid means nothing (another host, a remote).

Two implementations: :class:`casstore.storage.backend_local.LocalBackend` (the on-disk format
of docs/format.md, unchanged) and :class:`casstore.storage.backend_memory.MemoryBackend`.
``tests/test_backend_contract.py`` runs one suite against both.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import BinaryIO, NamedTuple, Protocol

from casstore.errors import CasstoreError


class StoredFileMissing(CasstoreError):
    """A key the caller expected in the backend is not there."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"{key} is missing from the store")


class FileStat(NamedTuple):
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


class StagedFile(Protocol):
    """Bytes being written under no name yet: a loose object or a pack whose id is known only at the end.

    Local: a temp file in ``tmp/``; S3: a spooled temp file or a multipart upload. Nothing
    is visible under any key until :meth:`publish`.
    """

    def write(self, chunk: bytes | memoryview) -> int:
        """Append ``chunk``; return its length."""

    def tell(self) -> int:
        """Return how many bytes were written so far."""

    def publish(self, key: str) -> bool:
        """Store the bytes under ``key`` unless it exists (then drop them); True if this call stored them.

        The content is durable when this returns; the new name may become durable only at
        the backend's next :meth:`Backend.sync` (one directory fsync per batch, locally).
        """

    def discard(self) -> None:
        """Drop the bytes (a no-op after :meth:`publish`)."""


class Backend(Protocol):
    """The operations a store needs from wherever its bytes live."""

    def open_reader(self, key: str) -> BinaryIO:
        """Open ``key`` for streaming, seekable reads (raises StoredFileMissing); the caller closes it.

        An open reader keeps reading the content it opened even if ``key`` is deleted meanwhile.
        """

    def stage(self, label: str) -> StagedFile:
        """Start writing a file whose key is known only at the end; ``label`` names it for fsck's leftovers."""

    def put(self, key: str, content: bytes) -> None:
        """Store ``content`` under ``key`` durably, replacing what was there (caches, not history)."""

    def sync(self) -> None:
        """Make the names of every file published through :meth:`stage` since the last call durable."""

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

    def expire_log(self, name: str, expired: Callable[[bytes], bool]) -> int:
        """Drop the lines of ``name``'s reflog that ``expired`` picks (gc); return how many went.

        One step against the ref's writers: a move logged meanwhile is never lost with them.
        ``expired`` is given each line without its newline.
        """

    def ref_locks(self) -> builtins.list[str]:
        """Return the ref locks present now (left by a killed writer, or held by a running one)."""

    def acquire(self, name: str, ttl: float, owner: str) -> Lease:
        """Take lease ``name`` for ``ttl`` seconds, or raise RefLocked naming its live holder."""
