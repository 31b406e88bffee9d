"""``fsck --remote``: check a remote in place, without a local copy, as fsck checks a store.

Every pack is streamed once: its index's BLAKE3 trailer, that the index tiles the pack,
every object's SHA-256 (each is decoded) and the pack's BLAKE3 trailer, the checks a
fetch makes. Then every ref is walked (the one graph walker) over a read-only view of the
packs that passed, and each object a ref reaches must be in one of them. The report and
its exit code are local fsck's: 1 when anything is damaged or missing.
"""

from __future__ import annotations

from collections.abc import Callable

from casstore.errors import CorruptObject, ObjectMissing
from casstore.history.fsck import Finding, FsckReport
from casstore.history.reachability import GraphWalk
from casstore.model.objects import TreeEntry
from casstore.remote.fetch import RemoteCorrupt, blake3_hasher, check_index, check_pack
from casstore.remote.objects import RemoteObjects
from casstore.remote.remotes import Remote
from casstore.storage.backend import StoredFileMissing
from casstore.storage.packs import Pack

ProgressFn = Callable[[int, int], None]


def _check(remote: Remote, name: str, report: FsckReport) -> Pack | None:
    """Return pack ``name`` loaded if every byte of it checks out, else record why and return None."""
    size = 0

    def count(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    try:
        pack = Pack.load(remote.backend, name)
        check_index(remote, name)
        check_pack(remote, pack, count, blake3_hasher())
    except CorruptObject as exc:
        report.findings.append(Finding("corrupt", f"{name}.idx", str(exc).split(": ", 1)[-1]))
        return None
    except RemoteCorrupt as exc:
        report.findings.append(Finding("corrupt", f"{name}.pack", str(exc).removesuffix("; nothing fetched")))
        return None
    except StoredFileMissing:
        report.findings.append(Finding("gone", name, "deleted while fsck ran (a remote gc?)"))
        return None
    report.objects += len(pack.ids)
    report.bytes += size
    return pack


def fsck_remote(remote: Remote, progress: ProgressFn | None = None) -> FsckReport:
    """Check every pack and every ref of ``remote`` in place; the report reads as local fsck's."""
    report = FsckReport(quick=False)
    if not remote.initialized():
        return report
    refs = remote.refs.list()  # before the packs, as fetch: each ref read has its pack listed
    names = remote.pack_names()
    good: list[Pack] = []
    damaged: set[str] = set()
    for done, name in enumerate(names, 1):
        pack = _check(remote, name, report)
        if pack is not None:
            good.append(pack)
        if progress is not None:
            progress(done, len(names))
    objects = RemoteObjects(good, remote.local)
    for name in set(names) - {pack.name for pack in good}:
        damaged.update(_ids_if_readable(remote, name))
    report.refs = len(refs)

    def load(oid: str, what: str) -> bytes | None:
        if oid not in objects:
            if oid not in damaged:  # objects of a damaged pack were reported with it
                report.findings.append(Finding("missing", oid, f"{what} is missing", walk.path(oid)))
            return None
        try:
            return objects.read_bytes(oid)
        except (CorruptObject, ObjectMissing) as exc:
            report.findings.append(Finding("corrupt", oid, str(exc).split(": ", 1)[-1], walk.path(oid)))
            return None

    def entry(_tree: str, item: TreeEntry) -> None:
        if item.sha256 not in objects and item.sha256 not in damaged:
            where = walk.path(item.sha256)
            report.findings.append(Finding("missing", item.sha256, f"blob for {item.path} is missing", where))

    walk = GraphWalk(load, lambda oid, why: report.findings.append(Finding("invalid", oid, why)), entry)
    for ref, oid in sorted(refs.items()):
        walk.from_commit(oid, f"ref {ref}")
    report.commits, report.trees = walk.commits, walk.trees
    return report


def _ids_if_readable(remote: Remote, name: str) -> list[str]:
    """Return the ids a damaged pack's index lists (none when the index itself is unreadable)."""
    try:
        return list(Pack.load(remote.backend, name).ids)
    except (CorruptObject, StoredFileMissing):
        return []
