"""Loose objects: one backend file each under ``objects/ab/cdef…``, staged, published, names made durable per batch."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from casstore.errors import BundleError, ObjectMissing
from casstore.storage.backend import Backend, StoredFileMissing
from casstore.storage.codec import encode_stream
from casstore.storage.ids import id_of_bytes, is_object_id

OBJECTS_PREFIX = "objects/"


@dataclass(frozen=True)
class PutResult:
    """What storing one object did: its id, its content size and whether it was new."""

    oid: str
    size: int
    new: bool
    stored_bytes: int


def check_unchanged(expected: str | None, read: str) -> None:
    """Refuse content that no longer hashes to what was validated (a file edited meanwhile)."""
    if expected is not None and read != expected:
        raise BundleError(f"content changed while it was being stored (expected {expected}, read {read})")


def loose_key(oid: str) -> str:
    """Return the backend key of loose object ``oid``: ``objects/ab/cdef…``."""
    return f"{OBJECTS_PREFIX}{oid[:2]}/{oid[2:]}"


class LooseObjectStore:
    """Objects as one backend file each; durability of new names is batched in :meth:`sync`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def has(self, oid: str) -> bool:
        """Tell whether the store holds ``oid``."""
        return self.backend.has(loose_key(oid))

    def open_stored(self, oid: str) -> BinaryIO:
        """Open the stored (encoded) bytes of ``oid``."""
        try:
            return self.backend.open_reader(loose_key(oid))
        except StoredFileMissing:
            raise ObjectMissing(oid) from None

    def put_stream(
        self, open_source: Callable[[], BinaryIO], size_hint: int | None = None, expected: str | None = None
    ) -> PutResult:
        """Store what ``open_source()`` yields unless already present.

        With ``expected`` the store is asked first, so content it already has is
        not even read; content that no longer hashes to ``expected`` (a file
        changed since it was validated) is refused.
        """
        if expected is not None and self.has(expected):
            self.freshen(expected)
            return PutResult(expected, size_hint or 0, False, 0)
        staged = self.backend.stage("obj")
        try:
            with open_source() as source:
                oid, size = encode_stream(source, cast(BinaryIO, staged), size_hint)
            check_unchanged(expected, oid)
            stored = staged.tell()
            # publish() itself declines a key that exists, so no look before it.
            if not staged.publish(loose_key(oid)):
                self.freshen(oid)
                return PutResult(oid, size, False, 0)
        finally:
            staged.discard()
        return PutResult(oid, size, True, stored)

    def put_bytes(self, content: bytes) -> PutResult:
        """Store a small object given in memory."""
        return self.put_stream(lambda: io.BytesIO(content), len(content), id_of_bytes(content))

    def freshen(self, oid: str) -> None:
        """Mark ``oid`` as just used: a concurrent gc judges age by it, so a re-used object stays."""
        self.backend.touch(loose_key(oid))

    def sync(self) -> None:
        """Make every object stored since the last call durable (one fsync per directory)."""
        self.backend.sync()

    def iter_ids(self) -> Iterator[str]:
        """Yield the id of every loose object, sorted (files that are not ids are skipped)."""
        for key in self.backend.list(OBJECTS_PREFIX):
            oid = _oid_of_key(key)
            if oid is not None:
                yield oid

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Return the ids that start with ``prefix`` (at least two hex digits)."""
        found = (_oid_of_key(key) for key in self.backend.list(f"{OBJECTS_PREFIX}{prefix[:2]}/{prefix[2:]}"))
        return sorted(oid for oid in found if oid is not None)

    def age(self, oid: str) -> float:
        """Return when ``oid`` was written or last freshened (seconds since the epoch)."""
        return self.backend.stat(loose_key(oid)).modified

    def stored_size(self, oid: str) -> int:
        """Return the stored (encoded) size of loose ``oid``."""
        return self.backend.stat(loose_key(oid)).size

    def delete(self, oid: str) -> None:
        """Remove ``oid`` (only gc calls this)."""
        self.backend.delete(loose_key(oid))


def _oid_of_key(key: str) -> str | None:
    """Return the object id a loose-object key names, or None for anything else under ``objects/``."""
    parts = key[len(OBJECTS_PREFIX) :].split("/")
    if len(parts) != 2 or len(parts[0]) != 2:
        return None
    oid = parts[0] + parts[1]
    return oid if is_object_id(oid) else None
