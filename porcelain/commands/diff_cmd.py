"""``casstore diff``: what changed between two revisions, bundle directories or zips."""

from __future__ import annotations

from typing import Any

import click

from ..output import emit_json
from .common import REV_HELP, command

SECTION_TITLES = {
    "project": "Project",
    "manifest": "Manifest",
    "pattern": "Patterns",
    "mixer": "Mixer snapshots",
    "sample": "Samples",
    "file": "Other files",
}


def register(group: click.Group) -> None:
    """Add ``diff`` to ``group``."""

    @command(group, "diff", short_help="Show what changed between revisions, bundles or zips.", epilog=REV_HELP)
    @click.argument("old")
    @click.argument("new")
    @click.option("--stat", is_flag=True, help="One line per changed file with its count of changes, then the total.")
    @click.option("--exit-code", is_flag=True, help="Exit 1 when there are differences.")
    @click.pass_context
    def diff(ctx: click.Context, old: str, new: str, stat: bool, exit_code: bool, as_json: bool) -> int:
        """Show what changed from OLD to NEW (each a revision, a bundle directory or a .zip)."""
        from casstore.diff import diff_specs, headline, stat_lines
        from casstore.diff import stat as stat_of
        from casstore.diff_text import value_text
        from casstore.errors import StoreNotFound
        from casstore.loudness_report import LoudnessChange
        from casstore.store import Store

        try:
            store = Store.locate(ctx.find_root().obj.get("store_path"))
        except StoreNotFound:
            store = None  # two bundle paths need no store
        records = diff_specs(store, old, new)
        if as_json:
            document: dict[str, Any] = {"old": old, "new": new, "records": [r.as_json() for r in records]}
            if stat:
                lines = stat_of(records)
                document["stat"] = {
                    "files": [line.as_json() for line in lines],
                    "files_changed": len(lines),
                    "changes": sum(line.changes for line in lines),
                }
            emit_json(document)
        elif stat:
            for line in stat_lines(records):
                click.echo(line)
        else:
            current = None
            for record in records:
                if record.section != current:
                    current = record.section
                    click.echo(SECTION_TITLES[current])
                click.echo(f"  {headline(record)}")
                if record.change in ("added", "removed"):
                    added = record.change == "added"
                    summary = ", ".join(
                        c.fact(added)  # a loudness value says manifest or measured, with units
                        if isinstance(c, LoudnessChange)
                        else f"{c.field} {value_text(c.field, c.new if added else c.old)}"
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
