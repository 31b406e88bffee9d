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

from casstore.history.fsck import fsck
from casstore.history.gc import gc
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
