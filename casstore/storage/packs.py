r"""Packs: many stored objects in one file plus a sorted index, each ending in a BLAKE3 digest.

A pack is ``caspack\x01`` followed by the objects' stored bytes (the loose
encoding: header + raw or zstd) back to back, then the BLAKE3 digest of all
that. Its index is ``casidx\x01\x00``, the object count (u64), one record per
object sorted by id (32-byte id, u64 offset, u64 length), then the BLAKE3 digest
of all that. ``fsck --quick`` checks the digests at memory speed.

Packs live in the backend as ``packs/pack-<blake3>.pack`` and ``.idx``; nothing here
opens a file itself.
"""

from __future__ import annotations

import bisect
import struct
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from blake3 import blake3

from casstore.errors import CorruptObject
from casstore.storage.backend import Backend, StoredFileMissing
from casstore.storage.delta import DELTA_PREFIX, delta_base
from casstore.storage.ids import CHUNK_SIZE
from casstore.storage.pack_views import BoundedReader, Column, HexIds
from casstore.storage.sorted_ids import find, prefixes

PACK_MAGIC = b"caspack\x01"
IDX_MAGIC = b"casidx\x01\x00"
DIGEST_SIZE = 32
PACKS_PREFIX = "packs/"
_RECORD = struct.Struct(">32sQQ")
_COUNT = struct.Struct(">Q")
_SPAN = struct.Struct(">QQ")


def _blake3() -> blake3:
    """Return a BLAKE3 hasher (the module is imported on first use to keep CLI start-up fast)."""
    from blake3 import blake3

    return blake3(max_threads=1)


def pack_key(name: str) -> str:
    """Return the backend key of pack ``name`` (``pack-<digest>``)."""
    return f"{PACKS_PREFIX}{name}.pack"


def index_key(name: str) -> str:
    """Return the backend key of the index of pack ``name``."""
    return f"{PACKS_PREFIX}{name}.idx"


class Pack:
    """One pack and its index, held as the index's own records: 48 bytes an object.

    A list of hex ids and two lists of ints took ~190 bytes an object (17 MiB for a
    100,000-file bundle, in every command that reads one object); lookups bisect a u16 array of
    the records' first two bytes in C, then compare the record or two that share them.
    """

    def __init__(self, backend: Backend, name: str, records: bytes) -> None:
        self.backend = backend
        self.name = name
        self._records = records
        self.count = len(records) // _RECORD.size
        self._prefixes = prefixes(records, _RECORD.size)

    @property
    def pack_key(self) -> str:
        """Return the backend key of the pack's bytes."""
        return pack_key(self.name)

    @property
    def index_key(self) -> str:
        """Return the backend key of the pack's index."""
        return index_key(self.name)

    @property
    def ids(self) -> Sequence[str]:
        """Return the ids this pack holds, sorted, as hex (each made when asked for)."""
        return HexIds(self)

    @property
    def offsets(self) -> Sequence[int]:
        """Return each object's offset in the pack, in id order."""
        return Column(self, 0)

    @property
    def lengths(self) -> Sequence[int]:
        """Return each object's stored length, in id order."""
        return Column(self, 1)

    def raw_id(self, at: int) -> bytes:
        """Return the 32-byte id of record ``at``."""
        if not 0 <= at < self.count:
            raise IndexError(at)
        start = at * _RECORD.size
        return self._records[start : start + DIGEST_SIZE]

    def record(self, at: int) -> tuple[int, int]:
        """Return the offset and stored length of record ``at``."""
        if not 0 <= at < self.count:
            raise IndexError(at)
        return _SPAN.unpack_from(self._records, at * _RECORD.size + DIGEST_SIZE)

    def records(self) -> Iterator[tuple[bytes, int, int]]:
        """Yield every record in id order: 32-byte id, offset, stored length."""
        return _RECORD.iter_unpack(self._records)

    @classmethod
    def load(cls, backend: Backend, name: str) -> Pack:
        """Load the index of pack ``name`` (its digest is checked by :meth:`verify_digests`)."""
        return cls.parse(backend, name, backend.get(index_key(name)), backend.stat(pack_key(name)).size)

    @classmethod
    def parse(cls, backend: Backend, name: str, raw: bytes, pack_size: int) -> Pack:
        """Build pack ``name`` of ``backend`` from its index bytes and its size (e.g. an index cached elsewhere)."""
        label = f"{name}.idx"
        if not raw.startswith(IDX_MAGIC) or len(raw) < len(IDX_MAGIC) + _COUNT.size + DIGEST_SIZE:
            raise CorruptObject(label, "not a casstore pack index")
        (count,) = _COUNT.unpack_from(raw, len(IDX_MAGIC))
        start = len(IDX_MAGIC) + _COUNT.size
        if len(raw) != start + count * _RECORD.size + DIGEST_SIZE:
            raise CorruptObject(label, "pack index has the wrong length")
        records = raw[start : start + count * _RECORD.size]
        # A flipped bit in an offset or a length must not become a seek past the end or a
        # read of exabytes: every record has to fall inside the pack's object area.
        end = pack_size - DIGEST_SIZE
        previous = b""
        for oid, offset, length in _RECORD.iter_unpack(records):
            if offset < len(PACK_MAGIC) or offset + length > end:
                raise CorruptObject(label, f"the record of {oid.hex()} points outside {name}.pack ({end} bytes)")
            if oid <= previous:
                raise CorruptObject(label, "pack index records are not sorted by id")
            previous = oid
        return cls(backend, name, records)

    def _position(self, oid: str) -> int | None:
        try:
            key = bytes.fromhex(oid)
        except ValueError:
            return None
        if len(key) != DIGEST_SIZE:
            return None
        return self._position_raw(key)

    def _position_raw(self, key: bytes) -> int | None:
        return find(self._records, _RECORD.size, self._prefixes, key)

    def locate(self, oid: str) -> tuple[int, int] | None:
        """Return the offset and stored length of ``oid`` in the pack, or None when absent."""
        at = self._position(oid)
        return None if at is None else self.record(at)

    def has(self, oid: str) -> bool:
        """Tell whether this pack holds ``oid``."""
        return self._position(oid) is not None

    def open_stored(self, oid: str) -> BinaryIO | None:
        """Open the stored bytes of ``oid`` inside the pack, or None when absent.

        Raises StoredFileMissing when the pack itself is gone (a gc replaced it).
        """
        at = self._position(oid)
        if at is None:
            return None
        stream = self.backend.open_reader(self.pack_key)
        offset, length = self.record(at)
        return BoundedReader(stream, offset, length)  # type: ignore[return-value]

    def stored_size(self, oid: str) -> int:
        """Return the stored (encoded) size of ``oid`` in this pack."""
        at = self._position(oid)
        return self.record(at)[1] if at is not None else 0

    def with_prefix(self, prefix: str) -> list[str]:
        """Return the ids in this pack that start with ``prefix``."""
        try:
            low = bytes.fromhex((prefix + "0" * 64)[:64])
        except ValueError:
            return []
        at = bisect.bisect_left(range(self.count), low, key=self.raw_id)
        found = []
        while at < self.count and (oid := self.raw_id(at).hex()).startswith(prefix):
            found.append(oid)
            at += 1
        return found

    def delta_bases(self) -> dict[str, str]:
        """Return ``{object: base}`` for every delta in this pack (one pass over their headers, for fsck)."""
        found: dict[str, str] = {}
        window, start = b"", 0
        with self.backend.open_reader(self.pack_key) as stream:
            for oid, offset in self._by_offset():
                if offset + DELTA_PREFIX > start + len(window):
                    # One read serves every small object in the next 64 KiB: patterns come in thousands.
                    stream.seek(offset)
                    window, start = stream.read(1 << 16), offset
                base = delta_base(window[offset - start : offset - start + DELTA_PREFIX])
                if base is not None:
                    found[oid.hex()] = base
        return found

    def _by_offset(self) -> Iterator[tuple[bytes, int]]:
        """Yield (id, offset) in pack order."""
        for at in self.in_pack_order():
            yield self.raw_id(at), self.record(at)[0]

    def in_pack_order(self) -> Sequence[int]:
        """Return the record positions in pack order: the index's own when gc wrote the pack in id order."""
        if self._offsets_in_order():
            return range(self.count)
        offsets = [offset for _oid, offset, _length in self.records()]
        return array("L", sorted(range(self.count), key=offsets.__getitem__))  # 8 bytes an object, not a list's 36

    def _offsets_in_order(self) -> bool:
        previous = -1
        for _oid, offset, _length in self.records():
            if offset < previous:
                return False
            previous = offset
        return True

    def verify_digests(self) -> list[str]:
        """Check the BLAKE3 trailers of the pack and its index; return the problems found."""
        problems = []
        for key in (self.pack_key, self.index_key):
            label = key.rsplit("/", 1)[-1]
            try:
                if not _digest_matches(self.backend, key):
                    problems.append(f"{label}: BLAKE3 digest does not match its bytes")
            except StoredFileMissing:
                problems.append(f"{label}: unreadable: it is gone")
            except OSError as exc:
                problems.append(f"{label}: unreadable: {exc.strerror}")
        return problems


def _digest_matches(backend: Backend, key: str) -> bool:
    hasher = _blake3()
    with backend.open_reader(key) as stream:
        size = stream.seek(0, 2)
        if size < DIGEST_SIZE:
            return False
        stream.seek(0)
        left = size - DIGEST_SIZE
        while left > 0:
            chunk = stream.read(min(CHUNK_SIZE * 4, left))
            if not chunk:
                return False
            hasher.update(chunk)
            left -= len(chunk)
        return hasher.digest() == stream.read(DIGEST_SIZE)


class PackWriter:
    """Build one new pack in the backend's staging area: objects are appended as they come, from any thread.

    Nothing is visible to readers until :meth:`publish`, which makes the pack durable
    (one fsync for all its objects instead of one per object) and then adds its index.
    :meth:`discard` (or a crash) leaves only a staged file, which gc removes.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._staged = backend.stage("pack")
        self._hasher = _blake3()
        self._position = 0
        # The index as it will be written, one 48-byte record an object: a dict of hex id ->
        # (offset, length) cost ~230 bytes an object. While objects come in id order (gc)
        # has() bisects it; a set of raw ids is built only once they do not (an import).
        self._index = bytearray()
        self._seen: set[bytes] | None = None
        self._lock = threading.Lock()
        self._write(PACK_MAGIC)

    def _write(self, data: bytes | memoryview) -> None:
        self._staged.write(data)
        self._hasher.update(data)
        self._position += len(data)

    def _id_at(self, at: int) -> bytes:
        start = at * _RECORD.size
        return bytes(self._index[start : start + DIGEST_SIZE])

    def _holds(self, raw: bytes) -> bool:
        if self._seen is not None:
            return raw in self._seen
        count = len(self._index) // _RECORD.size
        at = bisect.bisect_left(range(count), raw, key=self._id_at)
        return at < count and self._id_at(at) == raw

    def has(self, oid: str) -> bool:
        """Tell whether ``oid`` was already added to this pack."""
        return self._holds(bytes.fromhex(oid))

    def _claim(self, oid: str) -> bytes | None:
        """Return ``oid`` as raw bytes if the pack lacks it yet (under the lock), else None."""
        raw = bytes.fromhex(oid)
        count = len(self._index) // _RECORD.size
        if self._seen is None and (not count or raw > self._id_at(count - 1)):
            return raw  # past every id so far: gc adds in id order, so no search
        return None if self._holds(raw) else raw

    def _record(self, raw: bytes, start: int) -> None:
        count = len(self._index) // _RECORD.size
        if self._seen is None and count and raw < self._id_at(count - 1):
            self._seen = {self._id_at(at) for at in range(count)}
        self._index += _RECORD.pack(raw, start, self._position - start)
        if self._seen is not None:
            self._seen.add(raw)

    def add(self, oid: str, parts: Sequence[bytes | memoryview]) -> bool:
        """Append the stored (encoded) bytes of ``oid``, given as parts; False if the pack has it."""
        with self._lock:
            raw = self._claim(oid)
            if raw is None:
                return False
            start = self._position
            for part in parts:
                self._write(part)
            self._record(raw, start)
            return True

    def add_stream(self, oid: str, stored: BinaryIO) -> bool:
        """Append an object's stored bytes read from ``stored`` in bounded chunks."""
        with self._lock:
            raw = self._claim(oid)
            if raw is None:
                return False
            start = self._position
            while chunk := stored.read(CHUNK_SIZE):
                self._write(chunk)
            self._record(raw, start)
            return True

    def publish(self) -> Pack | None:
        """Make the pack durable and visible (pack first, then its index); None if it is empty."""
        with self._lock:
            if not self._index:
                self.discard()
                return None
            digest = self._hasher.digest()
            self._staged.write(digest)
            name = f"pack-{digest.hex()}"
            records = bytes(self._index)
            in_order, self._index, self._seen = self._seen is None, bytearray(), None
            if not in_order:  # an import adds objects as its workers finish them
                size = _RECORD.size
                records = b"".join(sorted(records[at : at + size] for at in range(0, len(records), size)))
            index_body = IDX_MAGIC + _COUNT.pack(len(records) // _RECORD.size) + records
            index_hasher = _blake3()
            index_hasher.update(index_body)
            try:
                self._staged.publish(pack_key(name))
            finally:
                self._staged.discard()
            # The pack's name is durable before an index names it: readers only use packs
            # that have an index, so a crash in between leaves an unused pack, never a
            # dangling index.
            self.backend.sync()
            self.backend.put_if_absent(index_key(name), index_body + index_hasher.digest())
            return Pack(self.backend, name, records)

    def discard(self) -> None:
        """Drop the unfinished pack."""
        self._staged.discard()


def write_pack(oids: Iterable[str], open_stored: Callable[[str], BinaryIO], backend: Backend) -> Pack | None:
    """Write the given objects (copied in their stored form) into a new durable pack."""
    writer = PackWriter(backend)
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


def pack_files(backend: Backend) -> dict[str, bool]:
    """Map every pack whose bytes are there to whether its index is too (one listing, by name)."""
    keys = backend.list(PACKS_PREFIX + "pack-")
    present = set(keys)
    return {
        key[len(PACKS_PREFIX) : -len(".pack")]: key[: -len(".pack")] + ".idx" in present
        for key in keys
        if key.endswith(".pack")
    }


def list_packs(backend: Backend) -> list[str]:
    """Return the name of every pack that has both its bytes and its index (others are unfinished)."""
    return [name for name, indexed in pack_files(backend).items() if indexed]
