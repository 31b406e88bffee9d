"""Garbage collection: drop unreachable objects older than the grace, then pack what remains."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Container, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from casstore.clock import parse_iso, utc_now
from casstore.errors import CasstoreError
from casstore.history.deltas import Planned, plan_deltas
from casstore.history.inventory import stored_objects
from casstore.history.reachability import reachable, roots
from casstore.storage import canonical
from casstore.storage.atomic import host_name
from casstore.storage.backend import Backend, Lease, StoredFileMissing
from casstore.storage.delta import DELTA_PREFIX, delta_base, make_delta
from casstore.storage.flac_compact import Compacted, audio_available, compact_many
from casstore.storage.flac_compact import compact as compact_object
from casstore.storage.heap import unmap_big_buffers
from casstore.storage.object_store import ObjectStore
from casstore.storage.packs import Pack, PackWriter
from casstore.storage.staging import clear_staging
from casstore.storage.store import Store


@dataclass
class GcReport:
    """What gc removed and packed (or, with ``dry_run``, would have)."""

    dry_run: bool
    grace_seconds: int
    reachable: int = 0
    removed: list[str] = field(default_factory=list)
    removed_bytes: int = 0
    kept_young: int = 0
    packed: int = 0
    pack: str | None = None
    packs_replaced: int = 0
    reflog_expired: int = 0
    staging_removed: int = 0
    staging_bytes: int = 0
    compacted: int = 0
    compacted_saved: int = 0
    compaction_skipped: str | None = None
    deltas: int = 0
    deltas_saved: int = 0

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON object."""
        return {
            "dry_run": self.dry_run,
            "grace_seconds": self.grace_seconds,
            "reachable": self.reachable,
            "removed": {"objects": len(self.removed), "bytes": self.removed_bytes, "ids": self.removed},
            "kept_unreachable_young": self.kept_young,
            "packed": self.packed,
            "pack": self.pack,
            "packs_replaced": self.packs_replaced,
            "reflog_expired": self.reflog_expired,
            "staging_removed": {"files": self.staging_removed, "bytes": self.staging_bytes},
            "compacted": {"objects": self.compacted, "bytes_saved": self.compacted_saved},
            "compaction_skipped": self.compaction_skipped,
            "deltas": {"objects": self.deltas, "bytes_saved": self.deltas_saved},
        }


# gc holds the store's "gc" lease this long past its last refresh; it refreshes when a
# third of that has gone by, at each object it walks, packs or deletes.
GC_LEASE_SECONDS = 300.0


class LeaseKeeper:
    """Refreshes a lease while long work runs: call :meth:`tick` often; it refreshes once a third of the ttl passed."""

    def __init__(self, lease: Lease, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lease = lease
        self.ttl = ttl
        self.clock = clock
        self.refreshed_at = clock()
        self.refreshes = 0

    def tick(self) -> None:
        """Refresh the lease if a third of its ttl passed since the last refresh (raises RefLocked if it was lost)."""
        now = self.clock()
        if now - self.refreshed_at >= self.ttl / 3:
            self.lease.refresh(self.ttl)
            self.refreshed_at = now
            self.refreshes += 1


def _owner() -> str:
    return f"casstore gc (pid {os.getpid()} on {host_name()})"


def gc(
    store: Store,
    grace: timedelta,
    dry_run: bool = False,
    clock: Callable[[], float] = time.monotonic,
    compact: bool = True,
    repack: bool = False,
) -> GcReport:
    """Collect garbage: never removes a reachable object or one younger than ``grace``.

    Runs under the store's ``gc`` lease (so one gc runs at a time, across hosts too),
    refreshed as it goes; ``clock`` paces the refreshes. With ``compact`` an object much
    like the same path one commit earlier is stored as a delta against it, and every
    other PCM WAV written into the new pack is FLAC-compacted, each where that pays; ``repack`` (git's
    ``gc --aggressive``) rewrites the packs even when nothing else would.
    """
    unmap_big_buffers()
    lease = store.backend.acquire("gc", GC_LEASE_SECONDS, _owner())
    with releasing(lease):
        return _collect(store, grace, dry_run, LeaseKeeper(lease, GC_LEASE_SECONDS, clock), compact, repack)


@contextlib.contextmanager
def releasing(lease: Lease) -> Iterator[None]:
    """Release ``lease`` when the block ends; on an error, without hiding it behind a second one."""
    try:
        yield
    except BaseException:
        # The error that stopped gc is the one to report, not a second one giving the lease
        # up (a lease left behind expires, or is taken over once this process is gone).
        with contextlib.suppress(OSError, CasstoreError):
            lease.release()
        raise
    lease.release()


def _collect(
    store: Store, grace: timedelta, dry_run: bool, keeper: LeaseKeeper, compact: bool, repack: bool
) -> GcReport:
    report = GcReport(dry_run, int(grace.total_seconds()))
    objects = store.objects
    cutoff = utc_now() - grace
    if not dry_run:
        # First, so that a disk filled by a failed import has room again for the new pack.
        report.staging_removed, report.staging_bytes = clear_staging(store.backend, cutoff.timestamp())
    starts = roots(store, cutoff)
    keep = reachable(store, starts, keeper.tick)
    loose_age = {oid: _when(objects.loose.age(oid)) for oid in objects.loose.iter_ids()}
    objects.reload_packs()  # exactly the packs there are now: these are the ones replaced
    packs = list(objects.packs)
    pack_age = [_when(store.backend.stat(pack.pack_key).modified) for pack in packs]
    # Every object is looked at in id order as the packs and the loose listing give it:
    # no set of every id, no age per id (issue 17: ~200 bytes an object).
    stay_loose: set[str] = set()  # young unreachable loose objects: neither removed nor packed
    stored = 0
    removed_packed = False
    for raw, size, holders, _is_loose in stored_objects(loose_age, packs):
        stored += 1
        oid = raw.hex()
        if oid in keep:
            report.reachable += 1
            continue
        ages = [pack_age[at] for at in holders]
        newest = max([*ages, loose_age[oid]] if oid in loose_age else ages)
        if newest >= cutoff:
            report.kept_young += 1
            if not holders:
                stay_loose.add(oid)
        else:
            report.removed.append(oid)
            report.removed_bytes += size if size is not None else _stored_size(store, oid)
            removed_packed = removed_packed or bool(holders)
    removed = set(report.removed)
    # Packed: everything that stays, loose or packed, except young unreachable loose objects.
    report.packed = stored - len(removed) - len(stay_loose)
    if dry_run:
        report.reflog_expired = expire_reflogs(store.backend, cutoff, dry_run=True)
        return report
    leaving = removed | stay_loose
    loose_packed = any(oid not in leaving for oid in loose_age)
    replace = not report.packed or len(packs) != 1 or loose_packed or removed_packed

    def to_pack() -> Iterator[tuple[str, int]]:
        for raw, size, _holders, _is_loose in stored_objects(loose_age, packs):
            oid = raw.hex()
            if oid not in leaving:
                yield oid, size if size is not None else _stored_size(store, oid)

    if replace or (repack and report.packed):
        new_pack = None
        if report.packed:
            present = _Present(keep, loose_age, packs)
            plan = plan_deltas(store, starts, present, keeper.tick) if compact else {}
            # After planning: soundfile brings numpy (~9 MiB), not needed until the pack is written.
            if compact and not audio_available():
                report.compaction_skipped = "soundfile (the audio extra) is not installed"
            new_pack = _write_pack(store, to_pack(), keeper, (compact, plan), report)
            report.pack = f"{new_pack.name}.pack" if new_pack else None
        keeper.tick()  # just before deleting: a lost lease stops gc here
        for pack in packs:
            if new_pack is None or pack.name != new_pack.name:
                # The index first: a pack without its index is ignored by readers, never half-read.
                store.backend.delete(pack.index_key)
                store.backend.delete(pack.pack_key)
                report.packs_replaced += 1
    for oid in loose_age:
        if oid not in stay_loose:
            keeper.tick()
            objects.loose.delete(oid)
    objects.reload_packs()
    report.reflog_expired = expire_reflogs(store.backend, cutoff, dry_run=False)
    return report


class _Present:
    """The reachable objects the store holds: what a delta may be planned between (a missing one may not)."""

    def __init__(self, keep: AbstractSet[str], loose: Container[str], packs: list[Pack]) -> None:
        self.keep, self.loose, self.packs = keep, loose, packs

    def __contains__(self, oid: object) -> bool:
        if not isinstance(oid, str) or oid not in self.keep:
            return False
        return oid in self.loose or any(pack.has(oid) for pack in self.packs)


def _write_pack(
    store: Store,
    to_pack: Iterator[tuple[str, int]],
    keeper: LeaseKeeper,
    shrink: tuple[bool, dict[str, Planned]],
    report: GcReport,
) -> Pack | None:
    """Write ``to_pack`` (id order, with stored sizes) into one new pack: planned deltas where they pay, then FLAC.

    Deltas from the old packs are resolved first (their bases may go with the old packs, and
    their chains were counted for those packs), so every base a delta of the new pack needs
    is in the new pack itself.
    """
    objects = store.objects
    compact, plan = shrink
    writer = PackWriter(store.backend)
    try:
        if not compact:
            for oid, _size in to_pack:
                keeper.tick()
                with contextlib.closing(objects.open_portable(oid)) as source:
                    writer.add_stream(oid, source)
            return writer.publish()
        _add_compacted(objects, writer, to_pack, keeper, plan, report)
        return writer.publish()
    except BaseException:
        writer.discard()
        raise


def _add_compacted(
    objects: ObjectStore,
    writer: PackWriter,
    to_pack: Iterator[tuple[str, int]],
    keeper: LeaseKeeper,
    plan: dict[str, Planned],
    report: GcReport,
) -> None:
    """Add each object to ``writer`` as a delta, FLAC-compacted or as stored, as the plan and the audio allow."""
    flac = audio_available()
    sizes: dict[str, int] = {}  # stored sizes of the few objects in flight in compact_many
    wholes: dict[str, int] = {}  # what a delta saves on: the object's stored size not as a delta

    def smaller(oid: str, stored_size: int) -> Compacted | None:
        planned = plan.get(oid)
        if planned is not None:
            sizes_ = (planned.size, planned.base_size)
            whole = wholes[oid] = _whole_size(objects, oid, stored_size)
            made = make_delta(oid, planned.base, objects.reader, objects.open_base, sizes_, whole)
            if made is not None:
                return Compacted(oid, made[0], made[1], delta=True)
        return compact_object(objects.open_portable, oid, stored_size) if flac else None

    def noted() -> Iterator[tuple[str, int]]:
        for oid, size in to_pack:
            sizes[oid] = size
            yield oid, size

    for oid, compacted in compact_many(noted(), smaller):
        keeper.tick()
        size = sizes.pop(oid)
        if compacted is None:
            with contextlib.closing(objects.open_portable(oid)) as source:
                writer.add_stream(oid, source)
            continue
        with contextlib.closing(compacted.stored):
            writer.add_stream(oid, compacted.stored)
        saved = (wholes.pop(oid, None) or size) - compacted.length
        if compacted.delta:
            report.deltas += 1
            report.deltas_saved += saved
        else:
            report.compacted += 1
            report.compacted_saved += saved


def _whole_size(objects: ObjectStore, oid: str, stored_size: int) -> int:
    """Return the stored size of ``oid`` not as a delta: what a new delta must beat (a repack plans afresh)."""
    with contextlib.closing(objects.open_stored(oid)) as stored:
        if delta_base(stored.read(DELTA_PREFIX)) is None:
            return stored_size
    with contextlib.closing(objects.open_portable(oid)) as portable:
        return portable.seek(0, 2)


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _stored_size(store: Store, oid: str) -> int:
    with contextlib.suppress(StoredFileMissing):
        return store.objects.loose.stored_size(oid)
    return max((pack.stored_size(oid) for pack in store.objects.packs), default=0)


def expire_reflogs(backend: Backend, cutoff: datetime, dry_run: bool) -> int:
    """Drop the reflog lines of every ref in ``backend`` older than ``cutoff`` (and torn ones); return how many."""

    def expired(raw: bytes) -> bool:
        try:
            return bool(parse_iso(canonical.loads(raw)["when"]) < cutoff)
        except (ValueError, KeyError, TypeError):
            return True  # a torn line from a killed writer

    if dry_run:
        return sum(expired(raw) for name in backend.list_logs() for raw in backend.read_log(name).splitlines())
    return sum(backend.expire_log(name, expired) for name in backend.list_logs())
