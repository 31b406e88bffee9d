"""``casstore handoff``: the QA hand-off README for one revision."""

from __future__ import annotations

from pathlib import Path

import click

from ..output import emit_json
from .common import REV_HELP, command, open_store


def register(group: click.Group) -> None:
    """Add ``handoff`` to ``group``."""

    @command(group, "handoff", short_help="Write the QA hand-off pack for a revision.", epilog=REV_HELP)
    @click.argument("rev")
    @click.option("--out", type=click.Path(path_type=Path), help="Write the Markdown here instead of stdout.")
    @click.option(
        "--stress-summary",
        type=click.Path(path_type=Path),
        help="A saved stress-autosave JSON summary (default: run the harness).",
    )
    @click.pass_context
    def handoff(ctx: click.Context, rev: str, out: Path | None, stress_summary: Path | None, as_json: bool) -> None:
        """Write the QA hand-off pack for REV: commands, stress figures, LUFS/peak/SHA table, checklist."""
        from casstore.atomic import write_durable
        from casstore.handoff import build_handoff, load_stress_summary, render_markdown
        from casstore.revisions import resolve

        store = open_store(ctx)
        summary = load_stress_summary(stress_summary) if stress_summary else None
        pack = build_handoff(store, resolve(store, rev), rev, summary)
        text = render_markdown(pack)
        if out is not None:
            # --out always means the Markdown file, with or without --json.
            write_durable(out.absolute(), text.encode())
        if as_json:
            emit_json({**pack.as_json(), "out": str(out) if out is not None else None})
        elif out is None:
            click.echo(text, nl=False)
        else:
            click.echo(f"Wrote the hand-off for {pack.project} ({pack.commit[:12]}) to {out}")
