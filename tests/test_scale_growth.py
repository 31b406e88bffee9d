"""Growth guards (issue 17): fsck linear in history, one project's commands flat in the number of projects.

Both count work (objects read, bytes allocated, files opened, folders listed), never wall
time, so a loaded machine cannot make them pass or fail.
"""

from __future__ import annotations

import math
import os
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from store_probes import count_reads, count_span_reads

from casstore.history.fsck import fsck
from casstore.model.objects import Commit, Tree, TreeEntry
from casstore.storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import scale_build  # noqa: E402

WHEN = "2026-12-02T12:00:00Z"

# ---------------------------------------------------------------- fsck against history length


def _history_store(path: Path, length: int) -> Store:
    """A store whose project has ``length`` commits, each a save that changed one pattern.

    Built straight from model objects into one pack (an import per commit would take a
    minute at 5,000); the head moves once per commit, so the reflog is as long as history.
    """
    store = Store.init(path)
    sample = b"RIFF" + bytes(range(256)) * 8
    sample_entry = TreeEntry("assets/kick.wav", store.objects.put_bytes(sample).oid, len(sample), "sampler_asset")
    pack = store.objects.new_pack()
    chain: list[str] = []
    for step in range(length):
        pattern = f'{{"pattern_id": "p{step % 16}", "edit": {step}}}\n'.encode()
        pattern_oid = store.objects.put_bytes(pattern, pack).oid
        entry = TreeEntry(f"patterns/p{step % 16}.json", pattern_oid, len(pattern), "pattern")
        tree = Tree("long", None, (sample_entry, entry))
        store.objects.put_bytes(tree.encode(), pack)
        commit = Commit(tree.id, tuple(chain[-1:]), "long", "import", f"save {step}", "t", WHEN)
        store.objects.put_bytes(commit.encode(), pack)
        chain.append(commit.id)
    store.objects.publish(pack)
    with scale_build.fast_writes():  # the head moves every fifth save: a reflog as long as history
        old = None
        for oid in chain[4::5]:
            store.refs.compare_and_swap("long/heads/main", old, oid, "import", WHEN)
            old = oid
    return store


def _fsck_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, length: int) -> tuple[int, int]:
    """Objects fsck read (by id, counting repeats) and its peak traced memory, on a history of ``length``."""
    store = Store.open(_history_store(tmp_path / f"store-{length}", length).root)
    reads = count_reads(store)
    count_span_reads(monkeypatch, reads)
    tracemalloc.start()
    try:
        report = fsck(store)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.ok and report.commits == length and report.trees == length
    return sum(reads.values()), peak


def _exponent(small: tuple[int, int], large: tuple[int, int]) -> float:
    """Log-log slope between two (size, cost) points."""
    return math.log(large[1] / small[1]) / math.log(large[0] / small[0])


@pytest.mark.slow
def test_fsck_at_5000_commits_is_linear_and_under_100_mib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before the one walker: 1,000 commits 125 MiB, 5,000 commits 2.4 GiB (exponent 1.85).
    small_reads, small_peak = _fsck_work(tmp_path, monkeypatch, 1_000)
    large_reads, large_peak = _fsck_work(tmp_path, monkeypatch, 5_000)
    assert large_peak < 100 << 20, f"fsck at 5,000 commits peaked at {large_peak / 2**20:.1f} MiB"
    read_exponent = _exponent((1_000, small_reads), (5_000, large_reads))
    memory_exponent = _exponent((1_000, small_peak), (5_000, large_peak))
    assert read_exponent <= 1.1, (small_reads, large_reads, read_exponent)
    assert memory_exponent <= 1.1, (small_peak, large_peak, memory_exponent)


def test_fsck_reads_each_commit_and_tree_once_for_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads, _peak = _fsck_work(tmp_path, monkeypatch, 200)
    objects = 3 * 200 + 1  # commit, tree and pattern per save, plus the one sample
    assert reads == objects + 2 * 200  # each object re-hashed once, each commit and tree read once more


# ---------------------------------------------------------------- one project among many

_events: Counter[str] | None = None
_AUDITED = {"open": "opens", "os.scandir": "listings", "os.listdir": "listings"}


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _events is None or event not in _AUDITED:
        return
    if event != "open" and args and os.path.basename(os.fspath(args[0])) == "packs":  # type: ignore[arg-type]
        return  # worker threads that miss at once may each look for new packs: thread timing, not projects
    _events[_AUDITED[event]] += 1


sys.addaudithook(_audit)  # hooks cannot be removed: it records only while _events is a Counter


def _counted(action: Callable[[], object]) -> dict[str, int]:
    global _events
    _events = Counter()
    try:
        action()
    finally:
        counts, _events = _events, None
    return dict(counts)


def _store_with_projects(tmp_path: Path, others: int) -> tuple[Path, Path]:
    """A store holding project ``mine`` (two saves, an autosave) and ``others`` projects sharing its samples."""
    work = tmp_path / f"work-{others}"
    bundle = scale_build.bundle(work)
    store = scale_build.new_store(tmp_path / f"store-{others}")
    with scale_build.fast_writes():
        scale_build.history(store, bundle, 3, project="mine")  # import, autosave, import
        scale_build.projects(store, bundle, others)
    return store.root, bundle


def _per_project_costs(tmp_path: Path, others: int) -> dict[str, dict[str, int]]:
    from casstore import import_bundle, list_recovery_points, record_autosave

    root, bundle = _store_with_projects(tmp_path, others)
    past = time.time() - 60  # older than the stat cache's racy window, as a tablet's files are
    for path in bundle.rglob("*"):
        os.utime(path, (past, past))
    record_autosave(Store.open(root), bundle, "mine")  # fills the stat cache: the next one is unchanged
    costs = {
        "recover mine": _counted(lambda: list_recovery_points(Store.open(root), "mine")),
        "autosave unchanged": _counted(lambda: record_autosave(Store.open(root), bundle, "mine")),
    }
    scale_build.edit(bundle, 99)
    for path in bundle.rglob("*"):
        os.utime(path, (past, past))
    costs["import moving the head"] = _counted(lambda: import_bundle(Store.open(root), bundle, "mine"))
    return costs


def test_one_projects_commands_cost_the_same_with_10_or_1000_projects(tmp_path: Path) -> None:
    # Before: RefStore.list walked every project's folders, so these doubled from 1,000 to 5,000 projects.
    few, many = _per_project_costs(tmp_path, 10), _per_project_costs(tmp_path, 1_000)
    for command, counts in few.items():
        assert counts.get("opens", 0) > 0 and counts.get("listings", 0) > 0, (command, counts)
    assert many == few
