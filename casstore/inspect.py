"""Read-side views of history for ``log`` and ``show``: typed records, no formatting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from casstore.history import LogEntry, read_commit, read_tree, walk_first_parent
from casstore.manifest_view import read_tree_manifest
from casstore.objects import Commit, Tree
from casstore.paths import MANIFEST_NAME
from casstore.refs import DEFAULT_BRANCH
from casstore.store import Store


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


def refs_by_commit(store: Store) -> dict[str, list[str]]:
    """Return ``{commit id: [ref names]}`` for decorating log output."""
    found: dict[str, list[str]] = {}
    for name, oid in store.refs.list().items():
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
