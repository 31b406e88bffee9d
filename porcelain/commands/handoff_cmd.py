"""``casstore handoff``: the QA hand-off README for one revision."""

from __future__ import annotations

from pathlib import Path

import click

from ..output import emit_json
from .common import REV_HELP, command, open_store


@command("handoff", short_help="Write the QA hand-off pack for a revision.", epilog=REV_HELP)
@click.argument("rev")
@click.option("--out", type=click.Path(path_type=Path), help="Write the Markdown here instead of stdout.")
@click.option(
    "--stress-summary",
    type=click.Path(path_type=Path),
    help="A saved stress-autosave JSON summary (default: run the harness).",
)
@click.pass_context
def handoff_command(ctx: click.Context, rev: str, out: Path | None, stress_summary: Path | None, as_json: bool) -> None:
    """Write the QA hand-off pack for REV: commands, stress figures, LUFS/peak/SHA table, checklist."""
    from casstore import qa_handoff

    # --out always means the Markdown file, with or without --json.
    result = qa_handoff(open_store(ctx), rev, stress_summary, out)
    if as_json:
        emit_json(result.as_json())
    elif out is None:
        click.echo(result.markdown, nl=False)
    else:
        click.echo(f"Wrote the hand-off for {result.pack.project} ({result.pack.commit[:12]}) to {out}")
