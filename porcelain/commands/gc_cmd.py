"""``casstore gc``: drop unreachable objects past the grace period and pack the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from casstore import DEFAULTS

from ..output import emit_json, human_bytes
from .common import command, open_store

if TYPE_CHECKING:
    from casstore import GcReport


@command("gc", short_help="Drop old unreachable objects; pack the rest.")
@click.option(
    "--grace", default=DEFAULTS.gc_grace, show_default=True, help="Keep unreachable objects younger than this."
)
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option(
    "--no-compact", is_flag=True, help="Copy objects into the new pack as they are (no FLAC for PCM WAV samples)."
)
@click.pass_context
def gc_command(ctx: click.Context, grace: str, dry_run: bool, no_compact: bool, as_json: bool) -> None:
    """Remove objects no ref or recent reflog entry reaches (older than --grace), then pack.

    Objects written into the new pack that are integer PCM WAV samples are stored with
    lossless FLAC where that saves space (their ids and bytes never change).
    """
    from casstore import gc_store, parse_duration

    report = gc_store(open_store(ctx), parse_duration(grace), dry_run, compact=not no_compact)
    print_report(report, grace, as_json)


def print_report(report: GcReport, grace: str, as_json: bool) -> None:
    """Print what gc or repack did (or would do)."""
    dry_run = report.dry_run
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
    if report.compacted:
        click.echo(
            f"compacted {report.compacted} PCM WAV samples with FLAC (saved {human_bytes(report.compacted_saved)})"
        )
    if report.compaction_skipped:
        click.echo(f"notice: samples not compacted: {report.compaction_skipped}", err=True)
