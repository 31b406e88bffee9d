"""``casstore import``: validate a bundle and commit it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from casstore import DEFAULTS

from ..output import Progress, emit_json, human_bytes
from .common import command, keep_checkpoints_option, open_store

if TYPE_CHECKING:
    from casstore import CrashReportResult, ImportResult

SHOWN_ASSETS = 8


def _first_names(names: list[str]) -> str:
    """The first few asset names: a 500-sample kit should not flood the terminal (--json has all)."""
    if not names:
        return "(none)"
    shown = ", ".join(names[:SHOWN_ASSETS])
    return shown if len(names) <= SHOWN_ASSETS else f"{shown} … and {len(names) - SHOWN_ASSETS} more (--json lists all)"


@command("import", short_help="Validate a bundle directory or zip, store and commit it.")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--project", help="Project id (default: the manifest's project.id).")
@click.option("--branch", default=DEFAULTS.branch, show_default=True, help="Branch to commit on.")
@click.option("-m", "--message", help="Commit message.")
@click.option("--into", type=click.Path(path_type=Path), help="Also lay the bundle out in this new directory.")
@click.option(
    "--sampler-manifest",
    type=click.Path(path_type=Path),
    help="Refuse sampler assets this canonical sampler manifest does not know (or knows differently); "
    "warn where its loudness is over 0.5 LU from the measured.",
)
@click.option(
    "--compact", is_flag=True, help="Store PCM WAV samples FLAC-compacted now instead of at the next gc (slower)."
)
@click.option(
    "--verify",
    is_flag=True,
    help="Read and hash every file, even those whose size, mtime, inode and ctime are unchanged since "
    "casstore last saw this directory (catches corruption that kept a file's stat).",
)
@keep_checkpoints_option
@click.pass_context
def import_command(
    ctx: click.Context,
    bundle: Path,
    project: str | None,
    branch: str,
    message: str | None,
    into: Path | None,
    keep_checkpoints: int,
    sampler_manifest: Path | None,
    compact: bool,
    verify: bool,
    as_json: bool,
) -> None:
    """Validate BUNDLE (a directory or .zip), store it and commit it on the project's branch."""
    from casstore import CrashReportResult, import_bundle

    store = open_store(ctx)
    store.objects.compact = compact
    progress = Progress("importing", not as_json)
    try:
        command = shlex.join(["casstore", *(arg for arg in sys.argv[1:] if arg != "--json")])
        result = import_bundle(
            store,
            bundle,
            project,
            branch,
            message,
            into=into,
            progress=progress,
            keep_checkpoints=keep_checkpoints,
            sampler_manifest=sampler_manifest,
            command=command,
            verify=verify,
        )
    finally:
        progress.finish()
    if as_json:
        emit_json(result.as_json())
    elif isinstance(result, CrashReportResult):
        _print_crash_report(result)
    else:
        _print_import(result, into)


def _print_crash_report(report: CrashReportResult) -> None:
    click.echo(
        f"Imported crash report of {report.project}: {len(report.refs)} refs added, "
        f"{report.new_objects} of {report.objects} objects new; see 'casstore recover {report.project}'"
    )


def _print_import(result: ImportResult, into: Path | None) -> None:
    if result.created_commit:
        click.echo(f"Imported {result.project} ({result.branch}) as commit {result.commit[:12]}")
    else:
        click.echo(f"{result.project} ({result.branch}) already holds this bundle at {result.commit[:12]}")
    counts = result.counts
    click.echo(f"  tree             {result.tree}")
    click.echo(f"  manifest sha256  {result.manifest_sha256}")
    click.echo(
        f"  contents         {counts['patterns']} patterns, {counts['mixer_snapshots']} mixer snapshots, "
        f"{counts['sampler_assets']} sampler assets, {counts['files']} other files"
    )
    click.echo(f"  sampler assets   {_first_names(result.sampler_assets)}")
    click.echo(
        f"  bytes            {human_bytes(result.bytes_total)} in bundle, "
        f"{human_bytes(result.bytes_new)} newly stored ({result.objects_new} new objects)"
    )
    if into is not None:
        click.echo(f"  working copy     {into}")
    if result.checkpoint:
        click.echo(f"  checkpoint       {result.checkpoint} (the previous head)")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
