"""Remote gc: delete packs that nothing on the remote reaches, in two phases a grace period apart.

Packs on a remote are immutable and one is added per push, so a ``push --force``, a
pruned autosave or a push that died before its swap leaves packs no ref reaches. Deleting
one while a pusher relies on it would publish a ref to missing objects, so, under the
remote's create-only ``gc`` lease (refreshed while held):

1. **mark** each pack that no ref (nor a reflog entry younger than the grace, as local gc
   keeps) reaches and that is older than the grace: ``marks/<pack>.json``, create-only,
   with ``marked_at``;
2. on a later run, **delete** each marked pack still unreachable once the grace has passed
   since its mark (its index first, then the pack, then the mark), and **unmark** each
   marked pack that became reachable again.

A pack uploaded without its index (a push killed between the two) is unfinished: no reader
or push uses it. One older than the grace is marked (``"unfinished": true``) and deleted a
grace later, as any unreachable pack; should its index arrive meanwhile (a stalled push
resuming), the push finds its own pack marked and unmarks it under the lease, as above.

A push never relies on a marked pack, and checks again just before its swap that the packs
it relied on are neither marked nor gone (re-uploading their objects if they are), so a
pack is deleted only after a full grace in which no push could have started to rely on it.
A gc that lost its lease stops before deleting anything. Last, the remote's reflog entries
older than the grace go, as local gc expires its own: they are no longer roots, and the
remote's reflog would otherwise only grow (and every gc reads all of it).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from casstore.clock import format_iso, parse_iso, utc_now
from casstore.errors import CorruptObject, ObjectMissing, RefLocked
from casstore.history.gc import GC_LEASE_SECONDS, LeaseKeeper, expire_reflogs, releasing
from casstore.history.reachability import GraphWalk
from casstore.remote.objects import RemoteObjects
from casstore.remote.push import GC_LEASE
from casstore.remote.remotes import Remote, mark_key
from casstore.storage import canonical
from casstore.storage.atomic import host_name
from casstore.storage.backend import StoredFileMissing
from casstore.storage.packs import Pack, index_key, pack_files, pack_key


@dataclass
class RemoteGcReport:
    """What one remote gc run marked, unmarked and deleted (or, with ``dry_run``, would have)."""

    remote: str
    url: str
    dry_run: bool
    grace_seconds: int
    packs: int = 0
    reachable_packs: int = 0
    marked: list[str] = field(default_factory=list)
    unmarked: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    deleted_bytes: int = 0
    waiting: list[str] = field(default_factory=list)  # marked, the grace since the mark not yet over
    young: int = 0  # unreachable but younger than the grace: not marked yet
    unfinished: int = 0  # packs without their index (a push killed between the two), marked or young
    reflog_expired: int = 0  # reflog entries older than the grace, dropped (no longer gc roots)

    def as_json(self) -> dict[str, Any]:
        """Return the report ``gc --remote --json`` prints."""
        return {
            "remote": self.remote,
            "url": self.url,
            "dry_run": self.dry_run,
            "grace_seconds": self.grace_seconds,
            "packs": self.packs,
            "reachable_packs": self.reachable_packs,
            "marked": self.marked,
            "unmarked": self.unmarked,
            "deleted": {"packs": self.deleted, "bytes": self.deleted_bytes},
            "waiting": self.waiting,
            "unreachable_young": self.young,
            "unfinished": self.unfinished,
            "reflog_expired": self.reflog_expired,
        }


def gc_remote(
    remote: Remote,
    grace: timedelta,
    dry_run: bool = False,
    now: Callable[[], datetime] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RemoteGcReport:
    """Run both phases of remote gc under the remote's ``gc`` lease (``now``: marks' time; ``clock``: refreshes)."""
    now = now or utc_now
    report = RemoteGcReport(remote.name, remote.url, dry_run, int(grace.total_seconds()))
    if not remote.initialized():
        return report
    try:
        owner = f"casstore gc --remote (pid {os.getpid()} on {host_name()})"
        lease = remote.backend.acquire(GC_LEASE, GC_LEASE_SECONDS, owner)
    except RefLocked as exc:
        raise RefLocked(f"{remote.url}: another gc is running on this remote: {exc}") from None
    with releasing(lease):
        _collect(remote, report, grace, now, LeaseKeeper(lease, GC_LEASE_SECONDS, clock))
    return report


def _reached_packs(
    remote: Remote, refs: dict[str, str], packs: list[Pack], marks: set[str], cutoff: datetime, tick: Callable[[], None]
) -> set[str]:
    """Return the packs needed for what ``refs`` (or a reflog entry newer than ``cutoff``) reach."""
    roots = set(refs.values())
    for entry in remote.refs.reflog():
        with contextlib.suppress(ValueError):
            if parse_iso(entry.when) < cutoff:
                continue
        roots.update(oid for oid in (entry.old, entry.new) if oid)
    objects = RemoteObjects(packs, remote.local)

    def load(oid: str, _what: str) -> bytes | None:
        tick()
        try:
            return objects.read_bytes(oid)
        except (CorruptObject, ObjectMissing):
            return None  # fsck --remote reports it; gc only needs what exists and is reached

    walk = GraphWalk(load)
    for oid in sorted(roots):
        walk.from_commit(oid, "root")
    # Each object needs one pack: an unmarked one when it can (a push re-sends what only a
    # marked pack holds), else the first by name, so of two packs holding the same objects
    # exactly one is kept, and a marked pack whose objects were sent again goes.
    holder: dict[str, str] = {}
    for pack in sorted(packs, key=lambda each: (each.name in marks, each.name)):
        for oid in pack.ids:
            holder.setdefault(oid, pack.name)
    return {holder[oid] for oid in walk.reached() if oid in holder}


def _collect(
    remote: Remote, report: RemoteGcReport, grace: timedelta, now: Callable[[], datetime], keeper: LeaseKeeper
) -> None:
    backend = remote.backend
    cutoff = now() - grace
    # The refs before the packs, as fetch does: a pusher uploads its pack before it swaps a
    # ref, so every ref value read has its pack in the listing that follows.
    refs = remote.refs.list()
    files = pack_files(backend)  # one listing: the complete packs and those without their index
    packs = remote.packs([name for name, indexed in files.items() if indexed])
    marks = remote.marked_packs()
    report.packs = len(packs)
    reached = _reached_packs(remote, refs, packs, marks, cutoff, keeper.tick)
    report.reachable_packs = len(reached)
    listed = {pack.name for pack in packs}
    unfinished = {name for name, indexed in files.items() if not indexed}
    report.unfinished = len(unfinished)
    due: list[str] = []
    for name in sorted(marks):
        keeper.tick()
        marked = _read_mark(remote, name)
        if name in reached or marked is None:
            report.unmarked.append(name)  # a damaged mark is dropped; the pack is marked again, later
        elif marked[0] <= cutoff or (name not in listed and not marked[1]):
            due.append(name)  # unlisted, marked when complete: a gc died while deleting it; finish the job
        else:
            report.waiting.append(name)
    unreachable = sorted((listed - reached - marks) | (unfinished - marks))
    to_mark = []
    for name in unreachable:
        keeper.tick()
        with contextlib.suppress(StoredFileMissing):
            if datetime.fromtimestamp(backend.stat(pack_key(name)).modified, cutoff.tzinfo) < cutoff:
                to_mark.append(name)
                continue
        report.young += 1
    for name in due:
        with contextlib.suppress(StoredFileMissing):
            report.deleted_bytes += backend.stat(pack_key(name)).size
        report.deleted.append(name)
    report.marked = to_mark
    if report.dry_run:
        report.reflog_expired = expire_reflogs(backend, cutoff, dry_run=True)
        return
    for name in report.unmarked:
        keeper.tick()
        backend.delete(mark_key(name))
    stamp = format_iso(now())
    for name in to_mark:
        keeper.tick()
        mark: dict[str, Any] = {"pack": name, "marked_at": stamp, "by": host_name()}
        if name in unfinished:
            mark["unfinished"] = True
        backend.put_if_absent(mark_key(name), canonical.dumps(mark))
    if due:
        keeper.lease.refresh(keeper.ttl)  # a gc that lost its lease stops here, before deleting
    for name in due:
        keeper.tick()
        # The index first: readers ignore a pack without its index; the mark last, so a gc
        # that dies in between finds the mark and finishes the deletion.
        backend.delete(index_key(name))
        backend.delete(pack_key(name))
        backend.delete(mark_key(name))
    # Last, after the packs: entries older than the grace are no roots (see _reached_packs). On
    # S3 each is an object of its own, deleted alone, so a push logging a move meanwhile keeps it.
    report.reflog_expired = expire_reflogs(backend, cutoff, dry_run=False)


def _read_mark(remote: Remote, name: str) -> tuple[datetime, bool] | None:
    """Return when pack ``name`` was marked and whether it was unfinished then; None: no readable mark."""
    try:
        mark = canonical.loads(remote.backend.get(mark_key(name)))
        return parse_iso(mark["marked_at"]), mark.get("unfinished") is True
    except (StoredFileMissing, ValueError, KeyError, TypeError, AttributeError):
        return None
