"""gc and fsck memory per stored object (issue 17): bookkeeping per object, measured in traced bytes.

gc and fsck must hold what they walk, but not a set, a dict and a list of hex ids per
object on top. The guard is the traced peak's growth per object between two store sizes,
so what is constant (imports, pools, one small tree decoded at a time) cancels out.
"""

from __future__ import annotations

import gc as collector
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from casstore.history.deltas import plan_deltas
from casstore.history.fsck import fsck
from casstore.history.gc import gc
from casstore.history.reachability import reachable, roots
from casstore.model.objects import Commit, Tree, TreeEntry
from casstore.storage.store import Store

WHEN = "2026-12-02T12:00:00Z"
FILES = 20  # per tree: small trees, so the growth measured is per object, not per tree decoded

# Measured on 4,400 -> 17,600 objects (bytes of traced peak per added object), each a few
# runs: before (main at f341f52) gc 985, fsck 659-728; now gc 365-490, fsck 380-480 (mostly
# the walk's one dict entry and hex key per object, and the pack index's 48-byte records).
# Thread timing moves the peak by ~100 bytes an object: the budgets leave that much room.
GC_BUDGET = 600
FSCK_BUDGET = 580


def _store(path: Path, commits: int) -> Store:
    """A store of ``commits`` saves, each a tree of FILES new patterns: one pack, the last saves' objects loose."""
    store = Store.init(path)
    pack = store.objects.new_pack()
    parent: tuple[str, ...] = ()
    for step in range(commits):
        into = pack if step < commits - 5 else None  # a few loose objects too: gc merges both
        entries = []
        for index in range(FILES):
            pattern = f'{{"pattern_id": "p{index}", "edit": {step}}}\n'.encode()
            oid = store.objects.put_bytes(pattern, into).oid
            entries.append(TreeEntry(f"patterns/p{index:02d}.json", oid, len(pattern), "pattern"))
        tree = Tree("mem", None, tuple(entries))
        store.objects.put_bytes(tree.encode(), into)
        commit = Commit(tree.id, parent, "mem", "import", f"save {step}", "t", WHEN)
        store.objects.put_bytes(commit.encode(), into)
        parent = (commit.id,)
    store.objects.publish(pack)
    store.refs.compare_and_swap("mem/heads/main", None, parent[0], "import", WHEN)
    return store


def _peak(action: Callable[[], object]) -> int:
    collector.collect()
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _per_object(tmp_path: Path, command: str) -> float:
    # A warm-up round untraced: the first gc imports the compactor (numpy, soundfile) and
    # starts thread pools, which must not count against either size.
    warm = _store(tmp_path / f"{command}-warm", 10)
    gc(warm, timedelta(days=14)) if command == "gc" else fsck(warm)
    peaks, objects = [], []
    for commits in (200, 800):
        root = _store(tmp_path / f"{command}-{commits}", commits).root
        if command == "gc":
            peaks.append(_peak(lambda: gc(Store.open(root), timedelta(days=14))))  # noqa: B023
        else:
            report = fsck(Store.open(root))
            assert report.ok and report.objects == commits * (FILES + 2)
            peaks.append(_peak(lambda: fsck(Store.open(root))))  # noqa: B023
        objects.append(commits * (FILES + 2))
    return (peaks[1] - peaks[0]) / (objects[1] - objects[0])


def test_gc_holds_little_per_object(tmp_path: Path) -> None:
    per_object = _per_object(tmp_path, "gc")
    assert per_object < GC_BUDGET, f"gc holds {per_object:.0f} bytes per object (budget {GC_BUDGET})"


def test_fsck_holds_little_per_object(tmp_path: Path) -> None:
    per_object = _per_object(tmp_path, "fsck")
    assert per_object < FSCK_BUDGET, f"fsck holds {per_object:.0f} bytes per object (budget {FSCK_BUDGET})"


# ---------------------------------------------------------------- one bundle of many files

# Bytes per file of a tree, measured on trees of 1,000 -> 6,000 files. Reading a tree whole
# and decoding a TreeEntry per file (before): the walk's transient peak 403, delta planning's
# peak 478-496; streamed into a TreeScan (now): 139 and 254. At 100,000 files that was
# fsck's and gc's peak: 112 and 141-154 MiB RSS (issue 17).
WALK_FILE_BUDGET = 250
PLAN_FILE_BUDGET = 360
SIZES = (1_000, 6_000)


def _bundle_store(path: Path, files: int) -> tuple[Store, list[str]]:
    """Two saves of one bundle of ``files`` patterns, the second changing every tenth: (store, tree ids).

    The second save's tree and commit stay loose, so gc rewrites the pack and plans deltas.
    """
    store = Store.init(path)
    pack = store.objects.new_pack()
    parent: tuple[str, ...] = ()
    trees = []
    for step in range(2):
        entries = []
        for index in range(files):
            edit = step if index % 10 == 0 else 0
            pattern = f'{{"pattern_id": "p{index}", "edit": {edit}, "steps": "{"C-4 " * 80}"}}\n'.encode()
            oid = store.objects.put_bytes(pattern, pack).oid
            entries.append(TreeEntry(f"patterns/p{index:06d}.json", oid, len(pattern), "pattern"))
        tree = Tree("big", None, tuple(entries))
        trees.append(store.objects.put_bytes(tree.encode(), pack if step == 0 else None).oid)
        commit = Commit(tree.id, parent, "big", "import", f"save {step}", "t", WHEN)
        store.objects.put_bytes(commit.encode(), pack if step == 0 else None)
        parent = (commit.id,)
    store.objects.publish(pack)
    store.refs.compare_and_swap("big/heads/main", None, parent[0], "import", WHEN)
    return store, trees


def _transient(action: Callable[[], object]) -> tuple[int, int]:
    """Return the traced (peak, peak less what is still held when ``action`` returns)."""
    collector.collect()
    tracemalloc.start()
    try:
        held = action()
        current, peak = tracemalloc.get_traced_memory()
        del held
        return peak, peak - current
    finally:
        tracemalloc.stop()


def _stores(tmp_path: Path) -> list[Store]:
    stores = [_bundle_store(tmp_path / str(files), files)[0] for files in SIZES]
    for store in stores:
        assert fsck(store, quick=True).ok  # and the pack's index and the modules are loaded
    return stores


def _per_file(costs: list[int]) -> float:
    return (costs[1] - costs[0]) / (SIZES[1] - SIZES[0])


def test_walking_a_big_tree_holds_little_per_file(tmp_path: Path) -> None:
    # What the walk must keep (one entry per object reached) is returned; the rest is how
    # the trees were read.
    costs = [_transient(lambda: reachable(store, roots(store, None)))[1] for store in _stores(tmp_path)]  # noqa: B023
    per_file = _per_file(costs)
    assert per_file < WALK_FILE_BUDGET, f"reading trees takes {per_file:.0f} bytes per file (budget {WALK_FILE_BUDGET})"


def test_planning_deltas_between_big_trees_holds_little_per_file(tmp_path: Path) -> None:
    costs = []
    for store in _stores(tmp_path):
        starts = roots(store, None)
        keep = reachable(store, starts)
        costs.append(_transient(lambda: plan_deltas(store, starts, keep))[0])  # noqa: B023
    per_file = _per_file(costs)
    assert per_file < PLAN_FILE_BUDGET, f"planning takes {per_file:.0f} bytes per file (budget {PLAN_FILE_BUDGET})"


def test_fsck_and_gc_read_no_tree_whole(tmp_path: Path) -> None:
    store, trees = _bundle_store(tmp_path / "store", 300)
    whole: list[str] = []
    read_bytes = store.objects.read_bytes

    def recorded(oid: str, size: int | None = None) -> bytes:
        whole.append(oid)
        return read_bytes(oid, size)

    store.objects.read_bytes = recorded  # type: ignore[method-assign]
    report = fsck(store)
    assert report.ok and report.trees == 2
    gc(store, timedelta(days=14))
    assert fsck(store).ok
    assert whole and not set(whole) & set(trees)  # commits are read whole; trees stream
