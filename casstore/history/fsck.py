"""Integrity check: re-hash objects, parse trees and commits, resolve refs. Reports, never repairs."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from casstore.errors import CorruptObject, ObjectMissing
from casstore.history.inventory import IdTable, sizes_array, stored_objects
from casstore.history.reachability import GraphWalk, chunks_of
from casstore.model.objects import TreeEntry
from casstore.storage.backend import StoredFileMissing
from casstore.storage.pack_scan import Rehashed, Span, check_span, spans
from casstore.storage.packs import Pack
from casstore.storage.parallel import parallel_map
from casstore.storage.staging import staging_leftovers
from casstore.storage.store import Store

ProgressFn = Callable[[int, int], None]
ERROR_KINDS = ("corrupt", "missing", "invalid", "bad-ref")


@dataclass(frozen=True)
class Finding:
    """One problem or notice: its kind, the object or ref it concerns, and what reaches it."""

    kind: str
    subject: str
    detail: str
    reached_from: str | None = None

    @property
    def is_error(self) -> bool:
        """Tell whether this finding makes fsck fail."""
        return self.kind in ERROR_KINDS

    def as_json(self) -> dict[str, Any]:
        """Return the finding as a JSON object."""
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail, "reached_from": self.reached_from}


@dataclass
class FsckReport:
    """What fsck checked and what it found."""

    quick: bool
    objects: int = 0
    bytes: int = 0
    refs: int = 0
    commits: int = 0
    trees: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether nothing is wrong (notices such as dangling objects do not count)."""
        return not any(f.is_error for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON object."""
        return {
            "ok": self.ok,
            "quick": self.quick,
            "checked": {
                "objects": self.objects,
                "bytes": self.bytes,
                "refs": self.refs,
                "commits": self.commits,
                "trees": self.trees,
            },
            "errors": [f.as_json() for f in self.findings if f.is_error],
            "notices": [f.as_json() for f in self.findings if not f.is_error],
        }


def _rehash(store: Store, oid: str) -> Rehashed:
    try:
        with store.objects.reader(oid) as reader:
            return oid, reader.read_to_end(), None
    except (CorruptObject, ObjectMissing) as exc:
        return oid, 0, str(exc).split(": ", 1)[-1]
    except OSError as exc:
        return oid, 0, f"unreadable: {exc.strerror}"


LOOSE_BATCH = 64  # loose objects a task re-hashes: one hand-over to a worker each cost as much as a pattern


def _rehash_task(store: Store, task: Span | list[str]) -> list[Rehashed]:
    if isinstance(task, list):
        return [_rehash(store, oid) for oid in task]
    try:
        return check_span(task, store.objects.open_base)
    except StoredFileMissing:  # a gc replaced the pack meanwhile: find each object wherever it is now
        return [_rehash(store, oid) for oid, _offset, _length in task.records()]


def _rehash_all(
    store: Store, ids: IdTable, loose: array[int], packs: list[Pack], progress: ProgressFn | None
) -> Iterator[Rehashed]:
    """Re-hash every stored copy: loose objects in batches, each pack a span of neighbours per read."""
    tasks: list[Span | list[str]] = []
    for first in range(0, len(loose), LOOSE_BATCH):
        tasks.append([ids.hex(at) for at in loose[first : first + LOOSE_BATCH]])
    for pack in packs:
        tasks.extend(spans(pack))
    total, done = sum(len(task) for task in tasks), 0
    for outcomes in parallel_map(lambda task: _rehash_task(store, task), tasks):
        yield from outcomes
        done += len(outcomes)
        if progress:
            progress(done, total)


def _delta_bases(pack: Pack, report: FsckReport) -> dict[str, str]:
    try:
        return pack.delta_bases()
    except (StoredFileMissing, OSError):
        return {}  # the pack's own check reports it unreadable


class _Checker:
    """What fsck asks of the one graph walker: load each commit and tree, report what is wrong."""

    def __init__(
        self, store: Store, report: FsckReport, corrupt: dict[str, str], ids: IdTable, sizes: array[int]
    ) -> None:
        self.store = store
        self.report = report
        self.corrupt = corrupt
        self.ids = ids
        self.sizes = sizes
        self.walk = GraphWalk(self._load, self._invalid, self._entry, self._stream)

    def _load(self, oid: str, what: str) -> bytes | None:
        if oid not in self.ids:
            self.report.findings.append(Finding("missing", oid, f"{what} is missing", self.walk.path(oid)))
            return None
        if oid in self.corrupt:
            return None
        try:
            return self.store.objects.read_bytes(oid)
        except (CorruptObject, ObjectMissing) as exc:
            self.corrupt.setdefault(oid, str(exc))
            return None

    def _stream(self, oid: str) -> Iterator[bytes] | None:
        if oid not in self.ids or oid in self.corrupt:
            return None  # _load reports it
        return chunks_of(self.store.objects.reader(oid))

    def _invalid(self, oid: str, detail: str) -> None:
        self.report.findings.append(Finding("invalid", oid, detail, self.walk.path(oid)))

    def _entry(self, tree: str, entry: TreeEntry) -> None:
        at = self.ids.position(entry.sha256)
        if at is None:
            where = self.walk.path(entry.sha256)
            self.report.findings.append(Finding("missing", entry.sha256, f"blob for {entry.path} is missing", where))
        elif self.sizes[at] >= 0 and self.sizes[at] != entry.size:
            detail = f"{entry.path}: tree says {entry.size} bytes, object holds {self.sizes[at]}"
            self.report.findings.append(Finding("invalid", tree, detail, self.walk.path(entry.sha256)))


def fsck(store: Store, quick: bool = False, progress: ProgressFn | None = None) -> FsckReport:
    """Check the whole store; ``quick`` checks packs by BLAKE3 and skips re-hashing blobs.

    Trees, commits and refs are always read and verified; full mode re-hashes
    every object, loose or packed, with SHA-256.
    """
    report = FsckReport(quick=quick)
    # Refs before objects: objects land before the refs that reach them, so an import
    # running alongside cannot show fsck a ref to an object it did not list.
    damaged = store.refs.damaged()
    refs = store.refs.list()
    reflog = list(store.refs.reflog())
    store.objects.reload_packs()
    packs = list(store.objects.packs)
    # One sorted table of raw ids and an array of sizes beside it: a list, two sets and a
    # dict of hex ids were ~350 bytes an object (issue 17).
    loose = array("L")
    ids = IdTable.of(stored_objects(store.objects.loose.iter_ids(), packs), loose)
    report.objects = len(ids)
    corrupt: dict[str, str] = {}
    sizes = sizes_array(len(ids))
    if not quick:
        # An object both loose and packed is re-hashed in each place: either copy may be read.
        for oid, size, problem in _rehash_all(store, ids, loose, packs, progress):
            if problem:
                corrupt.setdefault(oid, problem)
            elif (where := ids.position(oid)) is not None and sizes[where] < 0:
                sizes[where] = size
                report.bytes += size
    for pack in store.objects.packs:
        for problem in pack.verify_digests():
            report.findings.append(Finding("corrupt", f"{pack.name}.pack", problem))
    for name, problem in store.objects.unreadable_packs:
        report.findings.append(Finding("corrupt", name, problem))
    checker = _Checker(store, report, corrupt, ids, sizes)
    walk = checker.walk
    for name in damaged:
        report.findings.append(Finding("bad-ref", name, "ref file does not hold an object id"))
    report.refs = len(refs)
    for name, oid in refs.items():
        walk.from_commit(oid, f"ref {name}")
    for entry in reflog:
        for logged in (entry.new, entry.old):
            if logged:
                walk.from_commit(logged, f"reflog of {entry.ref}")
    report.commits, report.trees = walk.commits, walk.trees
    for oid, problem in sorted(corrupt.items()):
        via = walk.path(oid) if oid in walk else "not reachable from any ref"
        report.findings.append(Finding("corrupt", oid, problem, via))
    for pack in store.objects.packs:
        for oid, base in sorted(_delta_bases(pack, report).items()):
            if base not in ids:
                via = walk.path(oid) if oid in walk else "not reachable from any ref"
                report.findings.append(Finding("missing", base, f"delta base of {oid} is missing", via))
    for oid in ids:
        if oid not in walk and oid not in corrupt:
            report.findings.append(Finding("dangling", oid, "not reachable from any ref or reflog (gc may drop it)"))
    for lock in store.refs.stale_locks():
        report.findings.append(Finding("lock", lock, "lock file left by a writer"))
    files, size = staging_leftovers(store.backend)
    if files:
        report.findings.append(
            Finding(
                "staging",
                "tmp/",
                f"{files} unfinished write(s) from interrupted commands, {size} bytes"
                " (gc removes those whose process is gone)",
            )
        )
    return report
