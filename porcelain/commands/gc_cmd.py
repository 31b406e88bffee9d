"""``casstore gc``: drop unreachable objects past the grace period and pack the rest."""

from __future__ import annotations

import click

from casstore import DEFAULTS

from ..output import emit_json, human_bytes
from .common import command, open_store


@command("gc", short_help="Drop old unreachable objects; pack the rest.")
@click.option(
    "--grace", default=DEFAULTS.gc_grace, show_default=True, help="Keep unreachable objects younger than this."
)
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.pass_context
def gc_command(ctx: click.Context, grace: str, dry_run: bool, as_json: bool) -> None:
    """Remove objects no ref or recent reflog entry reaches (older than --grace), then pack."""
    from casstore import gc_store, parse_duration

    report = gc_store(open_store(ctx), parse_duration(grace), dry_run)
    if as_json:
        emit_json(report.as_json())
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(report.removed)} unreachable objects ({human_bytes(report.removed_bytes)}); "
        f"kept {report.kept_young} unreachable objects younger than {grace}"
    )
    if report.reflog_expired:
        click.echo(f"{'would expire' if dry_run else 'expired'} {report.reflog_expired} reflog entries")
    if report.staging_removed:
        click.echo(
            f"removed {report.staging_removed} unfinished writes of interrupted commands "
            f"({human_bytes(report.staging_bytes)})"
        )
    if not dry_run:
        packed = f"packed {report.packed} objects"
        click.echo(f"{packed} into {report.pack}" if report.pack else f"{packed} (packs already up to date)")
