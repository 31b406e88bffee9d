"""Autosaves: lightweight refs to snapshots of a working directory, pruned to the newest few.

Ref names are ``refs/<project>/autosave/<YYYYMMDD>-<HHMMSS>-<mutation_id>`` (UTC),
with ``.N`` appended to the mutation id when that name is taken within the same second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from casstore.clock import format_iso, utc_now
from casstore.defaults import AUTOSAVE_KEEP
from casstore.errors import HINT_PROJECT, CasstoreError, RefConflict, RefLocked, UsageError
from casstore.history import new_commit, read_commit
from casstore.manifest_view import read_manifest_lenient
from casstore.paths import MANIFEST_NAME
from casstore.refs import DEFAULT_BRANCH, check_component
from casstore.snapshot import snapshot_directory
from casstore.statcache import load_dir_cache, save_dir_cache
from casstore.store import Store
from casstore.worktree import read_marker

DEFAULT_KEEP = AUTOSAVE_KEEP
_NAME = re.compile(r"(?P<stamp>\d{8}-\d{6})-(?P<mutation>[A-Za-z0-9][A-Za-z0-9._-]*?)(?:\.(?P<seq>\d+))?")


@dataclass(frozen=True)
class AutosaveItem:
    """An autosave as the keep rule sees it: its ref name and its commit's time (to the millisecond)."""

    name: str
    created_at: str = ""


def autosave_sort_key(item: AutosaveItem | str) -> tuple[str, str, int, str]:
    """Order autosaves oldest first: by the name's second, the commit's exact time, collision number, name."""
    if isinstance(item, str):
        item = AutosaveItem(item)
    match = _NAME.fullmatch(item.name)
    if not match:
        return ("", item.created_at, 0, item.name)  # names casstore did not write sort oldest
    return (match.group("stamp"), item.created_at, int(match.group("seq") or 1), match.group("mutation"))


def select_pruned(items: list[AutosaveItem], keep: int) -> list[AutosaveItem]:
    """Return the autosaves to delete so that only the newest ``keep`` remain (the pure keep rule)."""
    ordered = sorted(items, key=autosave_sort_key)
    return ordered[: max(0, len(ordered) - max(keep, 0))]


_commit_times: dict[str, str] = {}  # commits never change, so their times can be remembered


def ordered_autosaves(store: Store, project: str) -> list[tuple[str, str]]:
    """Return ``(ref, commit)`` of the project's autosaves, oldest first."""
    refs = store.refs.list(project, "autosave")
    keyed = []
    for full, oid in refs.items():
        created = _commit_times.get(oid)
        if created is None:
            try:
                created = _commit_times[oid] = read_commit(store, oid).created_at
            except CasstoreError:
                created = ""  # a damaged autosave sorts by its name alone; fsck reports it
        keyed.append((autosave_sort_key(AutosaveItem(full.rsplit("/", 1)[1], normal_time(created))), full, oid))
    return [(full, oid) for _key, full, oid in sorted(keyed)]


def normal_time(created_at: str) -> str:
    """Make second-precision and millisecond-precision times compare in time order."""
    return created_at.replace("Z", ".000Z") if "." not in created_at else created_at


def newest_autosave(store: Store, project: str) -> tuple[str, str] | None:
    """Return ``(ref, commit)`` of the project's newest autosave, if any."""
    ordered = ordered_autosaves(store, project)
    return ordered[-1] if ordered else None


def prune_autosaves(
    store: Store, project: str, keep: int, when: str, ordered: list[tuple[str, str]] | None = None
) -> list[str]:
    """Delete all but the newest ``keep`` autosave refs; a ref another writer already moved is left alone."""
    if ordered is None:
        ordered = ordered_autosaves(store, project)
    pruned = []
    for full, oid in ordered[: max(0, len(ordered) - keep)]:
        try:
            store.refs.compare_and_swap(full, oid, None, "autosave: pruned", when)
        except (RefConflict, RefLocked):
            continue  # a concurrent autosave is pruning it
        pruned.append(full)
    return pruned


def autosave_prompt(project: str, stamp: str) -> str:
    """Return the recovery prompt line: ``Autosaved <project> at <YYYYMMDD-HHMMSS>``."""
    return f"Autosaved {project} at {stamp}"


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
    cache, cached_at = load_dir_cache(store, root)
    snap = snapshot_directory(store, root, project_id, cache, cached_at)
    save_dir_cache(store, root, snap.files, snap.taken_at_ns)
    assets = snap.check.sampler_assets
    before = ordered_autosaves(store, project_id)
    newest = before[-1] if before else None
    result = AutosaveResult(
        project_id,
        None,
        "",
        snap.tree.id,
        False,
        snap.tree.manifest,
        assets,
        snap.check.mismatches,
        snap.check.error,
        new_objects=snap.new_objects,
        new_bytes=snap.new_bytes,
    )
    if newest is not None and read_commit(store, newest[1]).tree == snap.tree.id:
        result.unchanged, result.ref, result.commit = True, newest[0], newest[1]
        result.retained = [full for full, _oid in before]
        return result
    moment = now or utc_now(precise=True)
    when = format_iso(moment, precise=True)
    mutation = check_component(mutation_id or default_mutation_id(snap.tree.id), "mutation id")
    parent = newest[1] if newest else store.refs.read(f"{project_id}/heads/{DEFAULT_BRANCH}")
    parents = [parent] if parent else []
    commit = new_commit(
        snap.tree.id, parents, project_id, "autosave", f"autosave {mutation}", mutation, created_at=when
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
