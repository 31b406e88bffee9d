"""The object store: loose objects under ``objects/ab/cdef…`` and packs, verified on read.

Every byte goes through the store's backend (casstore/storage/backend.py): loose objects are
staged and published under their key, their names made durable once per batch by
``backend.sync()``; packs (written by big imports and by gc) are read through the same
surface, so another backend runs the same code.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from casstore.errors import BundleError, CorruptObject, ObjectMissing
from casstore.storage.backend import Backend, StoredFileMissing
from casstore.storage.backend_local import LocalBackend
from casstore.storage.codec import (
    HEADER_SIZE,
    ObjectReader,
    decode_bytes,
    decode_into,
    encode_parts,
    encode_stream,
    header,
)
from casstore.storage.delta import CODEC_DELTA
from casstore.storage.ids import id_of_bytes
from casstore.storage.loose import LooseObjectStore, check_unchanged, loose_key
from casstore.storage.loose import PutResult as PutResult  # importer.py imports it from here
from casstore.storage.packs import Pack, PackWriter, list_packs
from casstore.storage.staging import clear_staging

# Objects up to this size go into an import's pack, encoded in memory (one buffer per
# worker thread); bigger samples stream to loose files, where one file each costs little.
PACKED_OBJECT_LIMIT = 4 << 20
# A write bringing at least this many new objects stores them as one pack (git's unpackLimit).
PACK_MIN_OBJECTS = 64


_local = threading.local()


def _read_buffer() -> bytearray:
    """Return the calling thread's buffer for reading one packable object whole (reused, not reallocated)."""
    if not hasattr(_local, "buffer"):
        _local.buffer = bytearray(PACKED_OBJECT_LIMIT + 1)
    buffer: bytearray = _local.buffer
    return buffer


def _read_into(source: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``source`` until it is full or the source ends; return the bytes read."""
    filled = 0
    while filled < len(view):
        got = source.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            break
        filled += got
    return filled


class ObjectStore:
    """Loose objects plus packs behind one surface: reads look in both; writes go loose or into a new pack.

    The pack list is loaded on first use and looked at again only when a read misses or
    finds its pack gone (git's reprepare): a long-lived reader then sees packs other
    processes added and survives a gc that replaced the packs it loaded.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.loose = LooseObjectStore(backend)
        self._packs: list[Pack] | None = None
        self._pack_names: list[str] = []
        self._freshened: set[str] = set()
        self._staging_cleared = False
        self._reprepare_lock = threading.Lock()
        self._generation = 0  # counts pack-list loads, so a reader can tell one happened since its miss
        self.unreadable_packs: list[tuple[str, str]] = []
        # import --compact: every new object goes into the write's pack, PCM WAVs FLAC-compacted.
        self.compact = False

    @property
    def packs(self) -> list[Pack]:
        """Return the readable packs, loading their indexes on first use."""
        packs = self._packs
        while packs is None:
            self._reprepare()
            packs = self._packs
        return packs

    def reload_packs(self) -> None:
        """Forget every loaded index (fsck, or after gc rewrote the packs)."""
        self._packs = None

    def _reprepare(self, seen: int | None = None) -> bool:
        """List the packs again and load the indexes of new ones; True if the loaded packs changed.

        Indexes already loaded are kept, so this costs one listing when nothing changed.
        With ``seen`` (a :attr:`_generation` read before the caller's miss) a change made
        meanwhile by another thread counts too.
        """
        with self._reprepare_lock:  # worker threads miss at once; one of them lists
            names = list_packs(self.backend)
            if self._packs is None or names != self._pack_names:
                self._load_packs(names)
            return seen is not None and self._generation != seen

    def _load_packs(self, names: list[str]) -> None:
        known = {pack.name: pack for pack in self._packs or []}
        packs, unreadable = [], []
        for name in names:
            if name in known:
                packs.append(known[name])
                continue
            try:
                packs.append(Pack.load(self.backend, name))
            except StoredFileMissing:
                continue  # a concurrent gc replaced it between the listing and the load
            except (CorruptObject, OSError) as exc:
                unreadable.append((f"{name}.idx", str(exc)))
        self._packs, self.unreadable_packs = packs, unreadable
        self._pack_names = names
        self._generation += 1

    def path_for(self, oid: str) -> Path:
        """Return the file of loose ``oid`` in a local store (for tests and tools that look at the disk)."""
        if not isinstance(self.backend, LocalBackend):
            raise TypeError("only a local store keeps objects in files")
        return self.backend.path(loose_key(oid))

    def _has_quick(self, oid: str) -> bool:
        """Tell whether ``oid`` is loose or in a pack already loaded (no new listing: the write path)."""
        return self.loose.has(oid) or any(pack.has(oid) for pack in self.packs)

    def has(self, oid: str) -> bool:
        """Tell whether the store holds ``oid``, loose or packed (a miss looks for new packs once)."""
        seen = self._generation
        if self._has_quick(oid):
            return True
        return self._reprepare(seen) and any(pack.has(oid) for pack in self.packs)

    def open_stored(self, oid: str) -> BinaryIO:
        """Open the stored bytes of ``oid`` from a loose file or a pack."""
        for _attempt in range(3):
            seen = self._generation
            with contextlib.suppress(ObjectMissing):
                return self.loose.open_stored(oid)
            stream, vanished = self._open_packed(oid)
            if stream is not None:
                return stream
            # A concurrent gc may have packed the object since, or replaced the pack that held it.
            if not self._reprepare(seen) and not vanished:
                break
        raise ObjectMissing(oid)

    def _open_packed(self, oid: str) -> tuple[BinaryIO | None, bool]:
        """Open ``oid`` from the loaded packs; also tell whether one of them vanished."""
        vanished = False
        for pack in self.packs:
            try:
                stream = pack.open_stored(oid)
            except StoredFileMissing:
                vanished = True
                continue
            if stream is not None:
                return stream, False
        return None, vanished

    def reader(self, oid: str) -> ObjectReader:
        """Stream the content of ``oid``; reading to the end verifies it."""
        return ObjectReader(oid, self.open_stored(oid), self.open_base)

    def open_base(self, oid: str, budget: int) -> ObjectReader:
        """Stream the content of ``oid`` as the base of a delta, ``budget`` more delta levels allowed."""
        return ObjectReader(oid, self.open_stored(oid), self.open_base, budget)

    def read_bytes(self, oid: str, size: int | None = None) -> bytes:
        """Return the verified content of a small object (decoded in one piece; ``size`` if known)."""
        with contextlib.closing(self.open_stored(oid)) as stored:
            return decode_bytes(oid, stored.read(), size, self.open_base)

    def read_into(self, oid: str, size: int, out: memoryview) -> int:
        """Decode small object ``oid`` (``size`` bytes by its tree entry) into ``out``, verified; return its length."""
        with contextlib.closing(self.open_stored(oid)) as stored:
            return decode_into(oid, stored.read(), size, out, self.open_base)

    def open_portable(self, oid: str) -> BinaryIO:
        """Open a stored form of ``oid`` that needs no other object: a delta is resolved (zstd or raw).

        What leaves the store (a push) or outlives the objects a delta needs (gc's copies)
        goes through here; everything else is its stored bytes as they are.
        """
        stored = self.open_stored(oid)
        try:
            head = stored.read(HEADER_SIZE)
            if head != header(CODEC_DELTA):
                stored.seek(0)
                return stored
        except BaseException:
            stored.close()
            raise
        stored.close()
        from casstore.storage.flac import SPOOL_BYTES  # here: start-up does not load the FLAC codec

        spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 -- handed to the caller
        try:
            with self.reader(oid) as reader:
                encode_stream(cast(BinaryIO, reader), cast(BinaryIO, spool), None)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return cast(BinaryIO, spool)

    def put_stream(
        self,
        open_source: Callable[[], BinaryIO],
        size_hint: int | None = None,
        expected: str | None = None,
        pack: PackWriter | None = None,
    ) -> PutResult:
        """Store content unless present (loose or packed); see :meth:`LooseObjectStore.put_stream`.

        With ``pack``, an object of known size up to :data:`PACKED_OBJECT_LIMIT` is
        encoded in memory and appended to that pack (durable when it is published);
        bigger ones are still written loose, streaming.
        """
        self._clear_dead_staging()
        if expected is not None and (self._reuse_packed(expected) or (pack is not None and pack.has(expected))):
            return PutResult(expected, size_hint or 0, False, 0)
        if self.compact and pack is not None:
            return self._put_compacted(open_source, size_hint, expected, pack)
        if pack is None or size_hint is None or size_hint > PACKED_OBJECT_LIMIT:
            return self.loose.put_stream(open_source, size_hint, expected)
        if expected is not None and self.loose.has(expected):
            self.loose.freshen(expected)
            return PutResult(expected, size_hint, False, 0)
        result = self.put_in_pack(open_source, size_hint, pack)
        check_unchanged(expected, result.oid)
        return result

    def put_in_pack(self, open_source: Callable[[], BinaryIO], size: int, pack: PackWriter) -> PutResult:
        """Read a small object whole, encode it and append it to ``pack`` unless the store has it.

        The id comes from the bytes read here, so the caller compares it with what it
        expected; an import hashes, validates and stages each small file in this one read.
        """
        buffer = _read_buffer()
        with open_source() as source:
            length = _read_into(source, memoryview(buffer)[: size + 1])
        if length > size:  # grew since it was measured: hashing a prefix would lie
            raise BundleError(f"content changed while it was being stored (more than the {size} bytes expected)")
        content = memoryview(buffer)[:length]
        oid, parts = encode_parts(content)
        if pack.has(oid):
            return PutResult(oid, length, False, 0)
        if self._has_quick(oid):
            if not self._reuse_packed(oid):
                self.loose.freshen(oid)
            return PutResult(oid, length, False, 0)
        compacted = None
        if self.compact:
            # Imported here: only import --compact needs it, and its thread pool and temp-file
            # imports cost every command's start-up (the no-op +13% instructions).
            from casstore.storage.flac_compact import compact_in_memory

            compacted = compact_in_memory(oid, parts)
        if compacted is not None:
            with contextlib.closing(compacted.stored):
                new = pack.add_stream(oid, compacted.stored)
            return PutResult(oid, length, new, compacted.length if new else 0)
        new = pack.add(oid, parts)
        return PutResult(oid, length, new, sum(len(part) for part in parts) if new else 0)

    def _put_compacted(
        self, open_source: Callable[[], BinaryIO], size_hint: int | None, expected: str | None, pack: PackWriter
    ) -> PutResult:
        """Store a new object into ``pack`` in its smallest form (FLAC for PCM WAVs, where that pays)."""
        if expected is not None and self.loose.has(expected):
            self.loose.freshen(expected)
            return PutResult(expected, size_hint or 0, False, 0)
        from casstore.storage.flac_compact import encode_compacted

        oid, size, stored, length = encode_compacted(open_source, size_hint)
        with contextlib.closing(stored):
            check_unchanged(expected, oid)
            if pack.has(oid) or self._has_quick(oid):
                return PutResult(oid, size, False, 0)
            new = pack.add_stream(oid, stored)
        return PutResult(oid, size, new, length if new else 0)

    def _reuse_packed(self, oid: str) -> bool:
        """Tell whether a pack holds ``oid``; if so, freshen that pack so a concurrent gc keeps it."""
        found = False
        for pack in self.packs:
            if pack.has(oid):
                found = True
                if pack.name not in self._freshened:  # once per process: the grace is days
                    self._freshened.add(pack.name)
                    self.backend.touch(pack.pack_key)
        return found

    def new_pack(self) -> PackWriter:
        """Start a pack for many new objects; publish it before any ref reaches them."""
        self._clear_dead_staging()
        return PackWriter(self.backend)

    def _clear_dead_staging(self) -> None:
        """Once per process, before its first write: free what killed writers left in ``tmp/``."""
        if not self._staging_cleared:
            self._staging_cleared = True
            clear_staging(self.backend)

    def missing(self, ids: Iterable[str]) -> set[str]:
        """Return which of ``ids`` the store does not hold (one look for new packs, not one per id)."""
        self._reprepare()
        return {oid for oid in set(ids) if not self._has_quick(oid)}

    def pack_for(self, new_objects: int) -> PackWriter | None:
        """Start a pack when a write brings at least :data:`PACK_MIN_OBJECTS` new objects, as git keeps a big fetch.

        One pack costs one fsync instead of one per object; a handful of new objects (an
        edited pattern or two) stay loose so small saves do not pile up tiny packs.
        """
        wanted = PACK_MIN_OBJECTS if not self.compact else 1
        return self.new_pack() if new_objects >= wanted else None

    def publish(self, pack: PackWriter) -> None:
        """Make ``pack`` durable and visible to this store's readers."""
        published = pack.publish()
        with self._reprepare_lock:
            if published is not None and self._packs is not None and published.name not in self._pack_names:
                self._packs = [*self._packs, published]
                self._pack_names = sorted([*self._pack_names, published.name])
                self._generation += 1

    def put_bytes(self, content: bytes, pack: PackWriter | None = None) -> PutResult:
        """Store a small object given in memory."""
        return self.put_stream(lambda: io.BytesIO(content), len(content), id_of_bytes(content), pack)

    def sync(self) -> None:
        """Make every object stored since the last call durable."""
        self.backend.sync()

    def iter_ids(self) -> Iterator[str]:
        """Yield every object id once, loose and packed, in sorted order."""
        ids = set(self.loose.iter_ids())
        for pack in self.packs:
            ids.update(pack.ids)
        yield from sorted(ids)

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Return the ids that start with ``prefix`` (in the packs there are now: one listing)."""
        self._reprepare()
        found = set(self.loose.ids_with_prefix(prefix))
        for pack in self.packs:
            found.update(pack.with_prefix(prefix))
        return sorted(found)
