"""Working directories: checkout a revision into a directory, and status against it.

A directory remembers the revision it holds in ``.casstore-checkout.json``,
together with a stat cache (size, mtime, inode, SHA-256 per file) so status and
checkout do not re-read unchanged samples.
"""

from __future__ import annotations

import contextlib
import os
import time
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, overload

from casstore.bundles.exporter import copy_object_to
from casstore.bundles.snapshot import CachedFile, ManifestCheck, check_manifest, hash_directory, loads_with_files
from casstore.bundles.stat_table import RECORD, StatTable, merge, pack_into
from casstore.errors import HINT_FORCE, DestinationError, UsageError
from casstore.history.commits import read_commit
from casstore.model.objects import decode_listing
from casstore.model.paths import MANIFEST_NAME, RESERVED_TOP, check_path
from casstore.model.tree_table import TreeTable, read_tree_table
from casstore.storage.atomic import (
    clear_dead_temps,
    ensure_dir,
    fsync_dirs,
    make_dirs,
    sync_files,
    temp_for,
    write_durable,
)
from casstore.storage.fileops import ops
from casstore.storage.heap import unmap_big_buffers
from casstore.storage.parallel import parallel_map
from casstore.storage.store import Store
from casstore.workdir.checkpoints import DEFAULT_KEEP_CHECKPOINTS, record_checkpoint
from casstore.workdir.statcache import files_json_line, save_dir_cache

MARKER_NAME = ".casstore-checkout.json"
TEMP_SUFFIX = ".casstore-tmp"


@dataclass
class CheckoutMarker:
    """What a working directory holds: project, commit, tree and the stat cache."""

    project: str
    commit: str
    tree: str
    files: Mapping[str, CachedFile]
    written_at_ns: int
    manifest_check: Any = None  # what status's manifest check found for exactly these files

    def as_json(self, with_files: bool = True) -> dict[str, Any]:
        """Return the marker's JSON form (``with_files=False``: all but the stat cache)."""
        item: dict[str, Any] = {} if self.manifest_check is None else {"manifest_check": self.manifest_check}
        item |= {
            "casstore_checkout": 1,
            "project": self.project,
            "commit": self.commit,
            "tree": self.tree,
            "written_at_ns": self.written_at_ns,
        }
        if with_files:
            item["files"] = {path: cached.as_json() for path, cached in self.files.items()}
        return item


def read_marker(root: Path) -> CheckoutMarker | None:
    """Return the directory's marker, or None when casstore did not lay it out."""
    try:
        item = loads_with_files((root / MARKER_NAME).read_bytes())
        files = item.pop("files")
        if not isinstance(files, StatTable):
            raise TypeError("files is not a stat cache")
        return CheckoutMarker(
            str(item["project"]),
            str(item["commit"]),
            str(item["tree"]),
            files,
            int(item["written_at_ns"]),
            item.get("manifest_check"),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, IndexError):
        raise UsageError(f"{root / MARKER_NAME}: damaged checkout marker; delete it and check out again") from None


def write_marker(root: Path, marker: CheckoutMarker) -> None:
    """Write the marker atomically."""
    # The buffer as it is: a bytes copy of it was 15 MB more at 100,000 files.
    write_durable(root / MARKER_NAME, files_json_line(marker.as_json(with_files=False), marker.files))


@dataclass
class StatusReport:
    """How a working directory differs from the revision it came from."""

    directory: str
    project: str
    commit: str
    modified: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    manifest_mismatches: list[dict[str, str]] = field(default_factory=list)
    manifest_error: str | None = None
    hashed: int = 0

    @property
    def clean(self) -> bool:
        """Tell whether the directory holds exactly its revision."""
        return not (self.modified or self.added or self.deleted or self.manifest_mismatches or self.manifest_error)

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON object."""
        return {
            "directory": self.directory,
            "project": self.project,
            "commit": self.commit,
            "clean": self.clean,
            "modified": self.modified,
            "added": self.added,
            "deleted": self.deleted,
            "manifest_mismatches": self.manifest_mismatches,
            "manifest_error": self.manifest_error,
            "files_hashed": self.hashed,
        }


def status(store: Store, root: Path, verify: bool = False) -> StatusReport:
    """Compare ``root`` with the revision it holds; refresh the stat cache for unchanged files."""
    root = root.absolute()
    marker = read_marker(root)
    if marker is None:
        raise UsageError(f"{root}: not a casstore working directory (no {MARKER_NAME}); compare with 'casstore diff'")
    unmap_big_buffers()
    hashes = hash_directory(root, marker.files, marker.written_at_ns, verify)
    files = hashes.files
    # After the directory's listing is freed, and as packed paths and digests: not an object per file.
    tree = decode_listing(marker.tree, store.objects.read_bytes(marker.tree))
    report = StatusReport(str(root), marker.project, marker.commit, hashed=hashes.hashed)
    # Both sorted by path: one merge, no map of the tree's paths (issue 17: <= 100 MiB).
    unchanged = bytearray(len(files))  # 1 where the file is the tree's
    paths, at = tree.paths, 0
    for index, path in enumerate(files.paths):
        while at < len(paths) and paths[at] < path:
            report.deleted.append(paths[at])
            at += 1
        if at < len(paths) and paths[at] == path:
            if tree.digest(at) == files.record(index)[0]:
                unchanged[index] = 1
            else:
                report.modified.append(path)
            at += 1
        else:
            report.added.append(path)
    report.deleted += paths[at:]
    expected_manifest = MANIFEST_NAME in paths
    del tree, paths
    differs = len(report.added) + len(report.modified)
    # The manifest's check is kept with the stat cache: unchanged files, unchanged findings.
    same = not hashes.hashed and not verify and files.same_paths(marker.files)
    check = ManifestCheck.from_memo(marker.manifest_check, files.digest(MANIFEST_NAME)) if same else None
    memo_found = check is not None
    check = check or check_manifest(root, files)
    report.manifest_mismatches = check.mismatches
    report.manifest_error = check.error if not check.valid and expected_manifest else None
    if not verify and (hashes.hashed or (not memo_found and not differs)):
        kept = StatTable(
            [path for index, path in enumerate(files.paths) if unchanged[index]],
            b"".join(files.raw(index) for index in range(len(files)) if unchanged[index]),
        )
        # The check holds for the kept files only when they are every file (see ``same`` above).
        memo = check.memo(files.digest(MANIFEST_NAME)) if not differs else None
        write_marker(root, CheckoutMarker(marker.project, marker.commit, marker.tree, kept, time.time_ns(), memo))
    return report


@dataclass
class CheckoutResult:
    """What checkout did."""

    directory: str
    project: str
    commit: str
    tree: str
    written: list[str]
    deleted: list[str]
    unchanged: int
    checkpoint: str | None

    def as_json(self) -> dict[str, Any]:
        """Return the result as a JSON object."""
        return {
            "directory": self.directory,
            "project": self.project,
            "commit": self.commit,
            "tree": self.tree,
            "written": self.written,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "checkpoint": self.checkpoint,
        }


class UnsavedChanges(DestinationError):
    """A checkout would overwrite or delete content that no revision in the store holds."""


def checkout(
    store: Store,
    commit_id: str,
    root: Path,
    force: bool = False,
    operation: str = "checkout",
    keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS,
) -> CheckoutResult:
    """Make ``root`` hold exactly revision ``commit_id``; refuse to lose unsaved work unless forced."""
    root = root.absolute()
    if root.exists() and not root.is_dir():
        raise DestinationError(f"{root}: exists and is not a directory")
    commit = read_commit(store, commit_id)
    # A table (sorted paths, packed digests), not a TreeEntry a file: those held 34 MiB of a
    # 100,000-file checkout's 99 MiB traced peak (issue 17).
    tree = read_tree_table(store, commit.tree)
    for path in tree.paths:
        check_path(path, f"tree {commit.tree[:12]}: entry")
    if root.is_dir():
        # What a killed checkout left (temp files beside the user's) goes before anything looks at the files.
        clear_dead_temps(root, skip=RESERVED_TOP)
    marker = read_marker(root) if root.exists() else None
    started = time.time_ns()
    hashes = hash_directory(root, marker.files if marker else None, marker.written_at_ns if marker else 0)
    current = hashes.files
    base: list[str] = []
    if marker is not None:
        with contextlib.suppress(Exception):
            base = read_tree_table(store, marker.tree).paths
    doomed = [path for path in base if tree.index(path) is None and path in current]
    overwritten = {
        path
        for at, path in enumerate(tree.paths)
        if (cached := current.get(path)) is not None and cached.sha256 != tree.sha256(at)
    }
    del base
    # At risk are files checkout would replace or delete; unsaved are those whose content no stored revision has.
    unsaved = sorted(path for path in chain(doomed, overwritten) if not store.objects.has(current[path].sha256))
    checkpoint_ref = None
    if unsaved and not force:
        shown = ", ".join(unsaved[:8]) + (f" and {len(unsaved) - 8} more" if len(unsaved) > 8 else "")
        raise UnsavedChanges(
            f"{root}: unsaved changes that no revision holds would be lost: {shown}; "
            "save them (autosave or import) or force the checkout, which checkpoints them first",
            hint=HINT_FORCE,
        )
    if unsaved:
        checkpoint = record_checkpoint(
            store,
            root,
            marker.project if marker else commit.project_id,
            operation,
            marker.commit if marker else None,
            keep_checkpoints,
        )
        checkpoint_ref = checkpoint.ref
    made_root = not root.exists()
    ensure_dir(root)
    try:
        wanted = array("L", (at for at, path in enumerate(tree.paths) if path not in current or path in overwritten))
        written = _write_entries(store, root, tree, wanted)
    except BaseException:
        if made_root:
            with contextlib.suppress(OSError):
                ops().rmdir(root)  # a failed first checkout leaves no directory behind
        raise
    for path in doomed:
        ops().unlink(root.joinpath(*path.split("/")), missing_ok=True)
    _remove_empty_dirs(root, doomed)
    # Removals durable before the marker says they happened: after a power cut the marker never
    # names a revision whose deleted files could come back.
    fsync_dirs(
        parent
        for path in doomed
        for parent in root.joinpath(*path.split("/")).parents
        if parent.is_relative_to(root) and parent.is_dir()
    )
    # What was there is vouched for as of when it was hashed, so the cache's time is that moment;
    # what checkout wrote is newer than it and will be read once more before it is trusted.
    # One packed table for the marker and the store's cache: 64 bytes a file, not a dict entry and a record.
    kept = merge(current, lambda path: tree.index(path) is not None, written) if current else written
    written_paths, written_count = list(written.paths), len(written)
    del written
    write_marker(root, CheckoutMarker(commit.project_id, commit_id, commit.tree, kept, started))
    # The store's cache of this directory too, so that importing it next reads only what changed.
    save_dir_cache(store, root, kept, started)
    return CheckoutResult(
        str(root),
        commit.project_id,
        commit_id,
        commit.tree,
        written_paths,
        sorted(doomed),
        len(tree) - written_count,
        checkpoint_ref,
    )


def _write_entries(store: Store, root: Path, tree: TreeTable, positions: Sequence[int]) -> StatTable:
    """Write ``tree``'s files at ``positions`` to short temp names beside them, then rename them all: all or nothing.

    The temp files are written in parallel and then made durable together (one batch, not
    one flush per file); until all are on disk nothing in ``root`` has changed. On failure
    the temp files and the directories made for them are removed, so a retry starts clean.
    Returns each written file's stat with the digest it was written with (read from the
    store and verified), so the stat cache need not read it back.
    """
    made: list[Path] = []
    # Per file only its temp name (a str), by its place in ``positions``: a (TreeEntry, name)
    # pair and a Path per file cost ~300 bytes more (issue 17).
    temps: list[str | None] = [None] * len(positions)
    top = str(root)

    def target_of(at: int) -> str:
        return os.path.join(top, *tree.paths[at].split("/"))

    try:
        checked: set[str] = set()
        for at in positions:
            target = Path(target_of(at))
            if str(target.parent) not in checked:
                made += make_dirs(target.parent)  # removed again if the checkout fails
                checked.add(str(target.parent))
            if target.is_dir() and not target.is_symlink():
                raise DestinationError(f"{target}: a directory is where revision file {tree.paths[at]!r} goes")

        def write_one(k: int) -> None:
            at = positions[k]
            with temp_for(Path(target_of(at)), "ck", TEMP_SUFFIX, sync=False) as (out, tmp_path):
                temps[k] = str(tmp_path)
                copy_object_to(store, tree.entry(at), out)

        for _written in parallel_map(write_one, range(len(positions)), io_bound=True):
            pass
        sync_files(_TempPaths(temps), root, checked)
        for k, at in enumerate(positions):
            ops().replace(temps[k], target_of(at))  # type: ignore[arg-type]  # every one was written
    except BaseException:
        for tmp in temps:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    ops().unlink(tmp, missing_ok=True)
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                ops().rmdir(directory)
        raise
    # New names in their directories, and new directories in theirs: a power cut keeps both.
    fsync_dirs([Path(directory) for directory in checked] + [directory.parent for directory in made])
    # Packed record by record in path order (positions ascend): no list of every file's record.
    records = bytearray(len(positions) * RECORD.size)
    for k, at in enumerate(positions):
        pack_into(records, k, CachedFile.of(os.stat(target_of(at)), tree.sha256(at), tree.sizes[at]))
    return StatTable([tree.paths[at] for at in positions], records)


class _TempPaths(Sequence[Path]):
    """The temp names as Paths, made one at a time: a list of 100,000 Paths was ~75 MiB."""

    def __init__(self, temps: list[str | None]) -> None:
        self._temps = temps

    def __len__(self) -> int:
        return len(self._temps)

    @overload
    def __getitem__(self, index: int) -> Path: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Path]: ...
    def __getitem__(self, index: int | slice) -> Path | Sequence[Path]:
        if isinstance(index, slice):
            return [Path(str(tmp)) for tmp in self._temps[index]]
        return Path(str(self._temps[index]))


def _remove_empty_dirs(root: Path, removed: list[str]) -> None:
    candidates = {
        root.joinpath(*path.split("/")[:depth]) for path in removed for depth in range(1, path.count("/") + 1)
    }
    for directory in sorted(candidates, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            ops().rmdir(directory)  # only succeeds when empty
