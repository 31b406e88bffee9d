"""A tree scanned from its chunks is the tree Tree.decode reads, or left to Tree.decode: never a different answer."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import example, given
from hypothesis import strategies as st

from casstore.errors import CorruptObject
from casstore.model.objects import ROLES, Tree, TreeEntry
from casstore.model.paths import path_problem
from casstore.model.tree_scan import _PLAIN_PATH, TreeScan, scan_tree

ids = st.text("0123456789abcdef", min_size=64, max_size=64)
roles = st.sampled_from(ROLES)
# Paths that often break a rule too: control characters, backslashes, '.', '..', colons,
# reserved names, case twins and long names all come up.
segment = st.one_of(
    st.text("abAB01._- ", min_size=1, max_size=6),
    st.text("abAB01._- ", min_size=1, max_size=6),
    st.sampled_from([".", "..", ".casstore", "A", "a", "é", "e\u0301", "x" * 256, "C:"]),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=6),
    st.text("abAB._- :\\\x01", min_size=1, max_size=6),
)
paths = st.lists(segment, min_size=1, max_size=3).map("/".join)
sizes = st.integers(min_value=0, max_value=2**64)
entries = st.builds(TreeEntry, paths, ids, sizes, roles)


def _chunked(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(raw), *(cut % (len(raw) + 1) for cut in cuts)})
    return [raw[a:b] for a, b in pairwise(points)]


def _entries(scan: TreeScan) -> list[TreeEntry]:
    return [scan.entry(at) for at in range(len(scan))]


def _agrees(raw: bytes, cuts: list[int]) -> None:
    """``scan_tree`` over any chunking of ``raw`` is Tree.decode's tree; None when Tree.decode refuses it."""
    try:
        decoded: Tree | None = Tree.decode("t", raw)
    except CorruptObject:
        decoded = None
    for chunks in ([raw], _chunked(raw, cuts), [raw[i : i + 1] for i in range(len(raw))]):
        scan = scan_tree(chunks)
        if scan is None:
            # Left to Tree.decode: a tree it refuses, or one in no canonical shape (no entries).
            assert decoded is None or not decoded.entries or raw != decoded.encode()
            continue
        assert decoded is not None, "the scan passed a tree Tree.decode refuses"
        assert (scan.project_id, scan.manifest) == (decoded.project_id, decoded.manifest)
        assert _entries(scan) == list(decoded.entries)
        assert scan.length == len(raw)


@given(st.text(max_size=8), st.lists(entries, max_size=6), st.data(), st.lists(st.integers(0, 10**6), max_size=4))
@example("p", [TreeEntry("a/b.json", "0" * 64, 5, "pattern")], None, [])
def test_a_scanned_tree_is_what_tree_decode_reads(
    project: str, items: list[TreeEntry], data: st.DataObject | None, cuts: list[int]
) -> None:
    manifests = [e.sha256 for e in items if e.role == "manifest"]
    manifest = data.draw(st.sampled_from([None, "f" * 64, *manifests])) if data is not None else None
    ordered = Tree(project, manifest, tuple(items)).encode()
    _agrees(ordered, cuts)
    # Entries as given, not sorted: out of order and listed twice must be refused as well.
    shuffled = Tree(project, manifest, ())
    head, _, tail = shuffled.encode().partition(b"]")
    body = b",".join(Tree("p", None, (e,)).encode().split(b"[", 1)[1].rsplit(b"\n  ]", 1)[0] for e in items)
    _agrees(head + body + (b"\n  ]" if items else b"]") + tail, cuts)


def test_every_valid_tree_of_plain_paths_scans() -> None:
    items = tuple(
        TreeEntry(f"patterns/p{index:03d}.json", f"{index:064x}", index * 7, ROLES[index % len(ROLES)])
        for index in range(300)
    )
    tree = Tree("proj", items[0].sha256, items)
    raw = tree.encode()
    scan = scan_tree(_chunked(raw, [1, 7000, 7001, 20000]))
    assert scan is not None and _entries(scan) == list(items) and scan.manifest == items[0].sha256
    assert TreeScan.of(tree, len(raw)).digests == scan.digests


@given(st.text(max_size=12) | paths)
@example(".casstore-checkout.json/x")
@example("a/../b")
@example("x" * 255 + "/" + "y" * 256)
def test_the_fast_path_check_passes_only_valid_paths(path: str) -> None:
    encoded = path.encode("utf-8", "surrogatepass")
    if _PLAIN_PATH.fullmatch(encoded):
        assert path_problem(path) is None, path


def test_damage_leaves_the_tree_to_tree_decode() -> None:
    items = tuple(TreeEntry(f"p{index}.json", f"{index:064x}", index, "pattern") for index in range(50))
    raw = Tree("proj", None, items).encode()
    assert scan_tree([raw]) is not None
    for damaged in (raw[:-1], raw[:5000], raw.replace(b'"p1.json"', b'"p9.json"'), raw.replace(b"p7.json", b"P0.json")):
        assert scan_tree([damaged]) is None
