"""``casstore log`` and ``casstore show``: history and one revision."""

from __future__ import annotations

import click

from ..output import emit_json
from .common import REV_HELP, command, open_store


def register(group: click.Group) -> None:
    """Add ``log`` and ``show`` to ``group``."""

    @command(group, "log", short_help="Show history, newest first.", epilog=REV_HELP)
    @click.argument("rev", required=False)
    @click.option("-n", "--max-count", "limit", type=click.IntRange(min=1), help="Show at most N commits.")
    @click.option("--oneline", is_flag=True, help="One line per commit: id, date, kind, project, message.")
    @click.option("--all", "every_ref", is_flag=True, help="Follow every ref (branches, tags, autosaves, checkpoints).")
    @click.pass_context
    def log(
        ctx: click.Context, rev: str | None, limit: int | None, oneline: bool, every_ref: bool, as_json: bool
    ) -> None:
        """Show history newest first: of REV, of a PROJECT, or of every project's main branch."""
        from casstore.inspect import commit_json, log_entries, refs_by_commit
        from casstore.revisions import resolve

        store = open_store(ctx)
        project = None
        if rev and every_ref:
            project, rev = rev, None  # `log --all PROJECT`: every ref of one project
        start = resolve(store, rev) if rev else None
        entries = log_entries(store, start, limit, every_ref, project)
        decorations = refs_by_commit(store)
        if as_json:
            emit_json([commit_json(e.oid, e.commit, decorations.get(e.oid)) for e in entries])
            return
        if oneline:
            for entry in entries:
                commit = entry.commit
                refs = decorations.get(entry.oid)
                shown = f" ({', '.join(refs)})" if refs else ""
                mutation = f" [{commit.mutation_id}]" if commit.mutation_id else ""
                click.echo(
                    f"{entry.oid[:12]} {commit.created_at} {commit.kind:<10} {commit.project_id}"
                    f"{mutation} {commit.message.splitlines()[0] if commit.message else ''}{shown}"
                )
            return
        for index, entry in enumerate(entries):
            commit = entry.commit
            refs = decorations.get(entry.oid)
            if index:
                click.echo()
            click.echo(f"commit {entry.oid}" + (f" ({', '.join(refs)})" if refs else ""))
            click.echo(f"Project: {commit.project_id}")
            click.echo(f"Kind:    {commit.kind}" + (f" (mutation {commit.mutation_id})" if commit.mutation_id else ""))
            click.echo(f"Author:  {commit.author}")
            click.echo(f"Date:    {commit.created_at}")
            click.echo()
            for line in commit.message.splitlines() or [""]:
                click.echo(f"    {line}")

    @command(group, "show", short_help="Show one revision: its commit and its manifest.", epilog=REV_HELP)
    @click.argument("rev")
    @click.pass_context
    def show(ctx: click.Context, rev: str, as_json: bool) -> None:
        """Show one revision: its commit and its manifest."""
        from casstore.inspect import commit_json, manifest_lines, show_revision
        from casstore.loudness_report import revision_loudness
        from casstore.revisions import resolve

        store = open_store(ctx)
        view = show_revision(store, resolve(store, rev))
        loudness = {found.asset_name: found for found in revision_loudness(store, view.tree, view.manifest)}
        if as_json:
            emit_json(
                {
                    **commit_json(view.oid, view.commit),
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
