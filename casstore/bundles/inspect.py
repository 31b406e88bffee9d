"""Read-side views of history for ``log`` and ``show``: typed records, no formatting."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from casstore.bundles.loudness_report import SampleLoudness
from casstore.history.commits import LogEntry, read_commit, read_tree, walk_first_parent
from casstore.model.manifest_view import read_tree_manifest
from casstore.model.objects import Commit, Tree
from casstore.model.paths import MANIFEST_NAME
from casstore.storage.refs import DEFAULT_BRANCH, is_project_name
from casstore.storage.store import Store
from casstore.units import human_bytes


def commit_json(oid: str, commit: Commit, refs: list[str] | None = None) -> dict[str, Any]:
    """Return a commit as the JSON record ``log`` and ``show`` print."""
    return {
        "commit": oid,
        "project": commit.project_id,
        "kind": commit.kind,
        "tree": commit.tree,
        "parents": list(commit.parents),
        "message": commit.message,
        "author": commit.author,
        "created_at": commit.created_at,
        "mutation_id": commit.mutation_id,
        "refs": refs or [],
    }


def refs_by_commit(store: Store, projects: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Return ``{commit id: [ref names]}`` for decorating log output: every ref, or those of ``projects``.

    A log of one project decorates with that project's refs only, so ``log -n 1`` does not
    read every other project's refs (it cost O(projects) per call).
    """
    found: dict[str, list[str]] = {}
    wanted = None if projects is None else sorted(set(projects))
    if wanted is not None and not all(is_project_name(p) for p in wanted):
        wanted = None  # a commit naming no valid project (damaged, hand-made): decorate from every ref
    listings = [store.refs.list()] if wanted is None else [store.refs.list(p) for p in wanted]
    for listing in listings:
        for name, oid in listing.items():
            found.setdefault(oid, []).append(name)
    return found


def log_entries(
    store: Store, start: str | None, limit: int | None, every_ref: bool = False, project: str | None = None
) -> list[LogEntry]:
    """Return history newest first.

    With ``start``: its first-parent history. Otherwise the ``main`` history of
    every project (or of ``project``), merged by time; ``every_ref`` follows
    every branch, tag, autosave and checkpoint too.
    """
    if start is not None:
        return list(walk_first_parent(store, start, limit))
    heads = []
    for name, oid in store.refs.list(project).items():
        if every_ref or name.endswith(f"/heads/{DEFAULT_BRANCH}"):
            heads.append(oid)
    entries: dict[str, LogEntry] = {}
    generation: dict[str, int] = {}  # distance from the root: breaks ties between commits of one second
    for head in heads:
        chain: list[LogEntry] = []
        base = 0
        for entry in walk_first_parent(store, head, limit):
            if entry.oid in entries:
                base = generation[entry.oid]
                break
            chain.append(entry)
        for depth, entry in enumerate(reversed(chain), 1):
            entries[entry.oid] = entry
            generation[entry.oid] = base + depth
    ordered = sorted(entries.values(), key=lambda e: (e.commit.created_at, generation[e.oid]), reverse=True)
    return ordered[:limit] if limit is not None else ordered


@dataclass(frozen=True)
class RevisionView:
    """One revision: its commit, tree and the manifest as the tracker app wrote it.

    ``manifest`` is always a dict shaped like a manifest (``{}`` when the revision has none),
    so a viewer can show what it can; ``manifest_error`` says why it is empty or partial.
    """

    oid: str
    commit: Commit
    tree: Tree
    manifest: dict[str, Any]
    manifest_error: str | None = None


def show_revision(store: Store, oid: str) -> RevisionView:
    """Load a revision's commit, tree and manifest (an autosave may have none, or a broken one)."""
    commit = read_commit(store, oid)
    tree = read_tree(store, commit.tree)
    if tree.manifest is None:
        return RevisionView(oid, commit, tree, {}, f"this {commit.kind} has no {MANIFEST_NAME}")
    view = read_tree_manifest(store, tree)
    return RevisionView(oid, commit, tree, view.shown(), view.problem())


def _size(sizes: dict[str, int], path: object) -> int | None:
    return sizes.get(path) if isinstance(path, str) else None  # a damaged entry's path may be anything


def manifest_lines(view: RevisionView, loudness: Mapping[str, SampleLoudness] | None = None) -> list[tuple[str, bool]]:
    """A revision's manifest as the lines ``show`` and the viewer print: ``(text, is_heading)``.

    With ``loudness`` (measurements by asset name) each sampler asset shows its measured level
    beside the manifest's, and any QA finding; without it, the manifest's level only, so the
    viewer draws a revision without decoding its audio. A revision without a readable
    manifest shows its files.
    """
    tree = view.tree
    if not view.manifest:
        lines = [(f"Project {tree.project_id} — {view.manifest_error}", True), (f"Files ({len(tree.entries)})", True)]
        return lines + [(f"  {e.path}  {human_bytes(e.size)}  {e.sha256[:16]}", False) for e in tree.entries]
    manifest = view.manifest
    sizes = {entry.path: entry.size for entry in tree.entries}
    patterns = manifest.get("patterns", [])
    lines = [(text, False) for text in head_lines(manifest, tree.manifest)]
    lines[0] = (lines[0][0], True)
    lines.append((f"Patterns ({len(patterns)})", True))
    lines += [(pattern_line(pattern, _size(sizes, pattern.get("path"))), False) for pattern in patterns]
    snapshots = manifest.get("mixer_snapshots", [])
    lines.append((f"Mixer snapshots ({len(snapshots)})", True))
    lines += [(snapshot_line(snapshot), False) for snapshot in snapshots]
    assets = manifest.get("sampler_assets", [])
    lines.append((f"Sampler assets ({len(assets)})", True))
    for asset in assets:
        found = (loudness or {}).get(str(asset.get("asset_name")))
        lines.append((asset_line(asset, _size(sizes, asset.get("relative_path")), found), False))
        if found is not None and found.qa_finding:
            lines.append((f"      QA finding: {found.qa_finding}", False))
    others = tree.by_role("file")
    if others:
        lines.append((f"Other files ({len(others)})", True))
        lines += [(f"  {entry.path}  {human_bytes(entry.size)}", False) for entry in others]
    return lines


def head_lines(manifest: Mapping[str, Any], manifest_id: str | None) -> list[str]:
    """The project's three lines above the patterns (the first is a heading)."""
    project = manifest.get("project", {})
    return [
        f"Project {project.get('id')} — {project.get('name')}",
        f"  manifest {manifest.get('manifest_version')}  sha256 {manifest_id}",
        f"  bpm {project.get('bpm')}  swing {project.get('swing')}  updated {project.get('updated_at')}",
    ]


def pattern_line(pattern: Mapping[str, Any], size: int | None) -> str:
    """One pattern's line; ``size`` is its file's, None when the tree does not hold it."""
    # An empty file has no steps, whatever counts the manifest claims for it.
    steps = (
        "empty file (0 bytes), no steps"
        if size == 0
        else f"{pattern.get('length_steps')} steps, {pattern.get('step_count')} filled"
    )
    return f"  {pattern.get('pattern_id')!s:<20} {steps}  {pattern.get('path')}"


def snapshot_line(snapshot: Mapping[str, Any]) -> str:
    """One mixer snapshot's line."""
    return f"  {snapshot.get('name')!s:<20} {snapshot.get('snapshot_type')}  {snapshot.get('path')}"


def asset_line(asset: Mapping[str, Any], size: int | None, found: SampleLoudness | None = None) -> str:
    """One sampler asset's line: the manifest's level, and the measured one when ``found``."""
    name = str(asset.get("asset_name"))
    level = SampleLoudness(name, None, _number(asset.get("lufs_lu")), None).manifest_text()
    if found is not None:
        level = f"{found.measured_text()}, {found.manifest_text()}"
    return f"  {name:<28} {human_bytes(size or 0):>10}  {level}  {str(asset.get('sha256'))[:16]}"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
