"""The object store: loose objects under ``objects/ab/cdef…``, written atomically, verified on read.

The narrow backend surface (has, get, put-if-absent, list, delete) mirrors
restic's so another backend can run the same contract tests later. Packs (written
by gc) are read through the same surface.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from casstore.atomic import fsync_dirs, temp_file
from casstore.codec import ObjectReader, decode_bytes, encode_parts, encode_stream
from casstore.errors import BundleError, CorruptObject, ObjectMissing
from casstore.fileops import ops
from casstore.ids import id_of_bytes, is_object_id
from casstore.packs import Pack, PackWriter, list_packs
from casstore.staging import clear_staging

# Objects up to this size go into an import's pack, encoded in memory (one buffer per
# worker thread); bigger samples stream to loose files, where one file each costs little.
PACKED_OBJECT_LIMIT = 4 << 20
# A write bringing at least this many new objects stores them as one pack (git's unpackLimit).
PACK_MIN_OBJECTS = 64


@dataclass(frozen=True)
class PutResult:
    """What storing one object did: its id, its content size and whether it was new."""

    oid: str
    size: int
    new: bool
    stored_bytes: int


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


def _check_unchanged(expected: str | None, read: str) -> None:
    """Refuse content that no longer hashes to what was validated (a file edited meanwhile)."""
    if expected is not None and read != expected:
        raise BundleError(f"content changed while it was being stored (expected {expected}, read {read})")


class LooseObjectStore:
    """Objects as one file each; durability of new names is batched in :meth:`sync`."""

    def __init__(self, objects_dir: Path, tmp_dir: Path) -> None:
        self.root = objects_dir
        self.tmp = tmp_dir
        self._pending_dirs: set[Path] = set()
        self._lock = threading.Lock()

    def path_for(self, oid: str) -> Path:
        """Return where object ``oid`` lives as a loose file."""
        return self.root / oid[:2] / oid[2:]

    def has(self, oid: str) -> bool:
        """Tell whether the store holds ``oid``."""
        return self.path_for(oid).is_file()

    def open_stored(self, oid: str) -> BinaryIO:
        """Open the stored (encoded) bytes of ``oid``."""
        try:
            return open(self.path_for(oid), "rb")
        except FileNotFoundError:
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
            self._freshen(expected)
            return PutResult(expected, size_hint or 0, False, 0)
        with temp_file(self.tmp, prefix="obj-") as (out, tmp_path):
            with open_source() as source:
                oid, size = encode_stream(source, out, size_hint)
            _check_unchanged(expected, oid)
            if self.has(oid):
                self._freshen(oid)
                return PutResult(oid, size, False, 0)
            out.flush()
            ops().fsync(out.fileno())
            stored = out.tell()
            final = self.path_for(oid)
            ops().mkdir(final.parent)
            os.chmod(tmp_path, 0o444)
            ops().replace(tmp_path, final)
        with self._lock:
            self._pending_dirs.add(final.parent)
        return PutResult(oid, size, True, stored)

    def put_bytes(self, content: bytes) -> PutResult:
        """Store a small object given in memory."""
        return self.put_stream(lambda: io.BytesIO(content), len(content), id_of_bytes(content))

    def _freshen(self, oid: str) -> None:
        # A concurrent gc judges age by mtime; touching keeps a re-used object alive.
        with contextlib.suppress(OSError):
            os.utime(self.path_for(oid))

    def sync(self) -> None:
        """Make every object stored since the last call durable (one fsync per directory)."""
        with self._lock:
            pending, self._pending_dirs = self._pending_dirs, set()
        if pending:
            fsync_dirs(pending | {self.root})

    def iter_ids(self) -> Iterator[str]:
        """Yield the id of every loose object (files that are not ids are skipped)."""
        if not self.root.is_dir():
            return
        for fan in sorted(os.listdir(self.root)):
            fan_dir = self.root / fan
            if len(fan) != 2 or not fan_dir.is_dir():
                continue
            for rest in sorted(os.listdir(fan_dir)):
                oid = fan + rest
                if is_object_id(oid):
                    yield oid

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Return the ids that start with ``prefix`` (at least two hex digits)."""
        fan_dir = self.root / prefix[:2]
        if not fan_dir.is_dir():
            return []
        rest = prefix[2:]
        return sorted(
            prefix[:2] + name
            for name in os.listdir(fan_dir)
            if name.startswith(rest) and is_object_id(prefix[:2] + name)
        )

    def delete(self, oid: str) -> None:
        """Remove ``oid`` (only gc calls this)."""
        ops().unlink(self.path_for(oid), missing_ok=True)


class ObjectStore:
    """Loose objects plus packs behind one surface: reads look in both; writes go loose or into a new pack."""

    def __init__(self, objects_dir: Path, packs_dir: Path, tmp_dir: Path) -> None:
        self.loose = LooseObjectStore(objects_dir, tmp_dir)
        self.packs_dir = packs_dir
        self.tmp = tmp_dir
        self._packs: list[Pack] | None = None
        self._packs_seen: int | None = None
        self._freshened: set[Path] = set()
        self._staging_cleared = False
        self.unreadable_packs: list[tuple[str, str]] = []

    @property
    def packs(self) -> list[Pack]:
        """Return the readable packs, loading their indexes on first use."""
        if self._packs is None:
            self._packs_seen = self._packs_dir_stamp()
            packs, unreadable = [], []
            for index in list_packs(self.packs_dir):
                try:
                    packs.append(Pack.load(index))
                except FileNotFoundError:
                    continue  # a concurrent gc replaced it between the listing and the load
                except (CorruptObject, OSError) as exc:
                    unreadable.append((index.name, str(exc)))
            self._packs, self.unreadable_packs = packs, unreadable
        return self._packs

    def reload_packs(self) -> None:
        """Forget loaded indexes (after gc rewrote the packs)."""
        self._packs = None

    def _packs_dir_stamp(self) -> int | None:
        try:
            return os.stat(self.packs_dir).st_mtime_ns
        except OSError:
            return None

    def _packs_changed(self) -> bool:
        """Tell whether another process added or replaced packs since they were loaded."""
        return self._packs is not None and self._packs_dir_stamp() != self._packs_seen

    def path_for(self, oid: str) -> Path:
        """Return where ``oid`` lives (or would live) as a loose object."""
        return self.loose.path_for(oid)

    def has(self, oid: str) -> bool:
        """Tell whether the store holds ``oid``, loose or packed."""
        if self.loose.has(oid) or any(pack.has(oid) for pack in self.packs):
            return True
        if self._packs_changed():  # a long-lived process (viewer, --watch) sees other imports' packs
            self.reload_packs()
            return any(pack.has(oid) for pack in self.packs)
        return False

    def open_stored(self, oid: str) -> BinaryIO:
        """Open the stored bytes of ``oid`` from a loose file or a pack."""
        for attempt in range(3):
            with contextlib.suppress(ObjectMissing):
                return self.loose.open_stored(oid)
            stream, vanished = self._open_packed(oid)
            if stream is not None:
                return stream
            if attempt > 0 and not vanished:
                break
            # A concurrent gc may have packed the object since, or replaced the pack that held it.
            self.reload_packs()
        raise ObjectMissing(oid)

    def _open_packed(self, oid: str) -> tuple[BinaryIO | None, bool]:
        """Open ``oid`` from the loaded packs; also tell whether one of them vanished from disk."""
        for pack in self.packs:
            try:
                stream = pack.open_stored(oid)
            except FileNotFoundError:
                return None, True
            if stream is not None:
                return stream, False
        return None, False

    def reader(self, oid: str) -> ObjectReader:
        """Stream the content of ``oid``; reading to the end verifies it."""
        return ObjectReader(oid, self.open_stored(oid))

    def read_bytes(self, oid: str, size: int | None = None) -> bytes:
        """Return the verified content of a small object (decoded in one piece; ``size`` if known)."""
        with contextlib.closing(self.open_stored(oid)) as stored:
            return decode_bytes(oid, stored.read(), size)

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
        if pack is None or size_hint is None or size_hint > PACKED_OBJECT_LIMIT:
            return self.loose.put_stream(open_source, size_hint, expected)
        if expected is not None and self.loose.has(expected):
            self.loose._freshen(expected)
            return PutResult(expected, size_hint, False, 0)
        result = self.put_in_pack(open_source, size_hint, pack)
        _check_unchanged(expected, result.oid)
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
        if self.has(oid):
            if not self._reuse_packed(oid):
                self.loose._freshen(oid)
            return PutResult(oid, length, False, 0)
        new = pack.add(oid, parts)
        return PutResult(oid, length, new, sum(len(part) for part in parts) if new else 0)

    def _reuse_packed(self, oid: str) -> bool:
        """Tell whether a pack holds ``oid``; if so, freshen that pack so a concurrent gc keeps it."""
        found = False
        for pack in self.packs:
            if pack.has(oid):
                found = True
                if pack.pack_path not in self._freshened:  # once per process: the grace is days
                    self._freshened.add(pack.pack_path)
                    with contextlib.suppress(OSError):
                        os.utime(pack.pack_path)
        return found

    def new_pack(self) -> PackWriter:
        """Start a pack for many new objects; publish it before any ref reaches them."""
        self._clear_dead_staging()
        return PackWriter(self.packs_dir, self.tmp)

    def _clear_dead_staging(self) -> None:
        """Once per process, before its first write: free what killed writers left in ``tmp/``."""
        if not self._staging_cleared:
            self._staging_cleared = True
            clear_staging(self.tmp)

    def missing(self, ids: Iterable[str]) -> set[str]:
        """Return which of ``ids`` the store does not hold."""
        return {oid for oid in set(ids) if not self.has(oid)}

    def pack_for(self, new_objects: int) -> PackWriter | None:
        """Start a pack when a write brings at least :data:`PACK_MIN_OBJECTS` new objects, as git keeps a big fetch.

        One pack costs one fsync instead of one per object; a handful of new objects (an
        edited pattern or two) stay loose so small saves do not pile up tiny packs.
        """
        return self.new_pack() if new_objects >= PACK_MIN_OBJECTS else None

    def publish(self, pack: PackWriter) -> None:
        """Make ``pack`` durable and visible to this store's readers."""
        if pack.publish() is not None:
            self.reload_packs()

    def put_bytes(self, content: bytes, pack: PackWriter | None = None) -> PutResult:
        """Store a small object given in memory."""
        return self.put_stream(lambda: io.BytesIO(content), len(content), id_of_bytes(content), pack)

    def sync(self) -> None:
        """Make every object stored since the last call durable."""
        self.loose.sync()

    def iter_ids(self) -> Iterator[str]:
        """Yield every object id once, loose and packed, in sorted order."""
        ids = set(self.loose.iter_ids())
        for pack in self.packs:
            ids.update(pack.ids)
        yield from sorted(ids)

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Return the ids that start with ``prefix``."""
        found = set(self.loose.ids_with_prefix(prefix))
        for pack in self.packs:
            found.update(pack.with_prefix(prefix))
        return sorted(found)
