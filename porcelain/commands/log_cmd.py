"""``casstore log`` and ``casstore show``: history and one revision."""

from __future__ import annotations

import click

from ..output import emit_json, human_bytes
from .common import REV_HELP, command, open_store


@command("log", short_help="Show history, newest first.", epilog=REV_HELP)
@click.argument("rev", required=False)
@click.option("-n", "--max-count", "limit", type=click.IntRange(min=1), help="Show at most N commits.")
@click.option("--oneline", is_flag=True, help="One line per commit: id, date, kind, project, message.")
@click.option("--all", "every_ref", is_flag=True, help="Follow every ref (branches, tags, autosaves, checkpoints).")
@click.pass_context
def log_command(
    ctx: click.Context, rev: str | None, limit: int | None, oneline: bool, every_ref: bool, as_json: bool
) -> None:
    """Show history newest first: of REV, of a PROJECT, or of every project's main branch."""
    from casstore import revision_history

    entries = revision_history(open_store(ctx), rev, limit, every_ref)  # with --all, REV names a project
    if as_json:
        emit_json([entry.as_json() for entry in entries])
        return
    if oneline:
        for entry in entries:
            commit = entry.commit
            shown = f" ({', '.join(entry.refs)})" if entry.refs else ""
            mutation = f" [{commit.mutation_id}]" if commit.mutation_id else ""
            click.echo(
                f"{entry.oid[:12]} {commit.created_at} {commit.kind:<10} {commit.project_id}"
                f"{mutation} {commit.message.splitlines()[0] if commit.message else ''}{shown}"
            )
        return
    for index, entry in enumerate(entries):
        commit = entry.commit
        if index:
            click.echo()
        click.echo(f"commit {entry.oid}" + (f" ({', '.join(entry.refs)})" if entry.refs else ""))
        click.echo(f"Project: {commit.project_id}")
        click.echo(f"Kind:    {commit.kind}" + (f" (mutation {commit.mutation_id})" if commit.mutation_id else ""))
        click.echo(f"Author:  {commit.author}")
        click.echo(f"Date:    {commit.created_at}")
        click.echo()
        for line in commit.message.splitlines() or [""]:
            click.echo(f"    {line}")


@command("show", short_help="Show one revision: its commit and its manifest.", epilog=REV_HELP)
@click.argument("rev")
@click.pass_context
def show_command(ctx: click.Context, rev: str, as_json: bool) -> None:
    """Show one revision: its commit and its manifest."""
    from casstore import HistoryEntry, resolve_revision, revision_loudness, show_revision

    store = open_store(ctx)
    view = show_revision(store, resolve_revision(store, rev))
    loudness = {found.asset_name: found for found in revision_loudness(store, view.tree, view.manifest)}
    if as_json:
        emit_json(
            {
                **HistoryEntry(view.oid, view.commit).as_json(),
                "manifest_sha256": view.tree.manifest,
                "entries": [entry.as_json() for entry in view.tree.entries],
                "manifest": view.manifest if view.manifest or not view.manifest_error else None,
                "manifest_error": view.manifest_error,
                "sampler_loudness": [found.as_json() for found in loudness.values()],
            }
        )
        return
    manifest = view.manifest
    project = manifest.get("project", {})
    click.echo(f"commit {view.oid}")
    click.echo(f"Kind:    {view.commit.kind}    Date: {view.commit.created_at}    Author: {view.commit.author}")
    click.echo(f"Message: {view.commit.message}")
    click.echo()
    if not view.manifest:
        # An autosave of a directory without a (readable) manifest: its files are all there is.
        click.echo(f"Project {view.tree.project_id} — {view.manifest_error}")
        click.echo(f"Files ({len(view.tree.entries)})")
        for entry in view.tree.entries:
            click.echo(f"  {entry.path}  {human_bytes(entry.size)}  {entry.sha256[:16]}")
        return
    if view.manifest_error:
        click.echo(f"warning: {view.manifest_error}", err=True)
    click.echo(f"Project {project.get('id')} — {project.get('name')}")
    click.echo(f"  manifest {manifest.get('manifest_version')}  sha256 {view.tree.manifest}")
    click.echo(f"  bpm {project.get('bpm')}  swing {project.get('swing')}  updated {project.get('updated_at')}")
    sizes = {entry.path: entry.size for entry in view.tree.entries}
    click.echo(f"Patterns ({len(manifest.get('patterns', []))})")
    for pattern in manifest.get("patterns", []):
        # An empty file has no steps, whatever counts the manifest claims for it.
        steps = (
            "empty file (0 bytes), no steps"
            if sizes.get(pattern.get("path")) == 0
            else f"{pattern.get('length_steps')} steps, {pattern.get('step_count')} filled"
        )
        click.echo(f"  {pattern.get('pattern_id'):<20} {steps}  {pattern.get('path')}")
    click.echo(f"Mixer snapshots ({len(manifest.get('mixer_snapshots', []))})")
    for snapshot in manifest.get("mixer_snapshots", []):
        click.echo(f"  {snapshot.get('name'):<20} {snapshot.get('snapshot_type')}  {snapshot.get('path')}")
    click.echo(f"Sampler assets ({len(manifest.get('sampler_assets', []))})")
    for asset in manifest.get("sampler_assets", []):
        found = loudness[str(asset.get("asset_name"))]
        click.echo(
            f"  {asset.get('asset_name'):<28} {human_bytes(sizes.get(asset.get('relative_path'), 0)):>10}  "
            f"{found.measured_text()}, {found.manifest_text()}  {str(asset.get('sha256'))[:16]}"
        )
        if found.qa_finding:
            click.echo(f"      QA finding: {found.qa_finding}")
    others = view.tree.by_role("file")
    if others:
        click.echo(f"Other files ({len(others)})")
        for entry in others:
            click.echo(f"  {entry.path}  {human_bytes(entry.size)}")
