"""The library's public surface for front ends (the Kivy viewer): plain data in, plain data out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casstore.clock import parse_iso
from casstore.store import Store


def open_store(path: str | None) -> Store:
    """Locate a store (``path``, ``CASSTORE_DIR``, or ``.casstore`` upward)."""
    return Store.locate(path)


def default_project(store: Store) -> str | None:
    """Return the store's only (or first) project."""
    projects = store.refs.projects()
    return projects[0] if projects else None


def project_history(store: Store, project: str) -> list[dict[str, Any]]:
    """Every commit any ref of ``project`` reaches, newest first, as log records."""
    from casstore.inspect import commit_json, log_entries, refs_by_commit

    decorations = refs_by_commit(store)
    entries = log_entries(store, None, None, every_ref=True, project=project)
    return [commit_json(e.oid, e.commit, decorations.get(e.oid)) for e in entries]


def recovery_offer(store: Store, project: str) -> dict[str, Any] | None:
    """The newest autosave when it is newer than the project head (what the launch panel offers)."""
    from casstore.history import read_commit
    from casstore.recover import list_recovery_points

    autosaves = [p for p in list_recovery_points(store, project) if p.kind == "autosave"]
    if not autosaves:
        return None
    newest = autosaves[0]
    head = store.refs.read(f"{project}/heads/main")
    if head is not None and parse_iso(read_commit(store, head).created_at) > parse_iso(newest.created_at):
        return None
    return newest.as_json()


def last_import(store: Store, project: str) -> dict[str, Any] | None:
    """The newest import of ``project``: its commit, manifest digest, bundle and sampler asset names."""
    from casstore.history import read_commit, read_tree
    from casstore.manifest_view import read_tree_manifest

    for entry in project_history(store, project):
        if entry["kind"] != "import":
            continue
        commit = read_commit(store, entry["commit"])
        tree = read_tree(store, commit.tree)
        bundle = str(commit.extra.get("bundle") or commit.message.removeprefix("import "))
        assets = read_tree_manifest(store, tree).sampler_asset_names()
        return {
            "commit": entry["commit"],
            "manifest_sha256": tree.manifest or "",
            "bundle_root": bundle,
            "sampler_assets": assets,
        }
    return None


def revision_lines(store: Store, commit: str) -> list[tuple[str, bool]]:
    """A revision's manifest as display lines ``(text, is_heading)``."""
    from casstore.inspect import manifest_lines, show_revision

    view = show_revision(store, commit)
    return [(f"{view.commit.kind} {commit[:12]} — {view.commit.created_at}", True), *manifest_lines(view)]


def diff_records(store: Store, old: str, new: str) -> list[dict[str, Any]]:
    """Semantic diff records between revisions, bundle directories or zips."""
    from casstore.diff import diff_specs

    return [record.as_json() for record in diff_specs(store, old, new)]


def restore(store: Store, project: str, which: str, workdir: str) -> dict[str, Any]:
    """Restore an autosave or checkpoint into ``workdir``, checkpointing what it replaces."""
    from casstore.recover import restore as run_restore

    ref, result = run_restore(store, project, which, Path(workdir))
    return {"restored": ref, **result.as_json()}


def import_plan(sampler_manifest: str) -> tuple[dict[str, Any], Any]:
    """The import dialog's plan from a sampler manifest, and the loaded index."""
    from casstore.sampler import SamplerManifestIndex

    index = SamplerManifestIndex.load(Path(sampler_manifest))
    return index.build_import_plan().as_json(), index


def import_bundle(store: Store, bundle: str) -> dict[str, Any]:
    """Import a bundle directory or zip; return the import summary plus ``bundle_root``."""
    from casstore.importer import import_bundle as run_import

    summary = run_import(store, Path(bundle)).as_json()
    summary["bundle_root"] = str(Path(bundle).absolute())
    return summary


def autosave(store: Store, workdir: str, project: str | None) -> dict[str, Any]:
    """Autosave a working directory; the result carries the prompt line."""
    from casstore.autosave import autosave as run_autosave

    result = run_autosave(store, Path(workdir), project or None).as_json()
    stamp = (result["ref"] or "").rsplit("/", 1)[-1][:15]
    result["prompt"] = f"Autosaved {result['project']} at {stamp}"
    return result
