"""``casstore init``: create a store."""

from __future__ import annotations

from pathlib import Path

import click

from ..output import emit_json
from .common import command


def register(group: click.Group) -> None:
    """Add ``init`` to ``group``."""

    @command(group, "init", short_help="Create an empty store.")
    @click.argument("path", required=False, type=click.Path(path_type=Path))
    @click.pass_context
    def init(ctx: click.Context, path: Path | None, as_json: bool) -> None:
        """Create a store at PATH (default: --store, CASSTORE_DIR, or ./.casstore)."""
        from casstore.store import DEFAULT_DIRNAME, Store

        target = path or Path(ctx.find_root().obj.get("store_path") or DEFAULT_DIRNAME)
        store = Store.init(target)
        if as_json:
            emit_json({"store": str(store.root), "format": "casstore", "version": 1})
        else:
            click.echo(f"Initialized empty casstore store in {store.root}")
