"""``casstore diff``: what changed between two revisions, bundle directories or zips."""

from __future__ import annotations

from typing import Any

import click

from ..output import emit_json
from .common import REV_HELP, command, store_path

SECTION_TITLES = {
    "project": "Project",
    "manifest": "Manifest",
    "pattern": "Patterns",
    "mixer": "Mixer snapshots",
    "sample": "Samples",
    "file": "Other files",
}


@command("diff", short_help="Show what changed between revisions, bundles or zips.", epilog=REV_HELP)
@click.argument("old")
@click.argument("new")
@click.option("--stat", is_flag=True, help="One line per changed file with its count of changes, then the total.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are differences.")
@click.pass_context
def diff_command(ctx: click.Context, old: str, new: str, stat: bool, exit_code: bool, as_json: bool) -> int:
    """Show what changed from OLD to NEW (each a revision, a bundle directory or a .zip)."""
    from casstore import (
        LoudnessChange,
        diff_headline,
        diff_revisions,
        diff_stat,
        diff_stat_lines,
        diff_value_text,
        find_store,
    )

    records = diff_revisions(find_store(store_path(ctx)), old, new)  # two bundle paths need no store
    if as_json:
        document: dict[str, Any] = {"old": old, "new": new, "records": [r.as_json() for r in records]}
        if stat:
            lines = diff_stat(records)
            document["stat"] = {
                "files": [line.as_json() for line in lines],
                "files_changed": len(lines),
                "changes": sum(line.changes for line in lines),
            }
        emit_json(document)
    elif stat:
        for line in diff_stat_lines(records):
            click.echo(line)
    else:
        current = None
        for record in records:
            if record.section != current:
                current = record.section
                click.echo(SECTION_TITLES[current])
            click.echo(f"  {diff_headline(record)}")
            if record.change in ("added", "removed"):
                added = record.change == "added"
                summary = ", ".join(
                    c.fact(added)  # a loudness value says manifest or measured, with units
                    if isinstance(c, LoudnessChange)
                    else f"{c.field} {diff_value_text(c.field, c.new if added else c.old)}"
                    for c in record.changes
                    if c.field != "sha256"
                )
                click.echo(f"      {summary}")
            else:
                for line in record.lines():
                    click.echo(f"      {line}")
        if not records:
            click.echo("no differences")
    return 1 if exit_code and records else 0
