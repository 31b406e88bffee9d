"""Every stored object once, in id order, for gc and fsck: loose ids merged with the packs' index records.

gc and fsck used to gather every id into a set of hex strings (and a dict of ages or sizes
per id): ~200 bytes an object before any real work, 20 MiB at 100,000 files. Here the ids
stream from the sorted sources, and what must be kept is one sorted table of raw ids
(32 bytes each) with an array beside it.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter

from casstore.storage.packs import Pack
from casstore.storage.sorted_ids import ID_BYTES, find, prefixes

LOOSE = -1  # the source tag of a loose id in the merge

# One stored object: raw id, stored length in the first pack holding it (None: loose
# only), the positions in the pack list of the packs holding it, and whether it is loose.
Stored = tuple[bytes, int | None, tuple[int, ...], bool]


def _tagged(pack: Pack, at: int) -> Iterator[tuple[bytes, int, int]]:
    for raw, _offset, length in pack.records():
        yield raw, length, at


def _loose(oids: Iterable[str]) -> Iterator[tuple[bytes, int, int]]:
    for oid in oids:
        yield bytes.fromhex(oid), 0, LOOSE


def stored_objects(loose: Iterable[str], packs: Sequence[Pack]) -> Iterator[Stored]:
    """Yield every object of ``loose`` (sorted hex ids) and ``packs`` once, in id order."""
    sources = [_tagged(pack, at) for at, pack in enumerate(packs)]
    merged = heapq.merge(_loose(loose), *sources, key=itemgetter(0))
    current: bytes | None = None
    size: int | None = None
    holders: list[int] = []
    is_loose = False
    for raw, length, at in merged:
        if raw != current:
            if current is not None:
                yield current, size, tuple(holders), is_loose
            current, size, holders, is_loose = raw, None, [], False
        if at == LOOSE:
            is_loose = True
        else:
            holders.append(at)
            if size is None:
                size = length
    if current is not None:
        yield current, size, tuple(holders), is_loose


class IdTable:
    """Sorted object ids as one bytes object of 32-byte ids, looked up by bisection; positions index arrays."""

    def __init__(self, raw_ids: bytes) -> None:
        self._raw = raw_ids
        self.count = len(raw_ids) // ID_BYTES
        self._prefixes = prefixes(raw_ids, ID_BYTES)

    @classmethod
    def of(cls, stored: Iterable[Stored], loose: array[int] | None = None) -> IdTable:
        """Build the table of the ids ``stored`` yields (in id order, each once); ``loose`` gets loose ones' places."""
        raw = bytearray()
        for at, (oid, _size, _packs, is_loose) in enumerate(stored):
            raw += oid
            if is_loose and loose is not None:
                loose.append(at)
        return cls(bytes(raw))

    def __len__(self) -> int:
        return self.count

    def raw(self, at: int) -> bytes:
        """Return the 32-byte id at position ``at``."""
        return self._raw[at * ID_BYTES : (at + 1) * ID_BYTES]

    def hex(self, at: int) -> str:
        """Return the hex id at position ``at``."""
        return self.raw(at).hex()

    def __iter__(self) -> Iterator[str]:
        return (self.hex(at) for at in range(self.count))

    def position(self, oid: str) -> int | None:
        """Return where ``oid`` sits in the table, or None when it is not there."""
        try:
            return find(self._raw, ID_BYTES, self._prefixes, bytes.fromhex(oid))
        except ValueError:
            return None

    def __contains__(self, oid: object) -> bool:
        return isinstance(oid, str) and self.position(oid) is not None


def sizes_array(count: int) -> array[int]:
    """Return an array of ``count`` sizes, each -1 (not known yet): 8 bytes an object, not a dict entry."""
    return array("q", [-1]) * count
