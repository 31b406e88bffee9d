"""A tree read as a table (no object per entry) is read_tree's tree, and is refused as read_tree refuses it."""

from __future__ import annotations

import io
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from casstore.errors import CorruptObject
from casstore.model import tree_table
from casstore.model.objects import Tree, TreeEntry
from casstore.model.tree_scan import scan_tree
from casstore.model.tree_table import decode_table, read_tree_table
from casstore.storage.store import Store

ids = st.text("0123456789abcdef", min_size=64, max_size=64)
roles = st.sampled_from(["manifest", "pattern", "mixer_snapshot", "sampler_asset", "file"])
segment = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\:"), min_size=1, max_size=8)
paths = st.lists(segment, min_size=1, max_size=3).map("/".join)
entries = st.builds(TreeEntry, paths, ids, st.integers(min_value=0, max_value=2**64), roles)
DIGEST = "a" * 64


def outcome(decode: object, raw: bytes) -> object:
    try:
        got = decode("t", raw)  # type: ignore[operator]
    except CorruptObject as exc:
        return str(exc)
    return (got.project_id, got.manifest, list(got.entries() if callable(got.entries) else got.entries))


@given(st.text(max_size=8), st.lists(entries, max_size=8), st.data())
@example("p", [TreeEntry("a", DIGEST, 2**64, "file")], None)  # a size past 64 bits: read, as Tree.decode reads it
def test_a_table_holds_what_tree_decode_reads(project: str, items: list[TreeEntry], data: st.DataObject) -> None:
    manifests = [e.sha256 for e in items] + [DIGEST]
    manifest = data.draw(st.sampled_from([None, *manifests])) if data is not None else None
    raw = Tree(project, manifest, tuple(items)).encode()
    for shape in (raw, raw.replace(b"\n  ", b"\n ")):  # canonical, and a shape only json reads
        assert outcome(decode_table, shape) == outcome(Tree.decode, shape)
        assert outcome(streamed(data.draw(st.integers(1, 40)) if data is not None else 1), shape) == outcome(
            decode_table, shape
        )


def streamed(chunk: int) -> object:
    """Decode as read_tree_table does, scanning as the bytes come ``chunk`` at a time (Tree.decode when None)."""

    def decode(oid: str, raw: bytes) -> object:
        stream = io.BytesIO(raw)
        table = scan_tree(iter(lambda: stream.read(chunk), b""))
        return table if table is not None else decode_table(oid, raw)

    return decode


BAD = {
    "unsorted": [TreeEntry("b", DIGEST, 1, "file"), TreeEntry("a", DIGEST, 1, "file")],
    "duplicate": [TreeEntry("a", DIGEST, 1, "file"), TreeEntry("a", DIGEST, 1, "file")],
    "case collision": [TreeEntry("A", DIGEST, 1, "file"), TreeEntry("a", DIGEST, 1, "file")],
    "under a file": [TreeEntry("a", DIGEST, 1, "file"), TreeEntry("a/b", DIGEST, 1, "file")],
    "escaping path": [TreeEntry("../x", DIGEST, 1, "file")],
    "bad digest": [TreeEntry("a", "A" * 64, 1, "file")],
    "bad role": [TreeEntry("a", DIGEST, 1, "sample")],
    "negative size": [TreeEntry("a", DIGEST, -1, "file")],
}


def _raw(items: list[TreeEntry], manifest: str | None = None) -> bytes:
    # Tree.encode sorts; write the entries in the order given, canonically.
    head, _, tail = Tree("p", manifest, (TreeEntry("x", DIGEST, 0, "file"),)).encode().partition(b"\n  ],")
    body = b",".join(Tree("p", None, (e,)).encode().split(b'"entries": [', 1)[1].rsplit(b"\n  ],", 1)[0] for e in items)
    return head.split(b'"entries": [', 1)[0] + b'"entries": [' + body + b"\n  ]," + tail


@pytest.mark.parametrize("problem", sorted(BAD))
def test_a_bad_tree_is_refused_in_tree_decodes_words(problem: str) -> None:
    raw = _raw(BAD[problem])
    with pytest.raises(CorruptObject) as expected:
        Tree.decode("t", raw)
    with pytest.raises(CorruptObject) as got:
        decode_table("t", raw)
    assert str(got.value) == str(expected.value)
    for chunk in (1, 5, 1 << 20):
        with pytest.raises(CorruptObject) as got:
            streamed(chunk)("t", raw)  # type: ignore[operator]
        assert str(got.value) == str(expected.value)


def test_a_manifest_not_among_the_entries_is_refused() -> None:
    raw = _raw([TreeEntry("a", DIGEST, 1, "file")], manifest=DIGEST)
    with pytest.raises(CorruptObject, match="its manifest is not among its entries"):
        decode_table("t", raw)


def test_a_table_of_many_files_holds_no_object_per_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """10,000 files: the table is far below the TreeEntry tuple read_tree builds (issue 17)."""
    monkeypatch.setattr(tree_table, "_READ_CHUNK", 1 << 16)  # read in chunks far smaller than the tree
    store = Store.init(tmp_path / "store")
    n = 10_000
    items = tuple(TreeEntry(f"patterns/p{i:05d}.json", f"{i:064x}", 100 + i, "pattern") for i in range(n))
    oid = store.objects.put_bytes(Tree("p", None, items).encode()).oid
    # Read once first and kept: its interned paths are shared, and one-time buffers, caches and
    # the growth of the interpreter's intern table are not charged to the second read.
    first = read_tree_table(store, oid)
    tracemalloc.start()
    try:
        table = read_tree_table(store, oid)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(table) == n and table.entry(7) == items[7] and table.index("patterns/p00007.json") == 7
    assert table.paths[7] is first.paths[7]
    # 8 B list slot + 32 B digest + 8 B size + 1 B role a file (TreeEntry with its digest str: ~230 B more).
    assert held < 60 * n, held
    own = sum(map(sys.getsizeof, (table.paths, table.digests, table.sizes, table.roles, *table.paths)))
    assert own < 130 * n, own
    # Scanned as it is read: the tree's bytes are never held whole (read whole: 1.2x them more).
    assert peak < held + 0.5 * len(Tree("p", None, items).encode()), peak


def test_only_a_table_read_to_share_its_paths_interns_them(tmp_path: Path) -> None:
    """gc's and fsck's walks leave the intern table alone: CI caught their peak following its size."""
    store = Store.init(tmp_path / "store")
    path = "patterns/only-here-0c1e.json"
    oid = store.objects.put_bytes(Tree("p", None, (TreeEntry(path, DIGEST, 1, "pattern"),)).encode()).oid
    walked = read_tree_table(store, oid, share_paths=False)
    assert sys.intern("".join(["patterns/only-here-", "0c1e.json"])) is not walked.paths[0]
    shared = read_tree_table(store, oid)
    assert sys.intern("".join(["patterns/only-here-", "0c1e.json"])) is shared.paths[0]
