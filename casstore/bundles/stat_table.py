"""Many files' stat and digest in two compact arrays, sorted by path (not one object per file).

At 100,000 files a ``dict[str, CachedFile]`` held ~420 bytes a file beyond its paths (a
record, four ints, a 64-character digest string, a dict slot); this holds 64 bytes a file
beyond them: a raw 32-byte digest and four 64-bit fields (issue 17: <= 100 MiB).
"""

from __future__ import annotations

import os
import struct
import sys
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from casstore.bundles.listing import FileStat

# mtime granularity allowance: a file changed this close to when its stat was cached
# could change again without its mtime moving, so it is re-hashed ("racy git").
RACY_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)  # one per file of a directory: no per-instance dict
class CachedFile:
    """What the stat cache remembers of one file (``ctime_ns`` 0: a cache written before it was kept)."""

    size: int
    mtime_ns: int
    ino: int
    sha256: str
    ctime_ns: int = 0

    def as_json(self) -> list[Any]:
        """Return the compact JSON form kept in the checkout marker."""
        return [self.size, self.mtime_ns, self.ino, self.sha256, self.ctime_ns]

    @classmethod
    def from_json(cls, item: list[Any]) -> CachedFile:
        """Parse the compact JSON form."""
        ctime = int(item[4]) if len(item) > 4 else 0
        # Interned: the tree, the manifest and the listing hold the same digests and paths.
        return cls(int(item[0]), int(item[1]), int(item[2]), sys.intern(str(item[3])), ctime)

    @classmethod
    def of(cls, st: os.stat_result | FileStat, sha256: str, size: int | None = None) -> CachedFile:
        """Remember ``sha256`` for a file whose stat is ``st``."""
        return cls(st.st_size if size is None else size, st.st_mtime_ns, st.st_ino, sha256, st.st_ctime_ns)

    def vouches_for(self, st: os.stat_result | FileStat, cached_at_ns: int) -> bool:
        """Tell whether a file with stat ``st`` still holds this digest without reading it.

        Size, mtime, inode and ctime (as git's index) must match, and the file must have been
        older than the cache by the racy window: a change in the same clock tick moves no stamp.
        """
        return (
            self.size == st.st_size
            and self.mtime_ns == st.st_mtime_ns
            and self.ino == st.st_ino
            and self.ctime_ns == st.st_ctime_ns
            and st.st_mtime_ns + RACY_NS < cached_at_ns
        )


# digest, size, mtime_ns, inode, ctime_ns
RECORD = struct.Struct("<32sQqQq")


class StatTable(Mapping[str, CachedFile]):
    """A read-only map of bundle path to :class:`CachedFile`, made on each lookup from packed records."""

    __slots__ = ("_paths", "_records")

    def __init__(self, paths: list[str], records: bytes | bytearray | memoryview) -> None:
        if len(records) != len(paths) * RECORD.size:
            raise ValueError("stat table: records and paths differ in number")
        self._paths = paths  # sorted, as every reader bisects them
        self._records = records

    @classmethod
    def of(cls, items: Iterable[tuple[str, CachedFile]]) -> StatTable:
        """Pack ``(path, record)`` pairs, in any order."""
        ordered = sorted(items, key=lambda item: item[0])
        records = bytearray(len(ordered) * RECORD.size)
        for index, (_path, cached) in enumerate(ordered):
            pack_into(records, index, cached)
        return cls([sys.intern(path) for path, _ in ordered], records)

    @property
    def paths(self) -> list[str]:
        """Return the paths, sorted (do not change the list)."""
        return self._paths

    @property
    def records(self) -> bytes | bytearray | memoryview:
        """Return the packed records, one :data:`RECORD` per path in path order."""
        return self._records

    def index(self, path: str) -> int:
        """Return the position of ``path``, or -1."""
        at = bisect_left(self._paths, path)
        return at if at < len(self._paths) and self._paths[at] == path else -1

    def record(self, index: int) -> tuple[bytes, int, int, int, int]:
        """Return the raw record at ``index``: digest bytes, size, mtime_ns, inode, ctime_ns."""
        return RECORD.unpack_from(self._records, index * RECORD.size)

    def vouches(self, index: int, st: os.stat_result | FileStat, cached_at_ns: int) -> bool:
        """Tell whether the record at ``index`` still vouches for a file with stat ``st`` (see CachedFile)."""
        if isinstance(st, FileStat):  # the same layout as the record's stat part: compare the bytes
            start = index * RECORD.size + 32
            return self._records[start : start + 32] == st.packed and st.st_mtime_ns + RACY_NS < cached_at_ns
        _digest, size, mtime, ino, ctime = self.record(index)
        return (
            size == st.st_size
            and mtime == st.st_mtime_ns
            and ino == st.st_ino
            and ctime == st.st_ctime_ns
            and st.st_mtime_ns + RACY_NS < cached_at_ns
        )

    def raw(self, index: int) -> bytes:
        """Return the packed bytes of the record at ``index``."""
        start = index * RECORD.size
        return bytes(self._records[start : start + RECORD.size])

    def at(self, index: int) -> CachedFile:
        """Return the record at ``index`` as a :class:`CachedFile`."""
        digest, size, mtime, ino, ctime = self.record(index)
        return CachedFile(size, mtime, ino, digest.hex(), ctime)

    def digest(self, path: str) -> str | None:
        """Return the hex digest recorded for ``path``, or None."""
        index = self.index(path)
        return None if index < 0 else self.record(index)[0].hex()

    def __getitem__(self, path: str) -> CachedFile:
        index = self.index(path)
        if index < 0:
            raise KeyError(path)
        return self.at(index)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.index(path) >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def same_paths(self, other: Mapping[str, CachedFile] | None) -> bool:
        """Tell whether ``other`` holds exactly these paths."""
        if isinstance(other, StatTable):
            return self._paths == other._paths
        return other is not None and len(other) == len(self) and all(path in other for path in self._paths)


def merge(old: StatTable, keep: Callable[[str], bool], new: StatTable) -> StatTable:
    """Return every record of ``new`` and those of ``old`` whose path ``keep`` accepts and ``new`` lacks.

    The same table as ``StatTable.of(chain(kept items of old, new.items()))``, merged record by
    record from the two sorted tables: no record object and no list of every file's pair (a
    checkout that switches a 100,000-file directory made both, ~20 MiB, issue 17).
    """
    paths: list[str] = []
    records = bytearray()
    size = RECORD.size
    old_paths, new_paths = old.paths, new.paths
    i = j = 0
    while i < len(old_paths) or j < len(new_paths):
        if j == len(new_paths) or (i < len(old_paths) and old_paths[i] < new_paths[j]):
            if keep(old_paths[i]):
                paths.append(old_paths[i])
                records += old.records[i * size : (i + 1) * size]
            i += 1
            continue
        if i < len(old_paths) and old_paths[i] == new_paths[j]:
            i += 1  # ``new`` holds the path: its record is the newer
        paths.append(new_paths[j])
        records += new.records[j * size : (j + 1) * size]
        j += 1
    return StatTable(paths, records)


def pack_into(buffer: bytearray, index: int, cached: CachedFile) -> None:
    """Write ``cached`` as the record at ``index`` of ``buffer``."""
    RECORD.pack_into(
        buffer,
        index * RECORD.size,
        bytes.fromhex(cached.sha256),
        cached.size,
        cached.mtime_ns,
        cached.ino,
        cached.ctime_ns,
    )


def as_table(files: Mapping[str, CachedFile] | None) -> StatTable:
    """Return ``files`` as a table (itself when it is one already)."""
    if isinstance(files, StatTable):
        return files
    return StatTable.of((files or {}).items())
