"""Streaming pieces of the S3 backend: a seekable reader over ranged GETs, and a staged file spooled to disk."""

from __future__ import annotations

import io
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from casstore.storage.backend_s3 import S3Backend


class RangeReader(io.RawIOBase):
    """Raw reads of one S3 object by ranged GETs of ``block`` bytes, each pinned to the ETag seen at open.

    Holds one block at a time, so memory is bounded whatever the object's size; wrap it in
    an ``io.BufferedReader`` for exact-length reads.
    """

    def __init__(self, backend: S3Backend, key: str, size: int, etag: str, first: memoryview, block: int) -> None:
        super().__init__()
        self.backend, self.key, self.size, self.etag, self.block = backend, key, size, etag, block
        self._start, self._cached, self._pos = 0, first, 0

    def readable(self) -> bool:
        """Return True: a reader reads."""
        return True

    def seekable(self) -> bool:
        """Return True: any offset is one ranged GET away."""
        return True

    def tell(self) -> int:
        """Return the read position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the read position (no request until the next read)."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Fill ``buffer`` from the cached block, fetching the block at the position first if needed."""
        view = memoryview(buffer).cast("B")
        if self._pos >= self.size or not len(view):
            return 0
        if not self._start <= self._pos < self._start + len(self._cached):
            end = min(self.size, self._pos + self.block)
            self._cached = self.backend.get_checked(self.key, self._pos, end, self.etag)
            self._start = self._pos
        offset = self._pos - self._start
        count = min(len(view), len(self._cached) - offset)
        view[:count] = self._cached[offset : offset + count]
        self._pos += count
        return count

    def readall(self) -> bytes:
        """Read to the end, block by block."""
        chunks = []
        while chunk := self.read(self.block):
            chunks.append(chunk)
        return b"".join(chunks)


class S3StagedFile:
    """Bytes spooled to a local temp file (bounded memory) until published under a key; nothing remote before."""

    def __init__(self, backend: S3Backend, label: str) -> None:
        self.backend = backend
        self._file = tempfile.TemporaryFile(prefix=f"casstore-{label}-")  # noqa: SIM115 - closed by publish/discard
        self._size = 0
        self._done = False

    def write(self, chunk: bytes | memoryview) -> int:
        """Append ``chunk`` to the temp file."""
        if self._done:
            raise ValueError("write to a staged file that was already published or discarded")
        self._file.write(chunk)
        self._size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        """Return the bytes written so far."""
        return self._size

    def publish(self, key: str) -> bool:
        """Store the bytes under ``key`` unless it exists; True if this call stored them.

        Up to the backend's single-PUT limit this is one create-only PUT. Past it S3 needs a
        multipart upload, which obstore cannot make conditional: the key is checked first,
        and two publishers racing on one key both upload. Staged keys name their content
        (objects, packs), so both upload the same bytes and either copy is right.
        """
        if self._done:
            raise ValueError("a staged file is published once")
        self._done = True
        try:
            if self._size <= self.backend.single_put_limit:
                self._file.seek(0)
                return self.backend.put_if_absent(key, self._file.read())
            if self.backend.has(key):
                return False
            self._file.seek(0)
            self.backend.put_parts(key, self._file)
            return True
        finally:
            self._file.close()

    def replace(self, key: str) -> None:
        """Upload the bytes in parts over whatever ``key`` holds (touch of a large file)."""
        if self._done:
            raise ValueError("a staged file is published once")
        self._done = True
        try:
            self._file.seek(0)
            self.backend.put_parts(key, self._file)
        finally:
            self._file.close()

    def discard(self) -> None:
        """Drop the bytes (a no-op after publish)."""
        if not self._done:
            self._done = True
            self._file.close()

    def __enter__(self) -> S3StagedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
