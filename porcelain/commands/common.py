"""Options and helpers every command shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from casstore import DEFAULTS

if TYPE_CHECKING:
    from casstore import Store

# The pointer every command that takes a revision shows under its help.
REV_HELP = (
    "Revisions: a commit id or 6+ digit prefix, PROJECT, PROJECT/heads/B, PROJECT/tags/T, "
    "PROJECT/autosave/latest, each with optional ~N; see 'casstore help revisions'."
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


# The option of every command that records checkpoints (import, checkout, recover).
keep_checkpoints_option = click.option(
    "--keep-checkpoints",
    type=click.IntRange(min=1),
    default=DEFAULTS.keep_checkpoints,
    show_default=True,
    help="Checkpoints to keep.",
)


def store_path(ctx: click.Context) -> str | None:
    """Return the store named by ``--store`` / ``CASSTORE_DIR``, if any."""
    path: str | None = ctx.find_root().obj.get("store_path")
    return path


def open_store(ctx: click.Context) -> Store:
    """Locate the store named by ``--store`` / ``CASSTORE_DIR`` or found upward."""
    from casstore import open_store as locate

    return locate(store_path(ctx))


def command(name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """Make a command that always accepts ``--json``; ``cli.py`` adds it to the root group."""

    def decorate(func: Callable[..., Any]) -> click.Command:
        return click.command(name, **kwargs)(json_option(func))

    return decorate
