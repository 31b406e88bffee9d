"""``casstore init``: create a store."""

from __future__ import annotations

from pathlib import Path

import click

from ..output import emit_json
from .common import command, store_path


@command("init", short_help="Create an empty store.")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.pass_context
def init_command(ctx: click.Context, path: Path | None, as_json: bool) -> None:
    """Create a store at PATH (default: --store, CASSTORE_DIR, or ./.casstore)."""
    from casstore import DEFAULTS, init_store

    store = init_store(path or Path(store_path(ctx) or DEFAULTS.store_dirname))
    if as_json:
        emit_json({"store": str(store.root), "format": "casstore", "version": 1})
    else:
        click.echo(f"Initialized empty casstore store in {store.root}")
