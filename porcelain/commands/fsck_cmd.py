"""``casstore fsck``: prove that no byte in the store has rotted."""

from __future__ import annotations

import click

from ..output import Progress, emit_json, human_bytes
from .common import command, open_store

# The README's command table quotes this sentence; tests/test_readme.py keeps the two the same.
QUICK_HELP = (
    "Check packs by their BLAKE3 trailers instead of re-hashing every blob with SHA-256 "
    "(trees, commits and refs are still verified)."
)


@command("fsck", short_help="Re-hash and verify the whole store; exit 1 on damage.")
@click.option("--quick", is_flag=True, help=QUICK_HELP)
@click.option(
    "--remote",
    metavar="NAME",
    help="Check remote NAME in place instead (every pack's BLAKE3, every object's SHA-256, every ref).",
)
@click.pass_context
def fsck_command(ctx: click.Context, quick: bool, remote: str | None, as_json: bool) -> int:
    """Re-hash every object, parse every tree and commit, resolve every ref; exit 1 on problems."""
    from casstore import fsck_remote, fsck_store, open_remote

    store = open_store(ctx)
    progress = Progress("checking", not as_json, unit="packs" if remote is not None else "objects")
    try:
        if remote is not None:
            report = fsck_remote(open_remote(store, remote), progress)
        else:
            report = fsck_store(store, quick, progress)
    finally:
        progress.finish()
    if as_json:
        emit_json(report.as_json())
    else:
        hashed = "" if quick else f", {human_bytes(report.bytes)} re-hashed"
        click.echo(
            f"checked {_count(report.objects, 'object')}{hashed}, {_count(report.refs, 'ref')}, "
            f"{_count(report.commits, 'commit')}, {_count(report.trees, 'tree')}"
        )
        for finding in report.findings:
            label = "error" if finding.is_error else "notice"
            via = f" (reached from {finding.reached_from})" if finding.reached_from else ""
            click.echo(f"{label}: {finding.kind} {finding.subject}: {finding.detail}{via}")
        errors = sum(1 for f in report.findings if f.is_error)
        click.echo("fsck: OK" if report.ok else f"fsck: {errors} problem(s) found")
    return 0 if report.ok else 1


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
