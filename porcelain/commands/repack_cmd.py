"""``casstore repack``: rewrite every pack into one, FLAC-compacting samples (git's ``gc --aggressive``)."""

from __future__ import annotations

import click

from casstore import DEFAULTS

from .common import command, open_store
from .gc_cmd import print_report


@command("repack", short_help="Rewrite all packs into one, PCM WAV samples FLAC-compacted.")
@click.option(
    "--grace", default=DEFAULTS.gc_grace, show_default=True, help="Keep unreachable objects younger than this."
)
@click.pass_context
def repack_command(ctx: click.Context, grace: str, as_json: bool) -> None:
    """Do what gc does, and rewrite the packs even when they are up to date.

    Every integer PCM WAV (16/24-bit, 1-8 channels) not yet compacted is stored as its
    header and chunks verbatim plus its samples in lossless FLAC, where that saves space;
    each is decoded and checked against its SHA-256 before the new pack is published.
    """
    from casstore import gc_store, parse_duration

    report = gc_store(open_store(ctx), parse_duration(grace), repack=True)
    print_report(report, grace, as_json)
