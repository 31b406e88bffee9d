"""Growth guard (issue 17): the recovery listing's work follows what changed, not the bundle's size.

At 100,000 files ``recover`` took 530 s: every point's summary diffed every manifest entry,
and the manifest's order check looked each id up in a list. These count work instead of
timing it: object reads, entries diffed and whole diffs, on a bundle of 300 and of 1,200
files where one pattern changed.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_probes import bundle_store, count_reads

from casstore import import_bundle, record_autosave
from casstore.diff import semantic
from casstore.storage.store import Store
from casstore.workdir import recover
from casstore.workdir.recover import list_recovery_points

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import scale_build  # noqa: E402


def _store(tmp_path: Path, files: int) -> tuple[Store, Path]:
    """A one-bundle store of ``files`` files: its import, then an autosave of the same directory."""
    return bundle_store(tmp_path / str(files), files, "growth")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count entries diffed one by one and whole diffs made while the test runs."""
    work: Counter[str] = Counter()
    modified, diff_sides = semantic._modified, recover.diff_sides

    def counted_modified(*args: Any) -> Any:
        work["entries diffed"] += 1
        return modified(*args)

    def counted_diff(*args: Any) -> Any:
        work["diffs"] += 1
        return diff_sides(*args)

    monkeypatch.setattr(semantic, "_modified", counted_modified)
    monkeypatch.setattr(recover, "diff_sides", counted_diff)
    yield work


def _listing_work(store: Store, work: Counter[str]) -> dict[str, int]:
    """Object reads, entries diffed and diffs of one recovery listing of ``p0``."""
    reads = count_reads(store)
    work.clear()
    points = list_recovery_points(store, "p0")
    assert points
    return {"reads": sum(reads.values()), "entries diffed": work["entries diffed"], "diffs": work["diffs"]}


def test_a_summary_diffs_only_the_changed_entries_whatever_the_bundle_size(
    tmp_path: Path, counted: Counter[str]
) -> None:
    costs = {}
    for files in (300, 1_200):
        store, work = _store(tmp_path, files)
        scale_build.edit(work, 7)  # one pattern's steps and its manifest digest
        with scale_build.fast_writes():
            record_autosave(store, work, "p0")
        costs[files] = _listing_work(store, counted)
        points = list_recovery_points(store, "p0")
        assert [p.summary for p in points] == ["vs head: pattern p0007 modified"]
    small, large = costs[300], costs[1_200]
    # One entry differs, so one entry is diffed; 4× the files must not mean more reads.
    assert small["entries diffed"] == large["entries diffed"] == 1, costs
    assert small["reads"] == large["reads"], costs
    assert small["diffs"] == large["diffs"] == 1, costs


def test_a_point_with_the_heads_tree_and_points_sharing_a_tree_cost_no_more_diffs(
    tmp_path: Path, counted: Counter[str]
) -> None:
    store, work = _store(tmp_path, 300)
    with scale_build.fast_writes():
        record_autosave(store, work, "p0")  # the head's own tree: nothing to diff
    assert _listing_work(store, counted)["diffs"] == 0
    scale_build.edit(work, 3)
    with scale_build.fast_writes():
        import_bundle(store, work, "p0")  # checkpoints the old head: the first autosave's tree
    scale_build.edit(work, 4)
    with scale_build.fast_writes():
        record_autosave(store, work, "p0")
    cost = _listing_work(store, counted)
    points = list_recovery_points(store, "p0")
    assert len(points) == 3 and len({p.tree for p in points}) == 2
    # Two distinct trees, neither the head's: two diffs of one entry each, not one per point.
    assert cost["diffs"] == 2 and cost["entries diffed"] == 2, cost
    assert [p.summary for p in points if p.kind == "checkpoint"] == ["vs head: pattern p0003 modified"]


def test_the_offer_diffs_only_the_autosave_it_offers(tmp_path: Path, counted: Counter[str]) -> None:
    from casstore import recovery_offer

    store, work = _store(tmp_path, 300)
    for step in (3, 4, 5):
        scale_build.edit(work, step)
        with scale_build.fast_writes():
            record_autosave(store, work, "p0")
    points = list_recovery_points(store, "p0")
    assert len({p.tree for p in points}) == 3
    counted.clear()
    offer = recovery_offer(store, "p0")
    # The listing diffs every tree; the offer shows one autosave, so it diffs one.
    assert counted["diffs"] == 1
    assert offer == next(p for p in points if p.kind == "autosave")
    assert offer is not None and offer.summary.startswith("vs head: pattern p0003 modified; pattern p0004")
