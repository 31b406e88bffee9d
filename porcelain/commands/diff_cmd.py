"""``casstore diff``: what changed between two revisions, bundle directories or zips."""

from __future__ import annotations

from typing import Any

import click

from porcelain.commands.common import REV_HELP, command
from porcelain.output import emit_json, human_bytes

SECTION_TITLES = {
    "project": "Project",
    "pattern": "Patterns",
    "mixer": "Mixer snapshots",
    "sample": "Samples",
    "file": "Other files",
}


def _value(field: str, value: Any) -> str:
    if value is None:
        return "(none)"
    if field == "sha256" and isinstance(value, str):
        return value[:16]
    if field == "size" and isinstance(value, int):
        return human_bytes(value) if value >= 1024 else f"{value} B"
    if field == "duration_s":
        return f"{value:.3f} s"
    if isinstance(value, dict | list):
        text = repr(value)
        return text if len(text) < 60 else text[:57] + "..."
    return str(value)


def _headline(record: Any) -> str:
    noun = {"project": "", "pattern": "pattern ", "mixer": "mixer ", "sample": "sample ", "file": "file "}[
        record.section
    ]
    subject = f"{noun}{record.subject!s}" if record.section != "project" else "project fields"
    if record.change == "renamed":
        same = "same content" if not any(c.field == "sha256" for c in record.changes) else "changed"
        return f"{subject}: renamed {record.old_path} → {record.path} ({same})"
    where = record.path or record.old_path
    if record.section == "file" or record.section == "project":
        return f"{subject}: {record.change}" if record.section == "file" else subject
    return f"{subject} ({where}): {record.change}"


def register(group: click.Group) -> None:
    """Add ``diff`` to ``group``."""

    @command(group, "diff", short_help="Show what changed between revisions, bundles or zips.", epilog=REV_HELP)
    @click.argument("old")
    @click.argument("new")
    @click.option("--stat", is_flag=True, help="One line per changed file with a count of changes.")
    @click.option("--exit-code", is_flag=True, help="Exit 1 when there are differences.")
    @click.pass_context
    def diff(ctx: click.Context, old: str, new: str, stat: bool, exit_code: bool, as_json: bool) -> int:
        """Show what changed from OLD to NEW (each a revision, a bundle directory or a .zip)."""
        from casstore.diff import diff_specs, stat_lines
        from casstore.errors import StoreNotFound
        from casstore.store import Store

        try:
            store = Store.locate(ctx.find_root().obj.get("store_path"))
        except StoreNotFound:
            store = None  # two bundle paths need no store
        records = diff_specs(store, old, new)
        if as_json:
            emit_json({"old": old, "new": new, "records": [r.as_json() for r in records]})
        elif stat:
            for line in stat_lines(records):
                click.echo(line)
            click.echo(f"{len(records)} change(s)")
        else:
            current = None
            for record in records:
                if record.section != current:
                    current = record.section
                    click.echo(SECTION_TITLES[current])
                click.echo(f"  {_headline(record)}")
                show = record.change in ("modified", "renamed")
                for change in record.changes if show else record.changes[:0]:
                    click.echo(
                        f"      {change.field}: {_value(change.field, change.old)} → {_value(change.field, change.new)}"
                    )
                if record.change == "added" or record.change == "removed":
                    facts = {c.field: (c.new if record.change == "added" else c.old) for c in record.changes}
                    summary = ", ".join(f"{k} {_value(k, v)}" for k, v in facts.items() if k != "sha256")
                    click.echo(f"      {summary}")
            if not records:
                click.echo("no differences")
        return 1 if exit_code and records else 0
