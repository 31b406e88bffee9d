"""``casstore export``: write a revision back out as a bundle."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from ..output import Progress, emit_json, human_bytes
from .common import REV_HELP, command, open_store


@command("export", short_help="Write a revision as a bundle directory or zip.", epilog=REV_HELP)
@click.argument("rev")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--zip", "as_zip", is_flag=True, help="Write a .zip archive instead of a directory.")
@click.pass_context
def export_command(ctx: click.Context, rev: str, dest: Path, as_zip: bool, as_json: bool) -> None:
    """Write revision REV as a bundle at DEST (a new directory, or a zip with --zip)."""
    from casstore import export_revision, resolve_revision

    store = open_store(ctx)
    commit = resolve_revision(store, rev)
    progress = Progress("exporting", not as_json)
    try:
        result = export_revision(store, commit, dest, as_zip, progress)
    finally:
        progress.finish()
    if as_json:
        emit_json(asdict(result))
    else:
        kind = "zip" if as_zip else "directory"
        click.echo(
            f"Exported {rev} (commit {commit[:12]}) to {kind} {dest}: "
            f"{result.files} files, {human_bytes(result.bytes)}, every byte verified"
        )
