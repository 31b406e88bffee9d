"""Costs that must stay flat as a store grows: one project's refs, checkpoints named in one second."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from casstore.storage.store import Store
from casstore.workdir.checkpoints import checkpoint_order, prune_checkpoints

OID = "a" * 64
_scanned: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _scanned is not None and event in ("os.scandir", "os.listdir") and args:
        _scanned.append(str(args[0]))


sys.addaudithook(_audit)  # hooks cannot be removed: it records only while _scanned is a list


def test_listing_one_projects_refs_reads_only_its_own_folders(tmp_path: Path) -> None:
    global _scanned
    store = Store.init(tmp_path / "store")
    for index in range(30):
        for namespace, name in (("heads", "main"), ("autosave", "20261202-120000-m1"), ("tags", "v1")):
            store.refs.compare_and_swap(f"p{index}/{namespace}/{name}", None, OID, "test", "2026-12-02T12:00:00Z")
    refs_root = str(store.root / "refs")
    _scanned = []
    try:
        listed = store.refs.list("p7", "autosave")
        whole = store.refs.list("p7")
    finally:
        scanned, _scanned = _scanned, None
    assert listed == {"p7/autosave/20261202-120000-m1": OID}
    assert set(whole) == {"p7/heads/main", "p7/autosave/20261202-120000-m1", "p7/tags/v1"}
    under_refs = [path for path in scanned if path.startswith(refs_root)]
    assert under_refs, "the listing read no folder at all?"
    outside = [path for path in under_refs if not path.startswith(f"{refs_root}/p7")]
    assert outside == []  # before: every project's folders (refs/p0 … refs/p29) were walked and filtered


def test_checkpoints_named_in_one_second_are_pruned_by_number_not_by_text(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    for _ in range(12):  # one second: …-import, …-import.2, …, …-import.12
        store.refs.create_unique("demo", "checkpoints", "20261202-120000-import", OID, "test", "2026-12-02T12:00:00Z")
    pruned = prune_checkpoints(store, "demo", keep=3)
    kept = sorted(store.refs.list("demo", "checkpoints"), key=checkpoint_order)
    assert [name.rsplit("/", 1)[1] for name in kept] == [
        "20261202-120000-import.10",
        "20261202-120000-import.11",
        "20261202-120000-import.12",
    ]  # sorted as text, .10-.12 sort before .2 and were the ones pruned
    assert len(pruned) == 9


@given(
    st.lists(
        st.tuples(st.integers(0, 86399), st.integers(1, 2000), st.sampled_from(["import", "checkout", "recover"])),
        min_size=1,
        max_size=30,
        unique=True,
    )
)
def test_checkpoint_order_is_time_then_number(points: list[tuple[int, int, str]]) -> None:
    def name(second: int, seq: int, operation: str) -> str:
        stamp = f"20261202-{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}-{operation}"
        return f"demo/checkpoints/{stamp}" + ("" if seq == 1 else f".{seq}")

    names = [name(*point) for point in points]
    by_key = sorted(names, key=checkpoint_order)
    expected = [name(*point) for point in sorted(points, key=lambda p: (p[0], p[1], p[2]))]
    assert by_key == expected


def test_a_checkpoint_made_after_pruning_in_the_same_second_is_still_the_newest(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    base = "20261202-120000-import"
    for _ in range(30):  # pruning frees the oldest numbers; a new ref must not take one of them
        store.refs.create_unique("demo", "checkpoints", base, OID, "test", "2026-12-02T12:00:00Z")
        prune_checkpoints(store, "demo", keep=3)
    kept = sorted(store.refs.list("demo", "checkpoints"), key=checkpoint_order)
    assert [name.rsplit("/", 1)[1] for name in kept] == [f"{base}.28", f"{base}.29", f"{base}.30"]
