"""Garbage collection: drop unreachable objects older than the grace, then pack what remains."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from casstore import canonical
from casstore.atomic import LockFile
from casstore.clock import parse_iso, utc_now
from casstore.fileops import ops
from casstore.packs import write_pack
from casstore.reachability import reachable, roots
from casstore.staging import clear_staging
from casstore.store import Store


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
        }


def _mtime(path: os.PathLike[str]) -> datetime:
    return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)


def gc(store: Store, grace: timedelta, dry_run: bool = False) -> GcReport:
    """Collect garbage: never removes a reachable object or one younger than ``grace``."""
    report = GcReport(dry_run, int(grace.total_seconds()))
    with LockFile(store.root / "gc"):
        cutoff = utc_now() - grace
        if not dry_run:
            # First, so that a disk filled by a failed import has room again for the new pack.
            report.staging_removed, report.staging_bytes = clear_staging(store.tmp, cutoff)
        keep = reachable(store, roots(store, cutoff))
        loose_age = {oid: _mtime(store.objects.loose.path_for(oid)) for oid in store.objects.loose.iter_ids()}
        packs = list(store.objects.packs)
        packed_age: dict[str, datetime] = {}
        for pack in packs:
            age = _mtime(pack.pack_path)
            for oid in pack.ids:
                packed_age[oid] = max(age, packed_age.get(oid, age))
        everything = set(loose_age) | set(packed_age)
        report.reachable = len(everything & keep)
        for oid in sorted(everything - keep):
            newest = max(t for t in (loose_age.get(oid), packed_age.get(oid)) if t is not None)
            if newest >= cutoff:
                report.kept_young += 1
            else:
                report.removed.append(oid)
                report.removed_bytes += _stored_size(store, oid)
        removed = set(report.removed)
        # Packed: everything that stays, loose or packed, except young unreachable loose objects.
        to_pack = {oid for oid in everything - removed if oid in keep or oid in packed_age}
        report.packed = len(to_pack)
        if dry_run:
            report.reflog_expired = _expire_reflogs(store, cutoff, dry_run=True)
            return report
        if to_pack and (len(packs) != 1 or set(loose_age) & to_pack or removed & set(packed_age)):
            new_pack = write_pack(to_pack, store.objects.open_stored, store.objects.packs_dir, store.tmp)
            report.pack = new_pack.pack_path.name if new_pack else None
            for pack in packs:
                if new_pack is None or pack.pack_path != new_pack.pack_path:
                    # The index first: a pack without its index is ignored by readers, never half-read.
                    ops().unlink(pack.index_path, missing_ok=True)
                    ops().unlink(pack.pack_path, missing_ok=True)
                    report.packs_replaced += 1
        elif not to_pack:
            for pack in packs:
                ops().unlink(pack.index_path, missing_ok=True)
                ops().unlink(pack.pack_path, missing_ok=True)
                report.packs_replaced += 1
        for oid in set(loose_age) & (to_pack | removed):
            store.objects.loose.delete(oid)
        store.objects.reload_packs()
        report.reflog_expired = _expire_reflogs(store, cutoff, dry_run=False)
    return report


def _stored_size(store: Store, oid: str) -> int:
    path = store.objects.loose.path_for(oid)
    if path.exists():
        return path.stat().st_size
    return max((pack.stored_size(oid) for pack in store.objects.packs), default=0)


def _expire_reflogs(store: Store, cutoff: datetime, dry_run: bool) -> int:
    """Drop reflog lines older than ``cutoff``; return how many went."""
    expired = 0
    for name in store.backend.list_logs():
        kept: list[bytes] = []
        lines = store.backend.read_log(name).splitlines()
        for raw in lines:
            try:
                when = parse_iso(canonical.loads(raw)["when"])
            except (ValueError, KeyError, TypeError):
                continue  # torn line from a killed writer
            if when >= cutoff:
                kept.append(raw + b"\n")
        expired += len(lines) - len(kept)
        if dry_run or len(kept) == len(lines):
            continue
        store.backend.replace_log(name, b"".join(kept))
    return expired
