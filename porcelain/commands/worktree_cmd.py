"""``casstore checkout`` and ``casstore status``: working directories."""

from __future__ import annotations

from pathlib import Path

import click

from ..output import emit_json
from .common import REV_HELP, command, keep_checkpoints_option, open_store


@command("checkout", short_help="Make a directory hold a revision, keeping unsaved edits.", epilog=REV_HELP)
@click.argument("rev")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace unsaved changes, after recording a checkpoint of them.")
@keep_checkpoints_option
@click.pass_context
def checkout_command(
    ctx: click.Context, rev: str, directory: Path, force: bool, keep_checkpoints: int, as_json: bool
) -> None:
    """Make DIRECTORY hold exactly revision REV (creating, updating and deleting bundle files)."""
    from casstore import checkout, resolve_revision

    store = open_store(ctx)
    result = checkout(store, resolve_revision(store, rev), directory, force, keep_checkpoints=keep_checkpoints)
    if as_json:
        emit_json(result.as_json())
        return
    if result.checkpoint:
        click.echo(f"Saved what {directory} held as checkpoint {result.checkpoint}")
    click.echo(
        f"{directory} now holds {result.project} at {result.commit[:12]}: "
        f"{len(result.written)} written, {len(result.deleted)} deleted, {result.unchanged} unchanged"
    )


@command("status", short_help="Show what a working directory changed since its checkout.")
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@click.option("--verify", is_flag=True, help="Re-hash every file instead of trusting the stat cache.")
@click.pass_context
def status_command(ctx: click.Context, directory: Path, verify: bool, as_json: bool) -> None:
    """Show what in DIRECTORY differs from the revision it was checked out from."""
    from casstore import status

    report = status(open_store(ctx), directory, verify)
    if as_json:
        emit_json(report.as_json())
        return
    click.echo(f"{directory}: {report.project} at {report.commit[:12]}")
    for label, paths in (("modified", report.modified), ("added", report.added), ("deleted", report.deleted)):
        for path in paths:
            click.echo(f"  {label + ':':<10} {path}")
    for mismatch in report.manifest_mismatches:
        click.echo(f"  manifest:  {mismatch['entry']} {mismatch['path']}: {mismatch['problem']}")
    if report.manifest_error:
        click.echo(f"  manifest:  {report.manifest_error}")
    if report.clean:
        click.echo("  clean: the directory holds exactly this revision")
