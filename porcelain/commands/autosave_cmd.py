"""``casstore autosave``, ``casstore recover``, ``casstore stress-autosave`` and ``casstore crash-report``."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from casstore import DEFAULTS

from ..output import emit_json, human_bytes
from .common import command, keep_checkpoints_option, open_store, store_path

if TYPE_CHECKING:
    from casstore import AutosaveResult


def _autosave_line(result: AutosaveResult) -> str:
    name = (result.ref or "").rsplit("/", 1)[-1]
    if result.unchanged:
        return f"{result.project}: unchanged since {name}; nothing written"
    line = f"{result.prompt} as {result.ref} ({result.commit[:12]})"
    if result.pruned:
        line += f"; pruned {len(result.pruned)}"
    if result.mismatches:
        line += f"; {len(result.mismatches)} manifest entries do not match their files"
    return line


@command("autosave", short_help="Record a working directory as an autosave; keep the newest.")
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@click.option("--project", help="Project id (default: the directory's checkout or manifest).")
@click.option("--mutation-id", help="The tracker's mutation id (default: auto-<short tree id>).")
@click.option(
    "--keep", type=click.IntRange(min=1), default=DEFAULTS.autosave_keep, show_default=True, help="Autosaves to keep."
)
@click.option("--watch", is_flag=True, help="Keep running; autosave when changes settle or every interval.")
@click.option(
    "--interval",
    type=float,
    default=DEFAULTS.watch_interval_seconds,
    show_default=True,
    help="With --watch: seconds between autosaves while changes go on.",
)
@click.option(
    "--debounce",
    type=float,
    default=DEFAULTS.watch_debounce_seconds,
    show_default=True,
    help="With --watch: seconds of quiet that end a burst of changes.",
)
@click.pass_context
def autosave_command(
    ctx: click.Context,
    directory: Path,
    project: str | None,
    mutation_id: str | None,
    keep: int,
    watch: bool,
    interval: float,
    debounce: float,
    as_json: bool,
) -> None:
    """Record DIRECTORY as it is as an autosave, keeping the newest --keep autosaves."""
    from casstore import Watcher, record_autosave

    store = open_store(ctx)
    if not watch:
        result = record_autosave(store, directory, project, mutation_id, keep)
        if as_json:
            emit_json(result.as_json())
        else:
            click.echo(_autosave_line(result))
        return
    stop = {"now": False}

    def request_stop(signum: int, frame: object) -> None:
        stop["now"] = True  # the autosave in flight finishes; its ref moves atomically or not at all

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def report(result: AutosaveResult) -> None:
        if as_json:
            click.echo(json.dumps(result.as_json(), separators=(",", ":")))
        elif not result.unchanged:
            click.echo(_autosave_line(result))

    Watcher(store, directory, project, keep, interval, debounce, report).run(lambda: stop["now"])


@command("recover", short_help="List autosaves and checkpoints, or restore one.")
@click.argument("project", required=False)
@click.option("--restore", "which", metavar="latest|NAME", help="Restore this autosave or checkpoint.")
@click.option("--into", type=click.Path(path_type=Path), help="With --restore: the directory to restore into.")
@keep_checkpoints_option
@click.pass_context
def recover_command(
    ctx: click.Context,
    project: str | None,
    which: str | None,
    into: Path | None,
    keep_checkpoints: int,
    as_json: bool,
) -> None:
    """List autosaves and checkpoints newest first, or restore one with --restore … --into DIR."""
    from casstore import list_recovery_points, restore

    store = open_store(ctx)
    if which is not None:
        if project is None or into is None:
            raise click.UsageError("--restore needs a PROJECT and --into DIR")
        ref, result = restore(store, project, which, into, keep_checkpoints)
        if as_json:
            emit_json({"restored": ref, **result.as_json()})
            return
        if result.checkpoint:
            click.echo(f"Saved what {into} held as checkpoint {result.checkpoint}")
        click.echo(f"Restored {ref} into {into}: {len(result.written)} written, {len(result.deleted)} deleted")
        click.echo(f"Kept what was restored as checkpoint {result.kept}")
        return
    points = list_recovery_points(store, project)
    if as_json:
        emit_json([p.as_json() for p in points])
        return
    if not points:
        click.echo("no autosaves or checkpoints" + (f" for {project}" if project else ""))
    for point in points:
        click.echo(point.prompt)
        click.echo(f"  ref       {point.ref}  ({point.commit[:12]})")
        click.echo(f"  manifest  {point.manifest_sha256 or '(none)'}")
        click.echo(f"  assets    {', '.join(point.sampler_assets) or '(none)'}")
        click.echo(f"  {point.summary}")


@command("stress-autosave", short_help="Run the autosave stress harness on a synthetic clock.")
@click.option("--project-id", required=True, help="Project id to autosave under.")
@click.option(
    "--autosave-dir",
    type=click.Path(path_type=Path),
    help="Store to run against (created if missing; default: the current store).",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=DEFAULTS.stress_iterations,
    show_default=True,
    help="Mutate-and-autosave rounds to run.",
)
@click.option(
    "--interval-seconds",
    type=float,
    default=DEFAULTS.stress_interval_seconds,
    show_default=True,
    help="Synthetic clock step.",
)
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Bundle manifest whose bundle is the working copy.",
)
@click.option(
    "--asset-count", type=click.IntRange(min=0), help="Sampler assets the working copy has (added if needed)."
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=DEFAULTS.autosave_keep,
    show_default=True,
    help="Autosaves to keep after each one.",
)
@click.pass_context
def stress_autosave_command(
    ctx: click.Context,
    project_id: str,
    autosave_dir: Path | None,
    iterations: int,
    interval_seconds: float,
    manifest: Path | None,
    asset_count: int | None,
    keep: int,
    as_json: bool,
) -> None:
    """The autosave stress harness: mutate, advance a synthetic clock, autosave; print a JSON summary."""
    from casstore import stress_autosave

    summary = stress_autosave(
        project_id,
        iterations,
        interval_seconds,
        manifest,
        asset_count,
        keep,
        store_dir=autosave_dir,
        store_path=store_path(ctx),
    )
    emit_json(summary.as_json())


@command("crash-report", short_help="Pack a project's autosaves and checkpoints into one zip.")
@click.argument("project")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The zip file to write.")
@click.pass_context
def crash_report_command(ctx: click.Context, project: str, out: Path, as_json: bool) -> None:
    """Pack PROJECT's autosaves and checkpoints, with every object they need, into one zip."""
    from casstore import write_crash_report

    result = write_crash_report(open_store(ctx), project, out)
    if as_json:
        emit_json(result.as_json())
    else:
        size = human_bytes(out.stat().st_size)
        click.echo(f"Wrote {out} ({size}): {len(result.refs)} autosaves/checkpoints, {result.objects} objects")
