"""Where a bundle's files come from: a directory or a zip, listed safely, opened lazily."""

from __future__ import annotations

import contextlib
import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from casstore.errors import BundleError, PathRuleError
from casstore.paths import MANIFEST_NAME, RESERVED_TOP, check_path, check_unique


@dataclass(frozen=True)
class SourceFile:
    """A regular file of a bundle: its bundle path, its size and how to open it."""

    path: str
    size: int
    open: Callable[[], BinaryIO]


class BundleSource:
    """A bundle's files by path; ``name`` is what error messages call the bundle."""

    def __init__(self, name: str, files: dict[str, SourceFile], warnings: list[str]) -> None:
        self.name = name
        self.files = files
        self.warnings = warnings
        self._closers: list[Callable[[], None]] = []

    def close(self) -> None:
        """Release open archives."""
        for closer in self._closers:
            closer()
        self._closers.clear()

    def __enter__(self) -> BundleSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(location: Path) -> BundleSource:
    """List the bundle at ``location`` (a directory or a ``.zip``), enforcing path rules."""
    if location.is_dir():
        return _directory_source(location)
    if location.is_file():
        if zipfile.is_zipfile(location):
            return _zip_source(location)
        raise BundleError(f"{location}: not a bundle (expected a directory or a .zip archive)")
    raise BundleError(f"{location}: no such bundle directory or zip")


@dataclass(frozen=True)
class DirectoryFile:
    """A regular file found under a directory: bundle path, real path and its stat."""

    path: str
    full: Path
    stat: os.stat_result


def walk_directory(root: Path, warnings: list[str] | None = None) -> list[DirectoryFile]:
    """List a bundle or working directory's files, enforcing the path and symlink rules."""
    root = root.absolute()
    real_root = root.resolve()
    found: list[DirectoryFile] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in RESERVED_TOP]
            filenames = [f for f in filenames if f not in RESERVED_TOP]
        dirnames.sort()
        for name in list(dirnames):
            full = here / name
            if full.is_symlink():
                rel = (rel_dir / name).as_posix()
                _check_link(full, real_root, root.name, rel)
                raise PathRuleError(f"{root.name}: {rel}: symlinked directories are not allowed in a bundle")
        for name in sorted(filenames):
            full = here / name
            rel = (rel_dir / name).as_posix()
            where = f"{root.name}: {rel}"
            check_path(rel, where)
            if full.is_symlink():
                _check_link(full, real_root, root.name, rel)
                if warnings is not None:
                    warnings.append(f"{rel} is a symlink inside the bundle; its target's content is stored")
            info = full.stat()
            if not stat.S_ISREG(info.st_mode):
                raise PathRuleError(f"{where}: not a regular file")
            found.append(DirectoryFile(rel, full, info))
    check_unique((item.path, f"{root.name}: {item.path}") for item in found)
    return found


def _directory_source(root: Path) -> BundleSource:
    warnings: list[str] = []
    files = {
        item.path: SourceFile(item.path, item.stat.st_size, lambda full=item.full: open(full, "rb"))  # noqa: SIM115
        for item in walk_directory(root, warnings)
    }
    return BundleSource(root.absolute().name, files, warnings)


def _check_link(link: Path, real_root: Path, bundle: str, rel: str) -> None:
    target = link.resolve()
    if target != real_root and real_root not in target.parents:
        raise PathRuleError(f"{bundle}: {rel}: symlink points outside the bundle (to {os.readlink(link)!r})")


def _zip_source(archive_path: Path) -> BundleSource:
    archive = zipfile.ZipFile(archive_path)
    try:
        return _list_zip(archive_path, archive)
    except BaseException:
        archive.close()
        raise


def _list_zip(archive_path: Path, archive: zipfile.ZipFile) -> BundleSource:
    name = archive_path.name
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        where = f"{name}: entry {info.filename!r}"
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise PathRuleError(f"{where}: symlinks are not allowed in a bundle")
        entry = info.filename[:-1] if info.is_dir() else info.filename
        check_path(entry, f"{name}: entry")
        if info.flag_bits & 0x1:
            raise BundleError(f"{where}: encrypted entries are not supported")
        if info.is_dir():
            continue
        if info.filename in members:
            raise PathRuleError(f"{where}: appears twice in the archive")
        members[info.filename] = info
    prefix = _common_prefix(members)
    files: dict[str, SourceFile] = {}
    for member, info in members.items():
        rel = member[len(prefix) :]
        if rel.split("/")[0] in RESERVED_TOP:
            continue
        files[rel] = SourceFile(rel, info.file_size, lambda info=info: archive.open(info))
    check_unique((path, f"{name}: entry {prefix + path!r}") for path in files)
    source = BundleSource(name, files, [])
    source._closers.append(archive.close)
    return source


def _common_prefix(members: dict[str, zipfile.ZipInfo]) -> str:
    """Return ``top/`` when the manifest sits in one top-level folder rather than at the root."""
    if MANIFEST_NAME in members:
        return ""
    tops = {member.split("/", 1)[0] for member in members}
    if len(tops) == 1:
        top = next(iter(tops))
        if f"{top}/{MANIFEST_NAME}" in members:
            return top + "/"
    return ""


@contextlib.contextmanager
def opened(location: Path):  # noqa: ANN201 - a context manager of BundleSource
    """Open a bundle source and close it afterwards."""
    source = open_source(location)
    try:
        yield source
    finally:
        source.close()
