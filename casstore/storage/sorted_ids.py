"""Looking ids up in sorted fixed-size records (a pack index, fsck's id table) without an object per id.

A list of hex ids bisects in C but costs ~120 bytes an id; bisecting raw records with a
Python key costs ~17 calls a lookup. The first two bytes of every record, as one sorted
array of u16 (2 bytes an id), bisect in C down to the record or two that share them.
"""

from __future__ import annotations

import bisect
import sys
from array import array

ID_BYTES = 32


def prefixes(records: bytes, stride: int) -> array[int]:
    """Return the first two bytes of each record (sorted records ``stride`` bytes apart) as u16s."""
    count = len(records) // stride
    pairs = bytearray(2 * count)
    pairs[0::2] = records[0 : count * stride : stride]
    pairs[1::2] = records[1 : count * stride : stride]
    table = array("H")
    table.frombytes(bytes(pairs))
    if sys.byteorder == "little":
        table.byteswap()
    return table


def find(records: bytes, stride: int, table: array[int], key: bytes) -> int | None:
    """Return the position of the record whose id is ``key`` (32 bytes), or None."""
    if len(key) != ID_BYTES:
        return None
    prefix = key[0] << 8 | key[1]
    lo = bisect.bisect_left(table, prefix)
    hi = bisect.bisect_right(table, prefix, lo)

    def id_at(at: int) -> bytes:
        return records[at * stride : at * stride + ID_BYTES]

    at = bisect.bisect_left(range(lo, hi), key, key=id_at) + lo if hi - lo > 4 else lo
    while at < hi:
        found = id_at(at)
        if found == key:
            return at
        if found > key:
            return None
        at += 1
    return None
