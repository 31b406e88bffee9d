"""What front ends read: history, the recovery offer, the last import and a revision's lines, as typed records.

The command line and the viewer both call these (through ``casstore``'s re-exports), so a
project's history or its recovery offer reads the same in a terminal and in a window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casstore.clock import parse_iso
from casstore.defaults import BRANCH
from casstore.errors import StoreNotFound
from casstore.storage.store import Store

if TYPE_CHECKING:
    from casstore.diff.compare import SampleInfo
    from casstore.model.line_table import LineTable
    from casstore.model.objects import Commit
    from casstore.workdir.recover import RecoveryPoint


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    """Locate a store (``path``, ``CASSTORE_DIR``, or ``.casstore`` upward)."""
    return Store.locate(path)


def find_store(path: str | os.PathLike[str] | None = None) -> Store | None:
    """Locate a store like :func:`open_store`, or return None where there is none (diffing two bundles)."""
    try:
        return Store.locate(path)
    except StoreNotFound:
        return None


def init_store(path: str | os.PathLike[str]) -> Store:
    """Create an empty store at ``path``."""
    return Store.init(Path(path))


def default_project(store: Store) -> str | None:
    """Return the store's only (or first) project."""
    projects = store.refs.projects()
    return projects[0] if projects else None


@dataclass(frozen=True)
class HistoryEntry:
    """One commit of a history listing, with the refs that point at it."""

    oid: str
    commit: Commit
    refs: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """Return the commit's kind: save, import, autosave or checkpoint."""
        return self.commit.kind

    def as_json(self) -> dict[str, Any]:
        """Return the commit as the JSON record ``log`` and ``show`` print."""
        from casstore.bundles.inspect import commit_json

        return commit_json(self.oid, self.commit, list(self.refs) or None)


def revision_history(
    store: Store, rev: str | None = None, limit: int | None = None, every_ref: bool = False
) -> list[HistoryEntry]:
    """History newest first: of ``rev``, or of every project's main branch.

    With ``every_ref`` every branch, tag, autosave and checkpoint is followed too, and
    ``rev`` names the project to list (every ref of one project).
    """
    from casstore.bundles.inspect import log_entries, refs_by_commit
    from casstore.history.revisions import resolve

    project = None
    if rev and every_ref:
        project, rev = rev, None
    start = resolve(store, rev) if rev else None
    entries = log_entries(store, start, limit, every_ref, project)
    # Refs name commits of their own project: decorate from those projects' refs only.
    decorations = refs_by_commit(store, {e.commit.project_id for e in entries})
    return [HistoryEntry(e.oid, e.commit, tuple(decorations.get(e.oid, ()))) for e in entries]


def project_history(store: Store, project: str) -> list[HistoryEntry]:
    """Every commit any ref of ``project`` reaches, newest first."""
    return revision_history(store, project, every_ref=True)


def recovery_offer(store: Store, project: str) -> RecoveryPoint | None:
    """The newest autosave when it is newer than the project head (what the launch panel offers).

    Only that autosave is diffed against the head: listing every recovery point diffed each
    tree it holds, ~1 s apiece at 100,000 files, to show one (issue 17).
    """
    from casstore.history.autosaves import AutosaveItem, autosave_sort_key, normal_time
    from casstore.history.commits import read_commit
    from casstore.workdir.recover import head_side, recovery_point

    autosaves = [(full, oid, read_commit(store, oid)) for full, oid in store.refs.list(project, "autosave").items()]
    if not autosaves:
        return None
    # The listing's order (recover.list_recovery_points), newest first: its first autosave.
    full, oid, commit = max(
        autosaves, key=lambda a: autosave_sort_key(AutosaveItem(a[0].split("/")[2], normal_time(a[2].created_at)))
    )
    head = store.refs.read(f"{project}/heads/{BRANCH}")
    if head is not None and parse_iso(read_commit(store, head).created_at) > parse_iso(commit.created_at):
        return None
    base = head_side(store, project)
    try:
        return recovery_point(store, "autosave", full, oid, commit, base)
    finally:
        if base is not None:
            base.close()


@dataclass(frozen=True)
class LastImport:
    """The newest import of a project: its commit, manifest digest, bundle and sampler asset names."""

    commit: str
    manifest_sha256: str
    bundle_root: str
    sampler_assets: tuple[str, ...]


def last_import(store: Store, project: str) -> LastImport | None:
    """The newest import of ``project``, or None when it has none."""
    from casstore.model.manifest_stream import clean_sampler_assets
    from casstore.model.manifest_view import asset_names, read_sampler_asset_names
    from casstore.model.tree_table import read_object, read_tree_table

    newest = _newest_import(store, project)
    if newest is None:
        return None
    oid, commit = newest
    # Verified as read_tree does, without an object per entry: 100,000 files, ~30 MiB (issue 17).
    manifest = read_tree_table(store, commit.tree).manifest
    bundle = str(commit.extra.get("bundle") or commit.message.removeprefix("import "))
    # Streamed when the manifest reads cleanly: its bytes and text are never held whole.
    streamed = clean_sampler_assets(store, manifest) if manifest else None
    if streamed is not None:
        assets = asset_names(streamed)
    else:
        assets = read_sampler_asset_names(read_object(store, manifest) if manifest else None)
    return LastImport(oid, manifest or "", bundle, tuple(assets))


def _newest_import(store: Store, project: str) -> tuple[str, Commit] | None:
    """The newest import any ref of ``project`` reaches by first parents.

    Each ref's chain is walked only down to its first import (or to a commit another ref's
    walk passed), so opening the viewer does not read the whole history again.
    """
    from casstore.history.commits import walk_first_parent

    seen: set[str] = set()
    found: list[tuple[str, int, str, Commit]] = []
    for tip in sorted(set(store.refs.list(project).values())):
        for depth, entry in enumerate(walk_first_parent(store, tip)):
            if entry.oid in seen:
                break
            seen.add(entry.oid)
            if entry.commit.kind == "import":
                found.append((entry.commit.created_at, -depth, entry.oid, entry.commit))
                break
    if not found:
        return None
    _when, _depth, oid, commit = max(found, key=lambda item: item[:3])
    return oid, commit


def revision_lines(store: Store, commit: str) -> list[tuple[str, bool]]:
    """A revision's manifest as display lines ``(text, is_heading)``."""
    from casstore.bundles.inspect import manifest_lines, show_revision

    view = show_revision(store, commit)
    return [(f"{view.commit.kind} {commit[:12]} — {view.commit.created_at}", True), *manifest_lines(view)]


def revision_text(store: Store, commit: str) -> LineTable:
    """Return ``revision_lines(store, commit)`` held compactly (same lines, same errors; issue 17)."""
    from casstore.model.line_table import LineTable
    from casstore.workdir.revision_text import table_lines

    lines = table_lines(store, commit)
    return lines if lines is not None else LineTable(revision_lines(store, commit))


def version_details(store: Store, commit: str) -> tuple[LineTable, list[SampleInfo]]:
    """Return ``revision_text`` and ``version_samples`` of ``commit``, its tree read once (the viewer's version pane).

    Each read a 100,000-file tree on its own (~0.4 s each). A version whose tree cannot be
    read goes through the two as before, so it fails with the same error.
    """
    from casstore.diff.compare import version_samples
    from casstore.errors import CasstoreError
    from casstore.history.commits import read_commit
    from casstore.model.line_table import LineTable
    from casstore.model.tree_table import read_tree_table
    from casstore.workdir.revision_text import table_lines

    try:
        table = read_tree_table(store, read_commit(store, commit).tree)
    except CasstoreError:
        return revision_text(store, commit), version_samples(store, commit)
    lines = table_lines(store, commit, table)
    if lines is None:
        lines = LineTable(revision_lines(store, commit))
    return lines, version_samples(store, commit, table)
