"""A directory's files as a bundle sees them: walked safely, held as sorted paths and packed stats.

Import, status and autosave list every file of a directory. An object a file (a record,
its stat, a dict slot) was ~270 bytes a file, ~27 MiB of an import of 100,000 files
(issue 17: <= 100 MiB); a :class:`DirectoryListing` holds the paths and 32 bytes a file,
and makes a :class:`DirectoryFile` only when one is asked for.
"""

from __future__ import annotations

import os
import stat
import struct
import sys
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from casstore.errors import PathRuleError
from casstore.model.paths import RESERVED_TOP, check_path, check_unique_paths
from casstore.storage.atomic import is_temp_beside

_STAT = struct.Struct("<QqQq")  # size, mtime_ns, inode, ctime_ns: the stat cache's record layout after the digest
STAT_BYTES = _STAT.size
_SIZE = struct.Struct("<Q")


def pack_stat(st: os.stat_result) -> bytes:
    """Return the four stat fields the stat cache compares, packed in :data:`STAT_BYTES` bytes."""
    return _STAT.pack(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


class FileStat(bytes):
    """The four stat fields the stat cache compares, packed in 32 bytes (a stat_result: ~600 bytes, four ints ~200).

    The bytes themselves, not an object holding them: one object a file rather than two (issue 17).
    """

    __slots__ = ()

    def __new__(cls, st: os.stat_result) -> FileStat:
        """Pack ``st``'s size, mtime, inode and ctime."""
        return super().__new__(cls, pack_stat(st))

    @classmethod
    def unpacked(cls, packed: bytes | bytearray | memoryview) -> FileStat:
        """Return the stat whose packed fields are ``packed`` (:func:`pack_stat`'s 32 bytes)."""
        return bytes.__new__(cls, packed)

    @property
    def packed(self) -> bytes:
        """Return the packed fields: the stat cache's record layout after the digest."""
        return self

    @property
    def st_size(self) -> int:
        """Return the size in bytes."""
        return int(_STAT.unpack(self)[0])

    @property
    def st_mtime_ns(self) -> int:
        """Return the modification time in nanoseconds."""
        return int(_STAT.unpack(self)[1])

    @property
    def st_ino(self) -> int:
        """Return the inode number."""
        return int(_STAT.unpack(self)[2])

    @property
    def st_ctime_ns(self) -> int:
        """Return the status change time in nanoseconds."""
        return int(_STAT.unpack(self)[3])


def open_binary(path: Path | str) -> BinaryIO:
    """Open ``path`` for reading bytes (the opener a directory's files are read with)."""
    return open(path, "rb")


@dataclass(frozen=True, slots=True)
class DirectoryFile:
    """A regular file found under a directory: bundle path, the directory (one str shared by all) and its stat."""

    path: str
    root: str
    stat: FileStat

    @property
    def size(self) -> int:
        """Return the file's size when it was listed."""
        return self.stat.st_size

    @property
    def full(self) -> str:
        """Return the file's real path (made on use: a Path or str per file costs 100-400 bytes)."""
        return os.path.join(self.root, self.path)

    def open(self) -> BinaryIO:
        """Open the file for reading bytes."""
        return open_binary(self.full)


class DirectoryListing(Mapping[str, DirectoryFile]):
    """A directory's regular files by bundle path: sorted paths and one buffer of packed stats, by position."""

    __slots__ = ("paths", "root", "stats")

    def __init__(self, root: str, paths: list[str], stats: bytes | bytearray) -> None:
        if len(stats) != len(paths) * STAT_BYTES:
            raise ValueError("directory listing: stats and paths differ in number")
        self.root = root  # the directory, absolute
        self.paths = paths  # sorted (do not change the list)
        self.stats = stats  # STAT_BYTES a path, in path order

    @classmethod
    def of(cls, root: str, paths: list[str], stats: bytes | bytearray) -> DirectoryListing:
        """Return the listing of ``paths`` (any order, unique) and their packed ``stats``, sorted by path."""
        order = sorted(range(len(paths)), key=paths.__getitem__)
        if all(at == index for at, index in enumerate(order)):
            return cls(root, paths, stats)
        packed = bytearray(len(stats))
        for at, index in enumerate(order):
            packed[at * STAT_BYTES : (at + 1) * STAT_BYTES] = stats[index * STAT_BYTES : (index + 1) * STAT_BYTES]
        return cls(root, [paths[index] for index in order], packed)

    def index(self, path: str) -> int:
        """Return the position of ``path``, or -1."""
        at = bisect_left(self.paths, path)
        return at if at < len(self.paths) and self.paths[at] == path else -1

    def stat(self, at: int) -> FileStat:
        """Return the stat of the file at position ``at``."""
        return FileStat.unpacked(self.stats[at * STAT_BYTES : (at + 1) * STAT_BYTES])

    def size(self, at: int) -> int:
        """Return the size of the file at position ``at`` when it was listed."""
        return int(_SIZE.unpack_from(self.stats, at * STAT_BYTES)[0])

    def total_size(self) -> int:
        """Return the size of every file, summed."""
        return sum(fields[0] for fields in _STAT.iter_unpack(self.stats))

    def at(self, at: int) -> DirectoryFile:
        """Return the file at position ``at``."""
        return DirectoryFile(self.paths[at], self.root, self.stat(at))

    def without(self, paths: Iterable[str]) -> DirectoryListing:
        """Return this listing without ``paths``."""
        dropped = set(paths)
        keep = [at for at, path in enumerate(self.paths) if path not in dropped]
        stats = b"".join(self.stats[at * STAT_BYTES : (at + 1) * STAT_BYTES] for at in keep)
        return DirectoryListing(self.root, [self.paths[at] for at in keep], stats)

    def plus(self, files: Iterable[DirectoryFile]) -> DirectoryListing:
        """Return this listing with ``files`` (found under the same directory, not listed yet) added."""
        added = list(files)
        paths = self.paths + [item.path for item in added]
        return DirectoryListing.of(self.root, paths, bytes(self.stats) + b"".join(item.stat for item in added))

    def __getitem__(self, path: str) -> DirectoryFile:
        at = self.index(path)
        if at < 0:
            raise KeyError(path)
        return self.at(at)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.index(path) >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)


def walk_directory(root: Path, warnings: list[str] | None = None) -> DirectoryListing:
    """List a bundle or working directory's files, enforcing the path and symlink rules."""
    root = root.absolute()
    real_root = root.resolve()
    paths: list[str] = []
    stats = bytearray()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root)
        rel_prefix = "" if rel_dir == Path(".") else rel_dir.as_posix() + "/"
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in RESERVED_TOP]
            filenames = [f for f in filenames if f not in RESERVED_TOP]
        dirnames.sort()
        for name in list(dirnames):
            link = here / name
            if link.is_symlink():
                rel = (rel_dir / name).as_posix()
                _check_link(link, real_root, root.name, rel)
                raise PathRuleError(f"{root.name}: {rel}: symlinked directories are not allowed in a bundle")
        dirnames[:] = [d for d in dirnames if not is_temp_beside(d)]
        for name in sorted(filenames):
            if is_temp_beside(name):
                continue  # casstore's own unfinished write (a checkout or export in progress, or killed)
            full = os.path.join(dirpath, name)
            rel = rel_prefix + name
            where = f"{root.name}: {rel}"
            check_path(rel, where)
            if os.path.islink(full):
                _check_link(Path(full), real_root, root.name, rel)
                if warnings is not None:
                    warnings.append(f"{rel} is a symlink inside the bundle; its target's content is stored")
            info = os.stat(full)
            if not stat.S_ISREG(info.st_mode):
                raise PathRuleError(f"{where}: not a regular file")
            paths.append(sys.intern(rel))
            stats += pack_stat(info)
    check_unique_paths(paths, lambda path: f"{root.name}: {path}")
    return DirectoryListing.of(str(root), paths, stats)


def _check_link(link: Path, real_root: Path, bundle: str, rel: str) -> None:
    target = link.resolve()
    if target != real_root and real_root not in target.parents:
        raise PathRuleError(f"{bundle}: {rel}: symlink points outside the bundle (to {os.readlink(link)!r})")
