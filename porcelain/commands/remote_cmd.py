"""``casstore remote``, ``push``, ``fetch``, ``pull``, ``clone``, ``ls-remote``: history through S3 storage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..output import Progress, emit_json, human_bytes
from .common import command, json_option, open_store

if TYPE_CHECKING:
    from casstore import RefUpdate

_CREDENTIALS = "Credentials come from the standard AWS environment (AWS_ACCESS_KEY_ID, …); they are never stored."


@click.group("remote", short_help="Add, list or remove S3-compatible remotes.")
def remote_command() -> None:
    """Name S3-compatible remotes (s3://BUCKET/PREFIX) to push to and fetch from."""


@remote_command.command("add", short_help="Add a remote after checking its server honours conditional writes.")
@click.argument("name")
@click.argument("url")
@click.option("--endpoint", metavar="URL", help="The S3 endpoint (SeaweedFS, MinIO…); default: AWS.")
@click.option("--region", metavar="R", help="The bucket's region.")
@json_option
@click.pass_context
def remote_add(
    ctx: click.Context, name: str, url: str, endpoint: str | None, region: str | None, as_json: bool
) -> None:
    """Add remote NAME at URL (s3://BUCKET/PREFIX), refused if the server ignores conditional writes."""
    from casstore import add_remote

    spec = add_remote(open_store(ctx), name, url, endpoint, region)
    if as_json:
        emit_json(spec.as_json())
    else:
        click.echo(f"added remote {spec.name}: {spec.url}" + (f" at {spec.endpoint}" if spec.endpoint else ""))


remote_add.help = f"{remote_add.help} {_CREDENTIALS}"


@remote_command.command("list", short_help="List the remotes.")
@json_option
@click.pass_context
def remote_list(ctx: click.Context, as_json: bool) -> None:
    """List the store's remotes with their URLs and endpoints."""
    from casstore import list_remotes

    specs = list_remotes(open_store(ctx))
    if as_json:
        emit_json({"remotes": [spec.as_json() for spec in specs]})
        return
    for spec in specs:
        extra = "".join(
            f" {key}={value}" for key, value in (("endpoint", spec.endpoint), ("region", spec.region)) if value
        )
        click.echo(f"{spec.name}\t{spec.url}{extra}")


@remote_command.command("remove", short_help="Remove a remote and its remote-tracking refs.")
@click.argument("name")
@json_option
@click.pass_context
def remote_remove(ctx: click.Context, name: str, as_json: bool) -> None:
    """Forget remote NAME and delete its remote-tracking refs (nothing on the remote changes)."""
    from casstore import remove_remote

    deleted = remove_remote(open_store(ctx), name)
    if as_json:
        emit_json({"removed": name, "deleted_refs": deleted})
    else:
        click.echo(f"removed remote {name}" + (f" and {len(deleted)} remote-tracking refs" if deleted else ""))


def _show_updates(updates: list[RefUpdate]) -> None:
    for update in updates:
        old, new = (update.old or "")[:12], (update.new or "")[:12]
        arrow = f"{old}..{new}" if old and new and old != new else new or old
        click.echo(f"  {update.status:<12} {update.ref}  {arrow}")


def _split_target(name: str | None, targets: tuple[str, ...], known: list[str]) -> tuple[str | None, list[str]]:
    """``push [NAME] [PROJECT|REF…]``: the first word names the remote when the store has one of that name."""
    if name is not None and name not in known:
        return None, [name, *targets]
    return name, list(targets)


@command("push", short_help="Send branches, tags and autosaves to a remote.")
@click.argument("name", required=False)
@click.argument("targets", nargs=-1, metavar="[PROJECT|REF]...")
@click.option("--force", is_flag=True, help="Replace remote refs that are not ancestors (still a lease).")
@click.pass_context
def push_command(ctx: click.Context, name: str | None, targets: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Upload what the remote lacks as one pack, then move its refs by compare-and-swap.

    NAME defaults to origin (or the only remote). Without PROJECT or REF, every branch,
    tag and autosave is pushed. A ref the remote moved past what this store has is refused
    ("fetch first", exit 1); --force replaces it only if it still holds the value read.
    """
    from casstore import list_remotes, open_remote, push_remote

    store = open_store(ctx)
    name, chosen = _split_target(name, targets, [spec.name for spec in list_remotes(store)])
    progress = Progress("push", not as_json, unit="objects")
    try:
        result = push_remote(store, open_remote(store, name), chosen or None, force, progress)
    finally:
        progress.finish()
    if as_json:
        emit_json(result.as_json())
        return
    sent = f"sent {result.objects_sent} objects ({human_bytes(result.bytes_sent)})" if result.pack else "sent nothing"
    click.echo(f"{result.url}: {sent}")
    _show_updates(result.updates)


@command("fetch", short_help="Download and verify a remote's new history.")
@click.argument("name", required=False)
@click.pass_context
def fetch_command(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Download the packs this store lacks, verify every object, then move P/remotes/NAME.BRANCH refs and add tags."""
    from casstore import fetch_remote, open_remote

    store = open_store(ctx)
    progress = Progress("fetch", not as_json, unit="objects")
    try:
        result = fetch_remote(store, open_remote(store, name), progress)
    finally:
        progress.finish()
    if as_json:
        emit_json(result.as_json())
        return
    click.echo(
        f"{result.url}: received {result.objects_received} objects in {len(result.packs)} packs "
        f"({human_bytes(result.bytes_received)})"
    )
    _show_updates([update for update in result.updates if update.status != "up-to-date"])


@command("pull", short_help="Fetch, then fast-forward local branches.")
@click.argument("name", required=False)
@click.option("--project", "projects", multiple=True, help="Only this project's branches (repeat).")
@click.pass_context
def pull_command(ctx: click.Context, name: str | None, projects: tuple[str, ...], as_json: bool) -> None:
    """Fetch from NAME, then move each local branch to the remote's when that is a fast-forward.

    A branch with commits on both sides is left as it is and reported (exit 1).
    """
    from casstore import Diverged, open_remote, pull_remote

    store = open_store(ctx)
    progress = Progress("pull", not as_json, unit="objects")
    try:
        result = pull_remote(store, open_remote(store, name), list(projects) or None, progress)
    finally:
        progress.finish()
    if as_json:
        emit_json(result.as_json())
    else:
        click.echo(f"{result.fetched.url}: received {result.fetched.objects_received} objects")
        _show_updates([update for update in result.updates if update.status != "up-to-date"])
    if result.diverged:
        names = ", ".join(update.ref for update in result.diverged)
        raise Diverged(
            f"{names}: diverged from {result.fetched.remote} (commits on both sides); keep yours on a new branch, "
            f"then move the branch to P/remotes/{result.fetched.remote}.BRANCH and import your bundle again"
        )


@command("clone", short_help="Make a new store from a remote.")
@click.argument("url")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--endpoint", metavar="URL", help="The S3 endpoint (SeaweedFS, MinIO…); default: AWS.")
@click.option("--region", metavar="R", help="The bucket's region.")
def clone_command(url: str, directory: Path, endpoint: str | None, region: str | None, as_json: bool) -> None:
    """Create a store at DIRECTORY with everything at URL; the remote is recorded as origin."""
    from casstore import clone_remote

    progress = Progress("clone", not as_json, unit="objects")
    try:
        result = clone_remote(url, directory, endpoint, region, progress=progress)
    finally:
        progress.finish()
    if as_json:
        emit_json(result.as_json())
        return
    click.echo(
        f"cloned {result.fetched.url} into {result.store.root}: {len(result.refs)} refs, "
        f"{result.fetched.objects_received} objects ({human_bytes(result.fetched.bytes_received)})"
    )


@command("ls-remote", short_help="List the refs on a remote.")
@click.argument("name", required=False)
@click.pass_context
def ls_remote_command(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List every ref on remote NAME with the commit it points at."""
    from casstore import ls_remote, open_remote

    remote = open_remote(open_store(ctx), name)
    refs = ls_remote(remote)
    if as_json:
        emit_json({"remote": remote.name, "url": remote.url, "refs": refs})
        return
    for ref, oid in refs.items():
        click.echo(f"{oid}\t{ref}")
