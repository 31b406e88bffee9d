"""``casstore refs``, ``casstore branch`` and ``casstore tag``: named revisions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..output import emit_json
from .common import REV_HELP, command, open_store

if TYPE_CHECKING:
    from casstore import RefRecord


def _record_json(record: RefRecord) -> dict[str, str]:
    return {
        "ref": record.name,
        "project": record.project,
        "namespace": record.namespace,
        "name": record.short_name,
        "commit": record.commit,
    }


class _OptionalNameCommand(click.Command):
    """``branch``/``tag``: both arguments are optional, and REV only comes after NAME."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [self.options_metavar or "[OPTIONS]", "[NAME [REV]]"]


@command("refs", short_help="List every ref with its commit.")
@click.option("--project", help="Only this project's refs.")
@click.pass_context
def refs_command(ctx: click.Context, project: str | None, as_json: bool) -> None:
    """List every ref: branches, tags, autosaves and checkpoints, with their commits."""
    from casstore import list_refs

    records = list_refs(open_store(ctx), project)
    if as_json:
        emit_json([_record_json(r) for r in records])
        return
    for record in records:
        click.echo(f"{record.commit}  {record.name}")


def _named_ref_command(name: str, namespace: str, noun: str, plural: str) -> click.Command:
    """Make ``branch`` or ``tag``: list, create, move or delete one kind of named ref."""

    @command(
        name,
        cls=_OptionalNameCommand,
        short_help=f"List, create, move or delete {plural}.",
        epilog=REV_HELP,
        help=(
            f"List {plural}, create {noun} NAME at REV, or delete it with -d.\n\n"
            f"NAME is NAME or PROJECT/NAME; the project is taken from REV's commit."
        ),
    )
    @click.argument("ref_name", metavar="NAME", required=False)
    @click.argument("rev", required=False)
    @click.option("-d", "--delete", is_flag=True, help=f"Delete the {noun}.")
    @click.option("-f", "--force", is_flag=True, help=f"Move an existing {noun}.")
    @click.option("--project", help=f"List only this project's {plural}.")
    @click.pass_context
    def named(
        ctx: click.Context,
        ref_name: str | None,
        rev: str | None,
        delete: bool,
        force: bool,
        project: str | None,
        as_json: bool,
    ) -> None:
        from casstore import create_ref, delete_ref, list_refs

        store = open_store(ctx)
        if ref_name is None:
            records = list_refs(store, project, namespace)
            if as_json:
                emit_json([_record_json(r) for r in records])
            for record in [] if as_json else records:
                click.echo(f"{record.commit[:12]}  {record.project}/{record.short_name}")
            return
        if delete:
            if rev is not None:
                raise click.UsageError(f"-d takes a {noun} name only")
            record = delete_ref(store, namespace, ref_name)
            verb = "Deleted"
        else:
            record = create_ref(store, namespace, ref_name, rev, force)
            verb = "Set"
        if as_json:
            emit_json({**_record_json(record), "deleted": delete})
        else:
            click.echo(
                f"{verb} {noun} {record.name} (was at {record.commit[:12]})"
                if delete
                else f"{verb} {noun} {record.name} at {record.commit[:12]}"
            )

    return named


branch_command = _named_ref_command("branch", "heads", "branch", "branches")
tag_command = _named_ref_command("tag", "tags", "tag", "tags")
