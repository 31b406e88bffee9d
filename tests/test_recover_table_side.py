"""Recovery summaries read trees as tables (issue 17): the same files, the same differences, no TreeEntry.

A side built from a :class:`TreeTable` must answer every question diff asks of a side built
from a decoded :class:`Tree`: these compare the two on random trees, and the listing's
summaries against diffs of Tree-built sides on a real store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_probes import bundle_store

import casstore
from casstore import record_autosave
from casstore.diff.inputs import FileFacts, TableFiles, differing_paths, side_from_tree
from casstore.diff.semantic import diff_sides
from casstore.history.commits import read_commit, read_tree
from casstore.model import objects
from casstore.model.objects import Tree, TreeEntry
from casstore.model.tree_table import decode_table
from casstore.workdir.recover import list_recovery_points, summarize

names = st.sampled_from(["a", "b", "c", "d/e", "d/f", "g.json", "h"])
digests = st.sampled_from(["0" * 64, "1" * 64, "f" * 64])
listings = st.dictionaries(names, st.tuples(digests, st.integers(0, 3)), max_size=7)


def _table_and_dict(listing: dict[str, tuple[str, int]]) -> tuple[TableFiles, dict[str, FileFacts]]:
    entries = tuple(TreeEntry(p, sha, size, "file") for p, (sha, size) in sorted(listing.items()))
    table = decode_table("t", Tree("p", None, entries).encode())
    return TableFiles(table), {e.path: FileFacts(e.sha256, e.size) for e in entries}


@settings(max_examples=200)
@given(listings, listings)
def test_table_files_answer_as_the_dict_of_facts_does(
    old: dict[str, tuple[str, int]], new: dict[str, tuple[str, int]]
) -> None:
    old_table, old_dict = _table_and_dict(old)
    new_table, new_dict = _table_and_dict(new)
    assert list(old_table) == list(old_dict) and len(old_table) == len(old_dict)
    for path in [*old_dict, "zz", "", "d"]:
        assert old_table.get(path) == old_dict.get(path)
        assert (path in old_table) == (path in old_dict)
    with pytest.raises(KeyError):
        old_table["zz"]
    assert differing_paths(old_table, new_table) == differing_paths(old_dict, new_dict)
    expected = {p for p in set(old_dict) | set(new_dict) if old_dict.get(p) != new_dict.get(p)}
    assert differing_paths(old_dict, new_dict) == expected


def test_the_listing_summarises_as_tree_sides_would_and_builds_no_tree_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scale_build  # bench/, on the path once store_probes is imported

    store, work = bundle_store(tmp_path, 400, "tables")
    scale_build.edit(work, 7)
    (work / "extra.txt").write_text("an unlisted file\n")
    with scale_build.fast_writes():
        record_autosave(store, work, "p0")
    head = read_commit(store, store.refs.read("p0/heads/main") or "").tree
    head_side = side_from_tree(store, read_tree(store, head), "head", head)
    expected = {}
    for full, oid in store.refs.list("p0", "autosave").items():
        tree = read_commit(store, oid).tree
        other = side_from_tree(store, read_tree(store, tree), "x", tree)
        expected[full] = summarize(diff_sides(head_side, other))
    made = []

    class Counting(objects.TreeEntry):  # type: ignore[misc]
        __slots__ = ()

        def __init__(self, *args: object) -> None:
            made.append(1)
            super().__init__(*args)

    monkeypatch.setattr(objects, "TreeEntry", Counting)
    points = list_recovery_points(store, "p0")
    offer = casstore.safe_recovery_offer(store, "p0")
    assert {p.ref: p.summary for p in points if p.kind == "autosave"} == expected
    assert "file extra.txt added" in "".join(expected.values())
    assert offer is not None and offer.summary == expected[offer.ref]
    assert made == []
