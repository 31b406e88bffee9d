"""Where a bundle's files come from: a directory or a zip, listed safely, opened lazily."""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from casstore.bundles.zip_limits import ZIP_DAMAGE, CountedRead, open_zip
from casstore.errors import BundleError, PathRuleError
from casstore.model.paths import MANIFEST_NAME, RESERVED_TOP, check_path, check_unique, check_unique_paths
from casstore.storage.atomic import is_temp_beside

_STAT = struct.Struct("<QqQq")  # size, mtime_ns, inode, ctime_ns: the stat cache's record layout after the digest


class FileStat(bytes):
    """The four stat fields the stat cache compares, packed in 32 bytes (a stat_result: ~600 bytes, four ints ~200).

    The bytes themselves, not an object holding them: one object a file rather than two (issue 17).
    """

    __slots__ = ()

    def __new__(cls, st: os.stat_result) -> FileStat:
        """Pack ``st``'s size, mtime, inode and ctime."""
        return super().__new__(cls, _STAT.pack(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns))

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


# Slotted records: a 100,000-file bundle holds one of each per file (issue 17: <= 100 MiB).
@dataclass(frozen=True, slots=True)
class SourceFile:
    """A regular file of a bundle: its bundle path, its size and how to open it (a directory's: its stat too)."""

    path: str
    size: int
    open: Callable[[], BinaryIO]
    stat: FileStat | None = None


class BundleSource:
    """A bundle's files by path; ``name`` is what error messages call the bundle.

    ``junk`` holds the macOS / Windows system files (``.DS_Store``, ``__MACOSX/``…) left
    out of ``files``; ``missing_manifest_hint`` says where a manifest was found instead.
    """

    def __init__(
        self,
        name: str,
        files: dict[str, BundleFile],
        warnings: list[str],
        junk: dict[str, BundleFile] | None = None,
        missing_manifest_hint: str = "",
    ) -> None:
        self.name = name
        self.files = files
        self.warnings = warnings
        self.junk = junk or {}
        self.missing_manifest_hint = missing_manifest_hint
        self._closers: list[Callable[[], None]] = []

    def keep_listed(self, paths: Iterable[str]) -> None:
        """Take back any left-out system file that the manifest lists, then warn about the rest."""
        for path in paths:
            if path in self.junk:
                self.files[path] = self.junk.pop(path)
        if self.junk:
            self.warnings.append(junk_warning(list(self.junk)))
            self.junk = {}

    def close(self) -> None:
        """Release open archives."""
        for closer in self._closers:
            closer()
        self._closers.clear()

    def __enter__(self) -> BundleSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Files the macOS Finder and Windows Explorer add to folders and zips; never part of a bundle.
MACOS_RESOURCE_DIR = "__MACOSX"
_JUNK_NAMES = (".ds_store", "thumbs.db", "desktop.ini")


def is_junk(path: str) -> bool:
    """Tell whether ``path`` is an operating system's by-product (Finder, Explorer), not a bundle file."""
    parts = path.split("/")
    name = parts[-1]
    return MACOS_RESOURCE_DIR in parts[:-1] or name.startswith("._") or name.casefold() in _JUNK_NAMES


def junk_warning(paths: list[str]) -> str:
    """The one warning that names every left-out system file (``__MACOSX/`` counted, not listed)."""
    resource = [p for p in paths if MACOS_RESOURCE_DIR in p.split("/")[:-1]]
    named = sorted(p for p in paths if p not in resource)
    if resource:
        named.append(f"{MACOS_RESOURCE_DIR}/ ({len(resource)} entries)")
    return f"left out {len(paths)} macOS/Windows system file(s), not part of the bundle: {', '.join(named)}"


def open_source(location: Path) -> BundleSource:
    """List the bundle at ``location`` (a directory or a ``.zip``), enforcing path rules."""
    if location.is_dir():
        return _directory_source(location)
    if location.is_file():
        if zipfile.is_zipfile(location):
            return _zip_source(location)
        raise BundleError(f"{location}: not a bundle (expected a directory or a .zip archive)")
    raise BundleError(f"{location}: no such bundle directory or zip")


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


BundleFile = SourceFile | DirectoryFile
"""A bundle's file, as a directory or a zip lists it: ``path``, ``size``, ``stat`` (a directory's) and ``open()``."""


def walk_directory(root: Path, warnings: list[str] | None = None) -> list[DirectoryFile]:
    """List a bundle or working directory's files, enforcing the path and symlink rules."""
    root = root.absolute()
    real_root = root.resolve()
    top = str(root)
    found: list[DirectoryFile] = []
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
            found.append(DirectoryFile(sys.intern(rel), top, FileStat(info)))
    check_unique_paths((item.path for item in found), lambda path: f"{root.name}: {path}")
    return found


def _directory_source(root: Path) -> BundleSource:
    warnings: list[str] = []
    files: dict[str, BundleFile] = {}
    junk: dict[str, BundleFile] = {}
    for item in walk_directory(root, warnings):
        # The listing's record is the source file: a SourceFile and a bound opener per file
        # were ~150 bytes a file more (issue 17).
        (junk if is_junk(item.path) else files)[item.path] = item
    hint = ""
    if MANIFEST_NAME not in files:
        inner = sorted({p.split("/", 1)[0] for p in files if p.endswith(f"/{MANIFEST_NAME}") and p.count("/") == 1})
        if len(inner) == 1:
            hint = f" (there is one in {inner[0] + '/'!r}: import that folder)"
    return BundleSource(root.absolute().name, files, warnings, junk, hint)


def _check_link(link: Path, real_root: Path, bundle: str, rel: str) -> None:
    target = link.resolve()
    if target != real_root and real_root not in target.parents:
        raise PathRuleError(f"{bundle}: {rel}: symlink points outside the bundle (to {os.readlink(link)!r})")


def _zip_source(archive_path: Path) -> BundleSource:
    archive = open_zip(archive_path)
    try:
        return _list_zip(archive_path, archive)
    except BaseException:
        archive.close()
        raise


class _ZipMember:
    """A zip entry opened for reading; a bad CRC or deflate stream becomes a BundleError naming it."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, archive_name: str) -> None:
        self._where = f"{archive_name}: entry {info.filename!r}"
        self._counted = CountedRead(self._where, info.file_size)
        try:
            self._stream = archive.open(info)
        except ZIP_DAMAGE as exc:
            raise BundleError(f"{self._where}: damaged or unreadable zip entry ({exc})") from None

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes of the entry, checking its stream and CRC."""
        try:
            chunk = self._counted.count(self._stream.read(size))
        except ZIP_DAMAGE as exc:
            raise BundleError(f"{self._where}: damaged zip entry ({exc})") from None
        if not chunk and size != 0:
            self._counted.finish()
        return chunk

    def close(self) -> None:
        """Close the entry."""
        self._stream.close()

    def __getattr__(self, name: str) -> object:
        # seek, tell, readable…: audio readers use them on the entry as on any zip stream.
        return getattr(self._stream, name)

    def __enter__(self) -> _ZipMember:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _list_zip(archive_path: Path, archive: zipfile.ZipFile) -> BundleSource:
    name = archive_path.name
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        # zipfile cuts a name at its first NUL; the name as stored is in orig_filename.
        stored = info.orig_filename
        where = f"{name}: entry {stored!r}"
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise PathRuleError(f"{where}: symlinks are not allowed in a bundle")
        entry = stored[:-1] if stored.endswith("/") else stored
        check_path(entry, f"{name}: entry")
        if info.flag_bits & 0x1:
            raise BundleError(f"{where}: encrypted entries are not supported")
        if info.is_dir():
            continue
        if info.filename in members:
            raise PathRuleError(f"{where}: appears twice in the archive")
        members[info.filename] = info
    junk_members = {member: info for member, info in members.items() if is_junk(member)}
    kept = {member: info for member, info in members.items() if member not in junk_members}
    prefix = _common_prefix(kept)
    files: dict[str, BundleFile] = {}
    junk: dict[str, BundleFile] = {}
    for member, info in members.items():
        rel = member[len(prefix) :] if member.startswith(prefix) else member
        if rel.split("/")[0] in RESERVED_TOP:
            continue
        opener = lambda info=info: _ZipMember(archive, info, name)  # noqa: E731
        (junk if member in junk_members else files)[rel] = SourceFile(rel, info.file_size, opener)  # type: ignore[arg-type]
    check_unique((path, f"{name}: entry {prefix + path!r}") for path in files)
    hint = ""
    if MANIFEST_NAME not in files and kept:
        tops = {member.split("/", 1)[0] for member in kept}
        if len(tops) == 1 and "/" in next(iter(kept)):
            hint = f" (nor in its one folder {next(iter(tops)) + '/'!r})"
    source = BundleSource(name, files, [], junk, hint)
    source._closers.append(archive.close)
    return source


def _common_prefix(members: dict[str, zipfile.ZipInfo]) -> str:
    """Return ``top/`` when the manifest sits in one top-level folder rather than at the root.

    Finder's "Compress" wraps a folder that way; ``members`` comes without Finder's ``__MACOSX/``.
    """
    if MANIFEST_NAME in members:
        return ""
    tops = {member.split("/", 1)[0] for member in members}
    if len(tops) == 1:
        top = next(iter(tops))
        if f"{top}/{MANIFEST_NAME}" in members:
            return top + "/"
    return ""


@contextlib.contextmanager
def opened(location: Path) -> Iterator[BundleSource]:
    """Open a bundle source and close it afterwards."""
    source = open_source(location)
    try:
        yield source
    finally:
        source.close()
