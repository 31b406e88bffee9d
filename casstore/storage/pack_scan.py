"""A pack's objects in pack order, a span of neighbours per read: how fsck re-hashes a pack.

Opening one object at a time cost a failed look for a loose file, an open of the pack and a
fresh zstd decoder per object: ~95 µs each, 9.7 s of CPU for a 100,000-file bundle (issue 17).
A span is a run of neighbouring objects read in one call and decoded on the thread's one
decoder; an object bigger than a span streams on its own, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, cast

from casstore.errors import CorruptObject, ObjectMissing
from casstore.storage.codec import ObjectReader, verify_stored
from casstore.storage.delta import OpenBase
from casstore.storage.ids import read_exactly
from casstore.storage.pack_views import BoundedReader
from casstore.storage.packs import Pack

SPAN_BYTES = 256 << 10  # ~600 patterns: a task big enough to outweigh its hand-over, small enough to hold 12 in flight

# One object's outcome: its hex id, its content's length, and what is wrong (None: nothing).
Rehashed = tuple[str, int, str | None]


@dataclass(frozen=True)
class Span:
    """Neighbouring objects of one pack: positions ``first`` up to ``stop`` of its pack order."""

    pack: Pack
    order: Sequence[int]
    first: int
    stop: int

    def records(self) -> list[tuple[str, int, int]]:
        """Return each object's hex id, offset and stored length, in pack order."""
        found = []
        for k in range(self.first, self.stop):
            at = self.order[k]
            found.append((self.pack.raw_id(at).hex(), *self.pack.record(at)))
        return found

    def __len__(self) -> int:
        return self.stop - self.first


def spans(pack: Pack) -> list[Span]:
    """Cut ``pack`` into spans of at most :data:`SPAN_BYTES` (an object bigger than that is a span alone)."""
    order = pack.in_pack_order()
    found: list[Span] = []
    first, start = 0, -1
    for k, at in enumerate(order):
        offset, length = pack.record(at)
        if start >= 0 and offset + length - start > SPAN_BYTES:
            found.append(Span(pack, order, first, k))
            start = -1
        if start < 0:
            first, start = k, offset
    if start >= 0:
        found.append(Span(pack, order, first, len(order)))
    return found


def _checked(oid: str, stored: bytes | memoryview | BinaryIO, open_base: OpenBase) -> Rehashed:
    try:
        if isinstance(stored, bytes | memoryview):
            return oid, verify_stored(oid, stored, open_base), None
        with ObjectReader(oid, stored, open_base) as reader:
            return oid, reader.read_to_end(), None
    except (CorruptObject, ObjectMissing) as exc:  # ObjectMissing: a delta's base is gone
        return oid, 0, str(exc).split(": ", 1)[-1]


def check_span(span: Span, open_base: OpenBase) -> list[Rehashed]:
    """Re-hash every object of ``span``; raises StoredFileMissing when the pack is gone (a gc replaced it)."""
    records = span.records()
    try:
        with span.pack.backend.open_reader(span.pack.pack_key) as stream:
            if len(records) == 1 and records[0][2] > SPAN_BYTES:
                oid, offset, length = records[0]
                return [_checked(oid, cast(BinaryIO, BoundedReader(stream, offset, length)), open_base)]
            start = records[0][1]
            stream.seek(start)
            window = memoryview(read_exactly(stream, max(offset + length for _oid, offset, length in records) - start))
    except OSError as exc:
        return [(oid, 0, f"unreadable: {exc.strerror}") for oid, _offset, _length in records]
    return [_checked(oid, window[at - start : at - start + length], open_base) for oid, at, length in records]
