"""``casstore log`` and ``casstore show``: history and one revision."""

from __future__ import annotations

import click

from ..output import emit_json
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
    from casstore import HistoryEntry, manifest_lines, resolve_revision, revision_loudness, show_revision

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
    click.echo(f"commit {view.oid}")
    click.echo(f"Kind:    {view.commit.kind}    Date: {view.commit.created_at}    Author: {view.commit.author}")
    click.echo(f"Message: {view.commit.message}")
    click.echo()
    if view.manifest and view.manifest_error:
        click.echo(f"warning: {view.manifest_error}", err=True)
    for text, _heading in manifest_lines(view, loudness):
        click.echo(text)
