"""Reading many small objects in one command (export): each pack file opened once and read with ``pread``.

:meth:`ObjectStore.read_into` opens the object's file for every object: after a failed look
for a loose copy, the pack is opened, seeked, read and closed again, seven system calls and
as many hand-overs of the GIL between the workers, for each of a bundle's 500 files. Here the
packs are asked first (their indexes are in memory), each pack file stays open for the batch,
and one ``pread`` fetches an object's stored bytes. Whatever this cannot read (a loose object,
another backend, a pack a gc removed) goes the ordinary way.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from typing import BinaryIO

from casstore.storage.backend import StoredFileMissing
from casstore.storage.codec import decode_into
from casstore.storage.object_store import ObjectStore
from casstore.storage.packs import Pack


class SmallReads:
    """Decode small objects into callers' buffers, verified, holding each pack file open until :meth:`close`."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects
        self._open: dict[str, tuple[BinaryIO, int] | None] = {}
        self._lock = threading.Lock()

    def read_into(self, oid: str, size: int, out: memoryview) -> int:
        """Decode ``oid`` (``size`` bytes by its tree entry) into ``out``, verified; return its length."""
        stored = self._read_packed(oid)
        if stored is None:
            return self._objects.read_into(oid, size, out)
        return decode_into(oid, stored, size, out, self._objects.open_base)

    def _read_packed(self, oid: str) -> bytes | None:
        """Return the stored bytes of ``oid`` from a pack already loaded, or None to read it the ordinary way."""
        for pack in self._objects.packs:
            span = pack.locate(oid)
            if span is None:
                continue
            fd = self._fd(pack)
            if fd is None:
                return None
            offset, length = span
            stored = os.pread(fd, length, offset)
            return stored if len(stored) == length else None
        return None

    def _fd(self, pack: Pack) -> int | None:
        """Return the descriptor of ``pack``'s file, opened through the backend (None: gone, or not a file)."""
        with self._lock:
            if pack.name not in self._open:
                self._open[pack.name] = _open_file(self._objects, pack)
            opened = self._open[pack.name]
            return None if opened is None else opened[1]

    def close(self) -> None:
        """Close the pack files."""
        with self._lock:
            opened, self._open = self._open, {}
        for item in opened.values():
            if item is not None:
                with contextlib.suppress(OSError):
                    item[0].close()

    def __enter__(self) -> SmallReads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_file(objects: ObjectStore, pack: Pack) -> tuple[BinaryIO, int] | None:
    """Open ``pack``'s file through the store's backend; return it and its descriptor, or None."""
    try:
        stream = objects.backend.open_reader(pack.pack_key)
    except StoredFileMissing:
        return None  # a gc replaced it since its index was loaded: the ordinary read looks again
    try:
        return stream, stream.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        stream.close()  # not a local file (a remote or in-memory backend)
        return None
