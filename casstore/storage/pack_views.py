"""Views into a pack: its index records as sequences (hex ids, integer columns) and one object's bytes.

Callers that walk a pack's ids or offsets (a fetch, remote gc) see sequences as before,
while the index itself stays one bytes object of 48-byte records (casstore/storage/packs.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import BinaryIO, Protocol, overload


class IndexRecords(Protocol):
    """What the views read: a pack's records by position."""

    count: int

    def raw_id(self, at: int) -> bytes:
        """Return the 32-byte id of record ``at``."""

    def record(self, at: int) -> tuple[int, int]:
        """Return the offset and stored length of record ``at``."""

    def records(self) -> Iterator[tuple[bytes, int, int]]:
        """Yield every record in id order."""

    def has(self, oid: str) -> bool:
        """Tell whether the pack holds ``oid``."""


class HexIds(Sequence[str]):
    """The ids of a pack's index records, as hex, made as they are asked for (the records stay bytes)."""

    def __init__(self, pack: IndexRecords) -> None:
        self._pack = pack

    def __len__(self) -> int:
        return self._pack.count

    @overload
    def __getitem__(self, at: int) -> str: ...
    @overload
    def __getitem__(self, at: slice) -> list[str]: ...
    def __getitem__(self, at: int | slice) -> str | list[str]:
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        return self._pack.raw_id(at).hex()

    def __iter__(self) -> Iterator[str]:
        for oid, _offset, _length in self._pack.records():
            yield oid.hex()

    def __contains__(self, oid: object) -> bool:
        return isinstance(oid, str) and self._pack.has(oid)


class Column(Sequence[int]):
    """One integer field (offset or length) of a pack's index records."""

    def __init__(self, pack: IndexRecords, field: int) -> None:
        self._pack = pack
        self._field = field

    def __len__(self) -> int:
        return self._pack.count

    @overload
    def __getitem__(self, at: int) -> int: ...
    @overload
    def __getitem__(self, at: slice) -> list[int]: ...
    def __getitem__(self, at: int | slice) -> int | list[int]:
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        return self._pack.record(at)[self._field]

    def __iter__(self) -> Iterator[int]:
        for _oid, offset, length in self._pack.records():
            yield length if self._field else offset


class BoundedReader:
    """Reads at most ``length`` bytes from ``offset`` of a stream, then reports EOF; seekable within them."""

    def __init__(self, stream: BinaryIO, offset: int, length: int) -> None:
        stream.seek(offset)
        self._stream = stream
        self._offset = offset
        self._length = length
        self._at = 0

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all that is left with -1) of the object."""
        left = self._length - self._at
        if left <= 0:
            return b""
        if n is None or n < 0 or n > left:
            n = left
        chunk = self._stream.read(n)
        self._at += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move within the object; return the new position in it."""
        # A compacted object's FLAC stream is decoded in place: libsndfile seeks within it.
        base = (0, self._at, self._length)[whence]
        self._at = max(0, min(self._length, base + offset))
        self._stream.seek(self._offset + self._at)
        return self._at

    def tell(self) -> int:
        """Return the position within the object."""
        return self._at

    def close(self) -> None:
        """Close the pack's stream."""
        self._stream.close()
