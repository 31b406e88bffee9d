"""Taking an autosave: snapshot a working directory, commit it under a new autosave ref, prune the ring.

The ring itself (names, order, the keep-newest rule, pruning) is casstore/history/autosaves.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from casstore.bundles.snapshot import snapshot_directory
from casstore.clock import format_iso, utc_now
from casstore.errors import HINT_PROJECT, UsageError
from casstore.history.autosaves import DEFAULT_KEEP, autosave_prompt, ordered_autosaves, prune_autosaves
from casstore.history.commits import new_commit, read_commit
from casstore.model.manifest_view import read_manifest_lenient
from casstore.model.paths import MANIFEST_NAME
from casstore.storage.refs import DEFAULT_BRANCH, check_component
from casstore.storage.store import Store
from casstore.workdir.statcache import load_dir_cache, save_dir_cache
from casstore.workdir.worktree import read_marker


@dataclass
class AutosaveResult:
    """What one autosave did."""

    project: str
    ref: str | None
    commit: str
    tree: str
    unchanged: bool
    manifest_sha256: str | None
    sampler_assets: list[str]
    mismatches: list[dict[str, str]]
    manifest_error: str | None
    pruned: list[str] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)
    new_objects: int = 0
    new_bytes: int = 0

    @property
    def stamp(self) -> str:
        """Return the autosave's ``YYYYMMDD-HHMMSS`` (UTC), read from its ref name."""
        return (self.ref or "").rsplit("/", 1)[-1][:15]

    @property
    def prompt(self) -> str:
        """Return the recovery prompt line for this autosave."""
        return autosave_prompt(self.project, self.stamp)

    def as_json(self) -> dict[str, Any]:
        """Return the result as a JSON object."""
        return {
            "project": self.project,
            "ref": self.ref,
            "commit": self.commit,
            "tree": self.tree,
            "unchanged": self.unchanged,
            "manifest_sha256": self.manifest_sha256,
            "sampler_assets": self.sampler_assets,
            "manifest_mismatches": self.mismatches,
            "manifest_error": self.manifest_error,
            "pruned": self.pruned,
            "retained": self.retained,
            "objects": {"new": self.new_objects},
            "bytes": {"new": self.new_bytes},
        }


def project_of_directory(root: Path, explicit: str | None) -> str:
    """Return the project a working directory belongs to: explicit, its checkout, or its manifest."""
    if explicit:
        return check_component(explicit, "project id")
    marker = read_marker(root)
    if marker is not None:
        return marker.project
    try:
        raw = (root / MANIFEST_NAME).read_bytes()
    except OSError:
        raw = None
    project = read_manifest_lenient(raw).project.get("id")
    if project is None:
        raise UsageError(f"{root}: cannot tell which project this is; name the project", hint=HINT_PROJECT)
    return check_component(str(project), "project id")


def default_mutation_id(tree_id: str) -> str:
    """Return the mutation id used when the caller gives none: the snapshot's short tree id."""
    return f"auto-{tree_id[:8]}"


def autosave(
    store: Store,
    root: Path,
    project: str | None = None,
    mutation_id: str | None = None,
    keep: int = DEFAULT_KEEP,
    now: datetime | None = None,
) -> AutosaveResult:
    """Snapshot ``root`` as it is, commit it as an autosave, and prune to the newest ``keep``.

    Never refuses a directory whose manifest disagrees with its files: the
    mismatches are recorded in the result instead, because a refused autosave
    loses work.
    """
    root = root.absolute()
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory to autosave")
    project_id = project_of_directory(root, project)
    if keep < 1:
        raise UsageError("the number of autosaves to keep must be at least 1")
    cached = load_dir_cache(store, root)
    before = ordered_autosaves(store, project_id)
    newest = before[-1] if before else None
    newest_tree = read_commit(store, newest[1]).tree if newest is not None else None
    snap = snapshot_directory(
        store,
        root,
        project_id,
        cached.files,
        cached.written_at_ns,
        cached.tree_for(project_id),
        lambda tree: tree == newest_tree,
        cached.check,
    )
    memo = snap.check.memo(snap.manifest_id)
    if not snap.unchanged or memo != cached.check:
        # Unless nothing was re-read, nothing came or went and the check is as cached: the cache says all of this.
        save_dir_cache(store, root, snap.files, snap.taken_at_ns, (project_id, snap.tree_id), memo)
    assets = snap.check.sampler_assets
    result = AutosaveResult(
        project_id,
        None,
        "",
        snap.tree_id,
        False,
        snap.manifest_id,
        assets,
        snap.check.mismatches,
        snap.check.error,
        new_objects=snap.new_objects,
        new_bytes=snap.new_bytes,
    )
    if newest is not None and newest_tree == snap.tree_id:
        result.unchanged, result.ref, result.commit = True, newest[0], newest[1]
        result.retained = [full for full, _oid in before]
        return result
    moment = now or utc_now(precise=True)
    when = format_iso(moment, precise=True)
    mutation = check_component(mutation_id or default_mutation_id(snap.tree_id), "mutation id")
    parent = newest[1] if newest else store.refs.read(f"{project_id}/heads/{DEFAULT_BRANCH}")
    parents = [parent] if parent else []
    commit = new_commit(
        snap.tree_id, parents, project_id, "autosave", f"autosave {mutation}", mutation, created_at=when
    )
    put = store.objects.put_bytes(commit.encode())
    store.objects.sync()
    result.new_objects += int(put.new)
    result.new_bytes += put.size if put.new else 0
    # Prune to keep-1 before adding, so a single writer never leaves more than `keep` refs.
    result.pruned = prune_autosaves(store, project_id, keep - 1, when, before)
    base = f"{moment.strftime('%Y%m%d-%H%M%S')}-{mutation}"
    result.ref = store.refs.create_unique(project_id, "autosave", base, commit.id, f"autosave: {mutation}", when)
    result.commit = commit.id
    after = ordered_autosaves(store, project_id)
    pruned_now = prune_autosaves(store, project_id, keep, when, after)
    result.pruned += pruned_now
    result.retained = [full for full, _oid in after if full not in pruned_now]
    return result
