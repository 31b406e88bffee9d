"""``casstore bundle build``: make a bundle from loose files (the tracker note's export service)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from ..output import emit_json, human_bytes
from .common import json_option


@click.group("bundle")
def bundle_command() -> None:
    """Make bundles from loose files."""


@bundle_command.command("build", short_help="Build a bundle from loose files, with its manifest.")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--project-file", type=click.Path(path_type=Path), required=True, help="The project JSON (id, name, bpm…)."
)
@click.option(
    "--pattern", "patterns", type=click.Path(path_type=Path), multiple=True, help="A pattern JSON file (repeat)."
)
@click.option(
    "--mixer-snapshot",
    "mixer_snapshots",
    multiple=True,
    metavar="NAME=PATH[,TYPE]",
    help="A mixer snapshot (repeat).",
)
@click.option("--asset", "assets", multiple=True, metavar="NAME=PATH", help="A sampler asset (repeat).")
@click.option(
    "--sampler-manifest",
    type=click.Path(path_type=Path),
    help="Enforce parity with this sampler manifest and take LUFS from it.",
)
@json_option
def build(
    dest: Path,
    project_file: Path,
    patterns: tuple[Path, ...],
    mixer_snapshots: tuple[str, ...],
    assets: tuple[str, ...],
    sampler_manifest: Path | None,
    as_json: bool,
) -> None:
    """Write a bundle at DEST: patterns/, mixer/, assets/, project.json and a canonical manifest."""
    from casstore import AssetSpec, MixerSpec, build_bundle

    command = shlex.join(["casstore", *(arg for arg in sys.argv[1:] if arg != "--json")])
    result = build_bundle(
        dest,
        project_file,
        list(patterns),
        [MixerSpec.parse(text) for text in mixer_snapshots],
        [AssetSpec.parse(text) for text in assets],
        sampler_manifest,
        command,
    )
    summary = result.summary
    if as_json:
        emit_json(summary)
        return
    counts = summary["counts"]
    click.echo(f"Built {summary['project']} at {dest}")
    click.echo(f"  manifest sha256  {summary['manifest_sha256']}")
    click.echo(
        f"  contents         {counts['patterns']} patterns, {counts['mixer_snapshots']} mixer snapshots, "
        f"{counts['sampler_assets']} sampler assets ({human_bytes(summary['bytes']['total'])})"
    )
    click.echo(f"  sampler assets   {', '.join(summary['sampler_assets']) or '(none)'}")
