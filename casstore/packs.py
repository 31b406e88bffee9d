r"""Packs: many stored objects in one file plus a sorted index, each ending in a BLAKE3 digest.

A pack is ``caspack\x01`` followed by the objects' stored bytes (the loose
encoding: header + raw or zstd) back to back, then the BLAKE3 digest of all
that. Its index is ``casidx\x01\x00``, the object count (u64), one record per
object sorted by id (32-byte id, u64 offset, u64 length), then the BLAKE3 digest
of all that. ``fsck --quick`` checks the digests at memory speed.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from blake3 import blake3

from casstore.atomic import fsync_dir, owned_prefix, temp_file
from casstore.errors import CorruptObject
from casstore.fileops import ops
from casstore.ids import CHUNK_SIZE

PACK_MAGIC = b"caspack\x01"
IDX_MAGIC = b"casidx\x01\x00"
DIGEST_SIZE = 32
_RECORD = struct.Struct(">32sQQ")
_COUNT = struct.Struct(">Q")


def _blake3() -> blake3:
    """Return a BLAKE3 hasher (the module is imported on first use to keep CLI start-up fast)."""
    from blake3 import blake3

    return blake3(max_threads=1)


class _BoundedReader:
    """Reads at most ``length`` bytes from ``offset`` of a file, then reports EOF."""

    def __init__(self, stream: BinaryIO, offset: int, length: int) -> None:
        stream.seek(offset)
        self._stream = stream
        self._left = length

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        if n is None or n < 0 or n > self._left:
            n = self._left
        chunk = self._stream.read(n)
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        self._stream.close()


@dataclass
class Pack:
    """One pack file and its loaded index."""

    pack_path: Path
    index_path: Path
    ids: list[str]
    offsets: list[int]
    lengths: list[int]

    @classmethod
    def load(cls, index_path: Path) -> Pack:
        """Load the index at ``index_path`` (its digest is checked by :meth:`verify_digests`)."""
        raw = index_path.read_bytes()
        if not raw.startswith(IDX_MAGIC) or len(raw) < len(IDX_MAGIC) + _COUNT.size + DIGEST_SIZE:
            raise CorruptObject(index_path.name, "not a casstore pack index")
        (count,) = _COUNT.unpack_from(raw, len(IDX_MAGIC))
        start = len(IDX_MAGIC) + _COUNT.size
        if len(raw) != start + count * _RECORD.size + DIGEST_SIZE:
            raise CorruptObject(index_path.name, "pack index has the wrong length")
        pack_path = index_path.with_suffix(".pack")
        # A flipped bit in an offset or a length must not become a seek past the end or a
        # read of exabytes: every record has to fall inside the pack's object area.
        end = pack_path.stat().st_size - DIGEST_SIZE
        ids, offsets, lengths = [], [], []
        for oid, offset, length in _RECORD.iter_unpack(raw[start : start + count * _RECORD.size]):
            if offset < len(PACK_MAGIC) or offset + length > end:
                raise CorruptObject(
                    index_path.name, f"the record of {oid.hex()} points outside {pack_path.name} ({end} bytes)"
                )
            ids.append(oid.hex())
            offsets.append(offset)
            lengths.append(length)
        if ids != sorted(set(ids)):
            raise CorruptObject(index_path.name, "pack index records are not sorted by id")
        return cls(pack_path, index_path, ids, offsets, lengths)

    def _position(self, oid: str) -> int | None:
        at = bisect.bisect_left(self.ids, oid)
        return at if at < len(self.ids) and self.ids[at] == oid else None

    def has(self, oid: str) -> bool:
        """Tell whether this pack holds ``oid``."""
        return self._position(oid) is not None

    def open_stored(self, oid: str) -> BinaryIO | None:
        """Open the stored bytes of ``oid`` inside the pack, or None when absent."""
        at = self._position(oid)
        if at is None:
            return None
        stream = open(self.pack_path, "rb")  # noqa: SIM115 - closed by the reader's owner
        return _BoundedReader(stream, self.offsets[at], self.lengths[at])  # type: ignore[return-value]

    def stored_size(self, oid: str) -> int:
        """Return the stored (encoded) size of ``oid`` in this pack."""
        at = self._position(oid)
        return self.lengths[at] if at is not None else 0

    def with_prefix(self, prefix: str) -> list[str]:
        """Return the ids in this pack that start with ``prefix``."""
        at = bisect.bisect_left(self.ids, prefix)
        found = []
        while at < len(self.ids) and self.ids[at].startswith(prefix):
            found.append(self.ids[at])
            at += 1
        return found

    def verify_digests(self) -> list[str]:
        """Check the BLAKE3 trailers of the pack and its index; return the problems found."""
        problems = []
        for path in (self.pack_path, self.index_path):
            try:
                if not _digest_matches(path):
                    problems.append(f"{path.name}: BLAKE3 digest does not match its bytes")
            except OSError as exc:
                problems.append(f"{path.name}: unreadable: {exc.strerror}")
        return problems


def _digest_matches(path: Path) -> bool:
    size = path.stat().st_size
    if size < DIGEST_SIZE:
        return False
    hasher = _blake3()
    with open(path, "rb") as stream:
        left = size - DIGEST_SIZE
        while left > 0:
            chunk = stream.read(min(CHUNK_SIZE * 4, left))
            if not chunk:
                return False
            hasher.update(chunk)
            left -= len(chunk)
        return hasher.digest() == stream.read(DIGEST_SIZE)


# Start writeback each time this much was appended, so the disk works while the CPUs encode.
EARLY_FLUSH_BYTES = 16 << 20


class _EarlyFlush:
    """A thread that starts writeback of a file still being written (fdatasync as it grows).

    Without it the kernel holds the whole pack in dirty pages until the final fsync, and
    the disk sits idle while the workers hash and compress; with it that fsync has only
    the last few megabytes left. Errors are left for the final fsync to report.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="casstore-pack-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                ops().fdatasync(self._fd)
            except OSError:
                return

    def kick(self) -> None:
        """Ask for a writeback pass (coalesced with one already asked for)."""
        self._wake.set()

    def stop(self) -> None:
        """Wait for the thread to finish its current pass and end."""
        self._stopping = True
        self._wake.set()
        self._thread.join()


class PackWriter:
    """Build one new pack in ``tmp/``: objects are appended as they come, from any thread.

    Nothing is visible to readers until :meth:`publish`, which makes the pack durable
    (one fsync for all its objects instead of one per object) and then adds its index.
    :meth:`discard` (or a crash) leaves only a temp file, which gc removes.
    """

    def __init__(self, packs_dir: Path, tmp_dir: Path) -> None:
        self.packs_dir = packs_dir
        ops().mkdir(tmp_dir, parents=True)
        fd, self._tmp = ops().create_temp(tmp_dir, owned_prefix("pack-"))
        self._tmp_dir = tmp_dir
        self._out = ops().writer(os.fdopen(fd, "wb"), self._tmp)
        self._hasher = _blake3()
        self._position = 0
        self._records: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._flusher: _EarlyFlush | None = None
        self._flushed_at = 0
        self._write(PACK_MAGIC)

    def _write(self, data: bytes | memoryview) -> None:
        self._out.write(data)
        self._hasher.update(data)
        self._position += len(data)
        if self._position - self._flushed_at >= EARLY_FLUSH_BYTES:
            self._flushed_at = self._position
            self._out.flush()
            if self._flusher is None:
                self._flusher = _EarlyFlush(self._out.fileno())
            self._flusher.kick()

    def _stop_flusher(self) -> None:
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None

    def has(self, oid: str) -> bool:
        """Tell whether ``oid`` was already added to this pack."""
        return oid in self._records

    def add(self, oid: str, parts: Sequence[bytes | memoryview]) -> bool:
        """Append the stored (encoded) bytes of ``oid``, given as parts; False if the pack has it."""
        with self._lock:
            if oid in self._records:
                return False
            start = self._position
            for part in parts:
                self._write(part)
            self._records[oid] = (start, self._position - start)
            return True

    def add_stream(self, oid: str, stored: BinaryIO) -> bool:
        """Append an object's stored bytes read from ``stored`` in bounded chunks."""
        with self._lock:
            if oid in self._records:
                return False
            start = self._position
            while chunk := stored.read(CHUNK_SIZE):
                self._write(chunk)
            self._records[oid] = (start, self._position - start)
            return True

    def publish(self) -> Pack | None:
        """Make the pack durable and visible (pack first, then its index); None if it is empty."""
        with self._lock:
            if not self._records:
                self.discard()
                return None
            digest = self._hasher.digest()
            self._out.write(digest)
            self._out.flush()
            self._stop_flusher()
            ops().fsync(self._out.fileno())
            self._out.close()
            name = f"pack-{digest.hex()}"
            ops().mkdir(self.packs_dir, parents=True)
            ordered = sorted(self._records.items())
            index_body = IDX_MAGIC + _COUNT.pack(len(ordered))
            index_body += b"".join(_RECORD.pack(bytes.fromhex(oid), off, n) for oid, (off, n) in ordered)
            index_hasher = _blake3()
            index_hasher.update(index_body)
            try:
                with temp_file(self._tmp_dir, prefix="idx-") as (idx_out, idx_tmp):
                    idx_out.write(index_body + index_hasher.digest())
                    idx_out.flush()
                    ops().fsync(idx_out.fileno())
                    # Read-only like loose objects; the pack lands before its index: a reader
                    # only uses packs that have an index.
                    os.chmod(self._tmp, 0o444)
                    os.chmod(idx_tmp, 0o444)
                    ops().replace(self._tmp, self.packs_dir / f"{name}.pack")
                    fsync_dir(self.packs_dir)
                    index_path = self.packs_dir / f"{name}.idx"
                    ops().replace(idx_tmp, index_path)
                fsync_dir(self.packs_dir)
            finally:
                ops().unlink(self._tmp, missing_ok=True)
            return Pack.load(index_path)

    def discard(self) -> None:
        """Drop the unfinished pack, even when closing it fails."""
        try:
            self._stop_flusher()
            if not self._out.closed:
                # On a full disk the close's flush fails again; the file must go all the same,
                # or the space it holds keeps every later write (gc included) failing.
                with contextlib.suppress(OSError):
                    self._out.close()
        finally:
            ops().unlink(self._tmp, missing_ok=True)


def write_pack(
    oids: Iterable[str], open_stored: Callable[[str], BinaryIO], packs_dir: Path, tmp_dir: Path
) -> Pack | None:
    """Write the given objects (copied in their stored form) into a new durable pack."""
    writer = PackWriter(packs_dir, tmp_dir)
    try:
        for oid in sorted(set(oids)):
            source = open_stored(oid)
            try:
                writer.add_stream(oid, source)
            finally:
                source.close()
        return writer.publish()
    except BaseException:
        writer.discard()
        raise


def list_packs(packs_dir: Path) -> Iterator[Path]:
    """Yield the index path of every pack (packs without an index are unfinished and ignored)."""
    if packs_dir.is_dir():
        for index in sorted(packs_dir.glob("pack-*.idx")):
            if index.with_suffix(".pack").is_file():
                yield index
