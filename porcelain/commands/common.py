"""Options and helpers every command shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from casstore.store import Store

# The pointer every command that takes a revision shows under its help.
REV_HELP = (
    "Revisions: a commit id or 6+ digit prefix, PROJECT, PROJECT/heads/B, PROJECT/tags/T, "
    "PROJECT/autosave/latest, each with optional ~N; see 'casstore help revisions'."
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


def open_store(ctx: click.Context) -> Store:
    """Locate the store named by ``--store`` / ``CASSTORE_DIR`` or found upward."""
    from casstore.store import Store

    return Store.locate(ctx.find_root().obj.get("store_path"))


def command(group: click.Group, name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """Register a command that always accepts ``--json``."""

    def decorate(func: Callable[..., Any]) -> click.Command:
        return group.command(name, **kwargs)(json_option(func))

    return decorate
