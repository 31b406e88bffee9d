"""Where a bundle's files come from: a directory or a zip, listed safely, opened lazily."""

from __future__ import annotations

import contextlib
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from casstore.bundles.listing import DirectoryFile, DirectoryListing, FileStat, open_binary, walk_directory
from casstore.bundles.zip_limits import ZIP_DAMAGE, CountedRead, open_zip
from casstore.errors import BundleError, PathRuleError
from casstore.model.paths import MANIFEST_NAME, RESERVED_TOP, check_path, check_unique

# Where callers have long imported them from.
__all__ = ["BundleFile", "BundleSource", "DirectoryFile", "FileStat", "SourceFile", "open_binary", "walk_directory"]


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

    A directory's ``files`` are a :class:`DirectoryListing` (sorted, by position too), a zip's a dict.
    ``junk`` holds the macOS / Windows system files (``.DS_Store``, ``__MACOSX/``…) left
    out of ``files``; ``missing_manifest_hint`` says where a manifest was found instead.
    """

    def __init__(
        self,
        name: str,
        files: Mapping[str, BundleFile],
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
        if not self.junk:
            return
        taken = {path: self.junk.pop(path) for path in paths if path in self.junk}
        if taken and isinstance(self.files, DirectoryListing):
            self.files = self.files.plus(item for item in taken.values() if isinstance(item, DirectoryFile))
        elif taken:
            self.files = {**self.files, **taken}
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


BundleFile = SourceFile | DirectoryFile
"""A bundle's file, as a directory or a zip lists it: ``path``, ``size``, ``stat`` (a directory's) and ``open()``."""


def _directory_source(root: Path) -> BundleSource:
    warnings: list[str] = []
    files = walk_directory(root, warnings)
    junk: dict[str, BundleFile] = {path: files.at(at) for at, path in enumerate(files.paths) if is_junk(path)}
    if junk:
        files = files.without(junk)
    hint = ""
    if MANIFEST_NAME not in files:
        inner = sorted({p.split("/", 1)[0] for p in files if p.endswith(f"/{MANIFEST_NAME}") and p.count("/") == 1})
        if len(inner) == 1:
            hint = f" (there is one in {inner[0] + '/'!r}: import that folder)"
    return BundleSource(root.absolute().name, files, warnings, junk, hint)


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
