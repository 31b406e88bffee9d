"""Checkpoints: a commit of what a working directory held, recorded before casstore replaces it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from casstore.bundles.snapshot import DirectorySnapshot, snapshot_directory
from casstore.clock import format_iso, utc_now
from casstore.defaults import KEEP_CHECKPOINTS
from casstore.errors import CasstoreError, RefConflict, RefLocked
from casstore.history.commits import new_commit, read_commit
from casstore.storage.store import Store

DEFAULT_KEEP_CHECKPOINTS = KEEP_CHECKPOINTS


@dataclass(frozen=True)
class Checkpoint:
    """A recorded checkpoint: its ref, commit and the snapshot it holds."""

    ref: str
    commit: str
    snapshot: DirectorySnapshot


def _stamp() -> str:
    return utc_now().strftime("%Y%m%d-%H%M%S")


def record_checkpoint(
    store: Store,
    root: Path,
    project_id: str,
    operation: str,
    parent: str | None,
    keep: int = DEFAULT_KEEP_CHECKPOINTS,
) -> Checkpoint:
    """Snapshot ``root`` as a checkpoint commit under ``refs/<project>/checkpoints/<stamp>-<operation>``."""
    snap = snapshot_directory(store, root, project_id)
    again = _identical_newest(store, project_id, operation, snap.tree.id, [parent] if parent else [])
    if again is not None:
        return Checkpoint(again[0], again[1], snap)
    commit = new_commit(
        snap.tree.id,
        [parent] if parent else [],
        project_id,
        "checkpoint",
        f"checkpoint before {operation} of {root}",
    )
    store.objects.put_bytes(commit.encode())
    store.objects.sync()
    full = _name_and_point(store, project_id, operation, commit.id, commit.created_at, keep)
    return Checkpoint(full, commit.id, snap)


def checkpoint_commit(
    store: Store,
    project_id: str,
    commit_id: str,
    operation: str,
    keep: int = DEFAULT_KEEP_CHECKPOINTS,
    message: str | None = None,
) -> str:
    """Record a checkpoint of a revision (e.g. the head an import moves); return its ref."""
    replaced = read_commit(store, commit_id)
    again = _identical_newest(store, project_id, operation, replaced.tree, [commit_id])
    if again is not None:
        return again[0]
    text = message or f"checkpoint before {operation}"
    commit = new_commit(replaced.tree, [commit_id], project_id, "checkpoint", text)
    store.objects.put_bytes(commit.encode())
    store.objects.sync()
    return _name_and_point(store, project_id, operation, commit.id, commit.created_at, keep)


def _identical_newest(
    store: Store, project_id: str, operation: str, tree: str, parents: list[str]
) -> tuple[str, str] | None:
    """Return the newest checkpoint (ref, commit) if it already holds this state, taken before the same operation.

    A command killed between its checkpoint and its own change is simply run again; the
    re-run must not add a second checkpoint of the same state beside the first.
    """
    refs = store.refs.list(project_id, "checkpoints")
    if not refs:
        return None
    newest = max(refs, key=checkpoint_order)
    stem = newest.rsplit("/", 1)[-1].split(".", 1)[0]
    if not stem.endswith(f"-{operation}"):
        return None
    try:
        commit = read_commit(store, refs[newest])
    except CasstoreError:
        return None  # a damaged checkpoint is never reused: record a fresh one
    if commit.tree == tree and list(commit.parents) == parents:
        return newest, refs[newest]
    return None


def _name_and_point(store: Store, project_id: str, operation: str, commit_id: str, when: str, keep: int) -> str:
    base = f"{_stamp()}-{operation}"
    full = store.refs.create_unique(project_id, "checkpoints", base, commit_id, f"checkpoint: before {operation}", when)
    prune_checkpoints(store, project_id, keep)
    return full


def checkpoint_order(name: str) -> tuple[str, int, str]:
    """Order checkpoint refs oldest first: by their second, then their number within it (``.2`` before ``.10``)."""
    leaf = name.rsplit("/", 1)[-1]
    stem, _, seq = leaf.rpartition(".")
    if not stem or not seq.isdigit():
        stem, seq = leaf, "1"
    return (stem[:15], int(seq), stem)


def prune_checkpoints(store: Store, project_id: str, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` checkpoint refs of a project (they stay in the reflog until gc)."""
    refs = store.refs.list(project_id, "checkpoints")
    ordered = sorted(refs, key=checkpoint_order)
    doomed = ordered[:-keep] if keep > 0 else ordered
    pruned = []
    for name in doomed:
        try:
            store.refs.compare_and_swap(name, refs[name], None, "checkpoint: pruned", format_iso(utc_now()))
        except (RefConflict, RefLocked):
            continue  # a concurrent command prunes (or just pruned) it: the next prune finishes the job
        pruned.append(name)
    return pruned
