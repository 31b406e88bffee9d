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
    "--grace",
    default=DEFAULTS.gc_grace,
    show_default=True,
    help=f"Keep unreachable objects younger than this (with --remote, default {DEFAULTS.remote_gc_grace}).",
)
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option(
    "--no-compact", is_flag=True, help="Copy objects into the new pack as they are (no FLAC for PCM WAV samples)."
)
@click.option(
    "--remote",
    metavar="NAME",
    help="Collect the packs on remote NAME instead: mark unreachable ones, delete those marked a grace ago.",
)
@click.pass_context
def gc_command(
    ctx: click.Context, grace: str, dry_run: bool, no_compact: bool, remote: str | None, as_json: bool
) -> None:
    """Remove objects no ref or recent reflog entry reaches (older than --grace), then pack.

    Objects written into the new pack that are integer PCM WAV samples are stored with
    lossless FLAC where that saves space (their ids and bytes never change).

    With --remote NAME: mark the remote's packs that nothing reaches and that are older
    than --grace, and delete those marked at least --grace ago that are still unreachable.
    """
    from casstore import gc_store, parse_duration

    if remote is not None:
        if ctx.get_parameter_source("grace") == click.core.ParameterSource.DEFAULT:
            grace = DEFAULTS.remote_gc_grace
        _gc_remote(ctx, remote, grace, dry_run, as_json)
        return
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
    if report.deltas:
        click.echo(
            f"stored {report.deltas} objects as deltas against their previous revision "
            f"(saved {human_bytes(report.deltas_saved)})"
        )
    if report.compaction_skipped:
        click.echo(f"notice: samples not compacted: {report.compaction_skipped}", err=True)


def _gc_remote(ctx: click.Context, name: str, grace: str, dry_run: bool, as_json: bool) -> None:
    from casstore import gc_remote, open_remote, parse_duration

    report = gc_remote(open_remote(open_store(ctx), name), parse_duration(grace), dry_run)
    if as_json:
        emit_json(report.as_json())
        return
    would = "would " if dry_run else ""
    click.echo(
        f"{report.url}: {report.packs} packs, {report.reachable_packs} reachable; "
        f"{would}mark {len(report.marked)}, {would}unmark {len(report.unmarked)}, "
        f"{would}delete {len(report.deleted)} ({human_bytes(report.deleted_bytes)})"
    )
    if report.waiting:
        click.echo(f"{len(report.waiting)} marked packs wait for their grace ({grace} after the mark)")
    if report.young:
        click.echo(f"{report.young} unreachable packs are younger than {grace}: not marked yet")
    if report.reflog_expired:
        click.echo(f"{would}expire {report.reflog_expired} reflog entries older than {grace}")
    if report.unfinished:
        click.echo(f"{report.unfinished} packs have no index (a push stopped before it): collected as unreachable")
