"""Going back to any version, and undoing it: what the viewer's Restore and Undo buttons call.

A restore writes a version into a working directory. Anything there that no version holds
is checkpointed first, and what was put back is kept as a ``restored`` checkpoint, so the
musician can always go back: :func:`undo_restore` restores what the directory held before.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from casstore.audio.sampler import SamplerManifestIndex
from casstore.diff.narrow import MarkedSide
from casstore.errors import CasstoreError, RefError, UsageError
from casstore.history.autosaves import AutosaveItem, autosave_sort_key, normal_time
from casstore.history.commits import read_commit
from casstore.history.revisions import resolve
from casstore.model.paths import MANIFEST_NAME
from casstore.storage.atomic import write_durable
from casstore.storage.ids import short
from casstore.storage.refs import DEFAULT_BRANCH, check_component
from casstore.storage.store import Store
from casstore.workdir.autosave import autosave
from casstore.workdir.checkpoints import DEFAULT_KEEP_CHECKPOINTS, checkpoint_commit
from casstore.workdir.recover import RESTORED_OPERATION, RecoveryPoint, recovery_head_side, recovery_point
from casstore.workdir.worktree import checkout as checkout_revision
from casstore.workdir.worktree import read_marker, status


@dataclass(frozen=True)
class RestorePlan:
    """What a restore will do, for the confirmation a musician reads before it runs."""

    commit: str
    directory: str
    unsaved: tuple[str, ...]  # files whose current content will be checkpointed first

    @property
    def question(self) -> str:
        """Return the confirmation text: the folder written to and what will be checkpointed."""
        if self.unsaved:
            more = len(self.unsaved) - 4
            shown = ", ".join(self.unsaved[:4]) + (f" and {more} more" if more > 0 else "")
            keep = f"Your unsaved changes ({shown}) are kept as a checkpoint first."
        else:
            keep = "The folder has no unsaved changes; what it holds now stays in the history."
        return f"Write this version into {self.directory}? {keep} You can undo it."


@dataclass(frozen=True)
class RestoreDone:
    """A finished restore: what it wrote, and the version that undoing it goes back to."""

    commit: str
    directory: str
    written: int
    deleted: int
    checkpoint: str | None  # the ref keeping the unsaved work it replaced, if there was any
    kept: str  # the ref of the ``restored`` checkpoint that keeps what it put back
    undo_to: str | None  # the commit that held the directory's previous state


def plan_restore(store: Store, rev: str, into: Path) -> RestorePlan:
    """Say what restoring ``rev`` into ``into`` would write over and checkpoint, changing nothing."""
    commit = resolve(store, rev)
    root = into.absolute()
    unsaved: list[str] = []
    if root.is_dir() and read_marker(root) is not None:
        report = status(store, root)
        unsaved = sorted(report.modified + report.added)
    elif root.is_dir() and any(root.iterdir()):
        unsaved = sorted(p.name for p in root.iterdir())
    return RestorePlan(commit, str(root), tuple(unsaved))


def restore_version(
    store: Store, project: str, rev: str, into: Path, keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS
) -> RestoreDone:
    """Restore any version (autosave, checkpoint, import, save or tag) into ``into``, keeping what it replaces."""
    commit = resolve(store, rev)
    owner = read_commit(store, commit).project_id
    if owner != project:
        raise UsageError(f"version {short(commit)} belongs to project {owner!r}, not {project!r}")
    root = into.absolute()
    marker = read_marker(root) if root.is_dir() else None
    before = marker.commit if marker is not None else None
    done = checkout_revision(store, commit, root, force=True, operation="recover", keep_checkpoints=keep_checkpoints)
    undo_to = before
    if done.checkpoint is not None:
        undo_to = store.refs.read(done.checkpoint) or before
    message = f"restored {short(commit)} into {done.directory}"
    kept = checkpoint_commit(store, project, commit, RESTORED_OPERATION, keep_checkpoints, message)
    return RestoreDone(commit, done.directory, len(done.written), len(done.deleted), done.checkpoint, kept, undo_to)


def undo_restore(store: Store, project: str, done: RestoreDone) -> RestoreDone:
    """Put back what the directory held before ``done`` (itself a restore, so it can be undone too)."""
    if done.undo_to is None:
        raise UsageError(f"{done.directory} held nothing before that restore; there is nothing to go back to")
    return restore_version(store, project, done.undo_to, Path(done.directory))


def _restores(store: Store, project: str) -> tuple[str | None, set[str]]:
    """The newest restore's time, and the snapshots (trees) that restores put back."""
    newest = None
    trees: set[str] = set()
    for name, oid in store.refs.list(project, "checkpoints").items():
        if not name.rsplit("/", 1)[-1].split(".", 1)[0].endswith(f"-{RESTORED_OPERATION}"):
            continue
        try:
            commit = read_commit(store, oid)
        except CasstoreError:
            continue
        when = normal_time(commit.created_at)
        trees.add(commit.tree)
        newest = when if newest is None or when > newest else newest
    return newest, trees


def safe_recovery_offer(store: Store, project: str) -> RecoveryPoint | None:
    """The newest readable autosave newer than the head and than any restore, or None.

    Only autosaves are read (never every checkpoint), and a damaged one is skipped, so one
    bad object cannot keep the viewer from opening.
    """
    autosaves = store.refs.list(project, "autosave")
    head = store.refs.read(f"{project}/heads/{DEFAULT_BRANCH}")
    head_tree = None
    newest_restore, restored_trees = _restores(store, project)
    floor = newest_restore or ""
    try:
        if head is not None:
            head_commit = read_commit(store, head)
            floor = max(floor, normal_time(head_commit.created_at))
            head_tree = head_commit.tree
    except CasstoreError:
        head_tree = None
    ordered = sorted(autosaves.items(), key=lambda item: autosave_sort_key(AutosaveItem(item[0].rsplit("/", 1)[-1])))
    head_side: MarkedSide | None = None
    for full, oid in reversed(ordered):
        try:
            commit = read_commit(store, oid)
            if normal_time(commit.created_at) < floor or commit.tree in restored_trees:
                return None  # older than the head or a restore, or restored already: nothing to offer
        except CasstoreError:
            continue
        # The head's side (its whole manifest parsed, ~40 MiB at 100,000 files) is read only
        # once an autosave is worth offering: usually none is, and then it was never needed.
        if head_side is None and head_tree is not None:
            try:
                head_side = recovery_head_side(store, head_tree)
            except CasstoreError:
                head_tree = None
        try:
            return recovery_point(store, "autosave", full, oid, commit, head_side)
        except CasstoreError:
            continue
    return None


def tag_version(store: Store, project: str, name: str, rev: str) -> str:
    """Name a version (a tag); refuse a name already used. Return the tag's ref."""
    tag = check_component(re.sub(r"\s+", "-", name.strip()), "version name")
    commit = resolve(store, rev)
    full = f"{project}/tags/{tag}"
    current = store.refs.read(full)
    if current is not None:
        raise RefError(f"a version is already named {tag!r} (at {short(current)}); choose another name")
    from casstore.clock import utc_now_iso

    store.refs.compare_and_swap(full, None, commit, f"tags: create {tag} at {short(commit)}", utc_now_iso())
    return full


def list_projects(store: Store) -> list[str]:
    """Return the store's projects, sorted."""
    return sorted(store.refs.projects())


@dataclass(frozen=True)
class AssetImport:
    """A sampler asset brought into a working directory: its manifest entry and the autosave that keeps it."""

    asset_name: str
    relative_path: str
    sha256: str
    lufs_lu: float | None
    peak_dbfs: float | None
    autosave_ref: str | None


def import_sampler_asset(store: Store, index: SamplerManifestIndex, src: Path, workdir: Path) -> AssetImport:
    """Copy a sample into ``workdir``'s bundle through the sampler manifest's parity check, then autosave.

    The copy is refused (nothing written) unless its SHA-256 matches the sampler manifest;
    the bundle's manifest gets the entry with LUFS, peak and digest, written durably.
    """
    root = workdir.absolute()
    manifest_path = root / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{root}: no {MANIFEST_NAME}; open a project's working folder first") from None
    except ValueError as exc:
        raise UsageError(f"{manifest_path}: not valid JSON ({exc})") from None
    record = index.copy_asset(src, root, relative_to=root)
    entry = index.get(record.asset_name)
    peak = entry.peak_dbfs if entry is not None else None
    item = {
        "asset_name": record.asset_name,
        "relative_path": record.relative_path,
        "sha256": record.sha256,
        "lufs_lu": record.lufs_lu,
        "peak_dbfs": peak,
        "source_uri": record.source_uri,
    }
    assets = [a for a in manifest.get("sampler_assets") or [] if a.get("asset_name") != record.asset_name]
    manifest["sampler_assets"] = [*assets, item]
    write_durable(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    marker = read_marker(root)
    project = marker.project if marker is not None else str(manifest.get("project", {}).get("id") or "")
    saved = autosave(store, root, project or None, f"asset-{record.asset_name.rsplit('.', 1)[0]}"[:60])
    return AssetImport(record.asset_name, record.relative_path, record.sha256, record.lufs_lu, peak, saved.ref)
