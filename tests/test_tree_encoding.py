"""A tree's hand-built encoding is byte for byte the generic canonical JSON: ids never depend on which encoder ran."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from casstore.bundles.tree_store import table_chunks, table_tree
from casstore.errors import CorruptObject
from casstore.model.objects import Tree, TreeEntry, _decode_canonical_tree, tree_chunks
from casstore.model.tree_scan import TreeScan
from casstore.storage import canonical

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
entries = st.builds(TreeEntry, text, text, st.integers(min_value=0, max_value=2**63), text)


@given(text, st.none() | text, st.lists(entries, max_size=6))
@example("p", None, [])
@example('q"\\\u2028é\x00', "m", [TreeEntry("a/b.json", "0" * 64, 0, "pattern")])
def test_tree_encoding_is_the_canonical_json(project: str, manifest: str | None, items: list[TreeEntry]) -> None:
    tree = Tree(project, manifest, tuple(items))
    generic = canonical.dumps(
        {
            "tree_version": 1,
            "project_id": project,
            "manifest": manifest,
            "entries": [entry.as_json() for entry in sorted(items, key=lambda e: e.path)],
        }
    )
    assert tree.encode() == generic
    assert b"".join(tree_chunks(tree, chunk_size=50)) == generic  # what an import streams into the store
    assert canonical.loads(tree.encode())["entries"] == [e.as_json() for e in sorted(items, key=lambda e: e.path)]


ids = st.text("0123456789abcdef", min_size=64, max_size=64)
roles = st.sampled_from(["manifest", "pattern", "mixer_snapshot", "sampler_asset", "file"])
segment = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\:"), min_size=1, max_size=8)
paths = st.lists(segment, min_size=1, max_size=3).map("/".join)
valid_entries = st.builds(TreeEntry, paths, ids, st.integers(min_value=0, max_value=2**63), roles)


@given(text, st.lists(valid_entries, max_size=8), st.data())
@example('q"\\\u2028é', [TreeEntry('a "quoted"/b\u00e9.json', "0" * 64, 10**18, "pattern")], None)
def test_a_tree_read_from_its_bytes_is_the_tree_json_reads(
    project: str, items: list[TreeEntry], data: st.DataObject
) -> None:
    """The canonical fast path and the json reader agree: the same tree, or both refuse it."""
    items = sorted(items, key=lambda e: e.path)
    manifests = [e.sha256 for e in items if e.role == "manifest"]
    manifest = data.draw(st.sampled_from([None, *manifests])) if data is not None else None
    raw = Tree(project, manifest, tuple(items)).encode()
    if items:  # the canonical bytes take the fast path, and it reads what json reads
        assert _decode_canonical_tree(raw) == Tree._decode_json("t", raw)
    for shape in (raw, raw.replace(b"\n  ", b"\n ")):  # canonical, and a shape only json reads
        try:
            via_json: Tree | str = Tree._decode_json("t", shape)
        except Exception as exc:  # noqa: BLE001 - compared below, as the fast path's outcome
            via_json = type(exc).__name__
        try:
            decoded: Tree | str = Tree.decode("t", shape)
        except CorruptObject as exc:
            decoded = type(exc).__name__
        if isinstance(decoded, Tree):
            assert decoded == via_json
            assert decoded.encode() == raw
        else:
            assert decoded == "CorruptObject"


@given(text, st.lists(valid_entries, max_size=8, unique_by=lambda e: e.path), st.integers(min_value=1, max_value=200))
@example('q"\\\u2028é', [TreeEntry('a "quoted"/b\u00e9.json', "0" * 64, 2**63 - 1, "pattern")], 50)
def test_an_imports_compact_tree_encodes_as_the_tree_does(project: str, items: list[TreeEntry], chunk: int) -> None:
    """What an import hashes and stores from its compact table is the tree's canonical encoding, byte for byte."""
    items = sorted(items, key=lambda e: e.path)
    manifest = next((e.sha256 for e in items if e.role == "manifest"), None)
    tree = Tree(project, manifest, tuple(items))
    table = TreeScan.of(tree, len(tree.encode()))
    assert b"".join(table_chunks(table, chunk_size=chunk)) == tree.encode()
    assert table_tree(table) == tree
