"""The one graph walker: each object once, one back-pointer each, paths built only when asked."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from casstore.history.fsck import fsck
from casstore.history.reachability import GraphWalk
from casstore.model.objects import Commit, Tree, TreeEntry
from casstore.storage.ids import id_of_bytes
from casstore.storage.store import Store


def _history(length: int) -> tuple[dict[str, bytes], str, str, str]:
    """A chain of ``length`` commits over one tree of one blob; returns objects, head, first commit, blob."""
    blob = b"RIFF one sample\n"
    blob_id = id_of_bytes(blob)
    tree = Tree("deep", None, (TreeEntry("assets/kick.wav", blob_id, len(blob), "sampler_asset"),))
    objects = {blob_id: blob, tree.id: tree.encode()}
    parent: list[str] = []
    first = ""
    for n in range(length):
        commit = Commit(tree.id, tuple(parent), "deep", "autosave", f"take {n}", "t", "2026-01-01T00:00:00Z")
        objects[commit.id] = commit.encode()
        parent = [commit.id]
        first = first or commit.id
    return objects, parent[0], first, blob_id


def _walk(objects: dict[str, bytes], head: str) -> GraphWalk:
    walk = GraphWalk(lambda oid, _what: objects.get(oid))
    walk.from_commit(head, "ref deep/heads/main")
    return walk


def test_each_object_once_and_the_path_is_built_from_back_pointers() -> None:
    objects, head, first, blob = _history(50)
    walk = _walk(objects, head)
    assert walk.commits == 50 and walk.trees == 1 and walk.reached() == set(objects)
    path = walk.path(first)
    assert path.startswith("ref deep/heads/main → parent of ") and path.count("parent of") == 49
    assert walk.path(blob) == f"ref deep/heads/main → commit {head[:12]} → deep:assets/kick.wav"


def _peak_bytes(length: int) -> int:
    objects, head, _first, _blob = _history(length)
    tracemalloc.start()
    _walk(objects, head)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_grows_linearly_with_history_not_quadratically() -> None:
    # Before, every object kept its whole "reached from" path: 5,000 commits took 2.4 GiB.
    small, large = _peak_bytes(1_000), _peak_bytes(4_000)
    assert large < 6 * small, (small, large)  # 4x the commits: ~4x the memory (quadratic: ~16x)
    assert large < 8 << 20


def test_fsck_names_the_full_path_to_a_missing_blob_deep_in_history(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    kept, lost = b"RIFF a kept take\n", b"RIFF a lost take\n"
    store.objects.put_bytes(kept)  # the lost take is never stored
    tree = Tree("deep", None, (TreeEntry("assets/kept.wav", id_of_bytes(kept), len(kept), "sampler_asset"),))
    old_tree = Tree("deep", None, (TreeEntry("assets/lost.wav", id_of_bytes(lost), len(lost), "sampler_asset"),))
    store.objects.put_bytes(tree.encode())
    store.objects.put_bytes(old_tree.encode())
    chain = [Commit(old_tree.id, (), "deep", "autosave", "take 0", "t", "2026-01-01T00:00:00Z")]
    for n in range(1, 30):
        chain.append(Commit(tree.id, (chain[-1].id,), "deep", "autosave", f"take {n}", "t", "2026-01-01T00:00:00Z"))
    for commit in chain:
        store.objects.put_bytes(commit.encode())
    store.objects.sync()
    store.refs.compare_and_swap("deep/heads/main", None, chain[-1].id, "test", "2026-01-01T00:00:00Z")
    report = fsck(store)
    missing = [f for f in report.findings if f.kind == "missing"]
    assert [f.subject for f in missing] == [id_of_bytes(lost)]
    path = missing[0].reached_from or ""
    assert path.startswith("ref deep/heads/main → parent of ") and path.count("parent of") == 29
    assert path.endswith(f"commit {chain[0].id[:12]} → deep:assets/lost.wav")
    assert report.commits == 30 and report.trees == 2 and not report.ok


def _fsck_peak(tmp_path: Path, length: int) -> int:
    """Peak memory of a quick fsck over a store whose one ref has ``length`` commits of history."""
    store = Store.init(tmp_path / f"store-{length}")
    sample = b"RIFF one take\n"
    store.objects.put_bytes(sample)
    tree = Tree("deep", None, (TreeEntry("assets/take.wav", id_of_bytes(sample), len(sample), "sampler_asset"),))
    store.objects.put_bytes(tree.encode())
    parents: tuple[str, ...] = ()
    for n in range(length):
        commit = Commit(tree.id, parents, "deep", "autosave", f"take {n}", "t", "2026-01-01T00:00:00Z")
        store.objects.put_bytes(commit.encode())
        parents = (commit.id,)
    store.objects.sync()
    store.refs.compare_and_swap("deep/heads/main", None, parents[0], "test", "2026-01-01T00:00:00Z")
    tracemalloc.start()
    report = fsck(store, quick=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.ok and report.commits == length
    return peak


@pytest.mark.slow
def test_fsck_memory_is_linear_in_history(tmp_path: Path) -> None:
    # Measured before the one walker: 1,000 commits 25 MiB, 3,000 commits 217 MiB (quadratic).
    small, large = _fsck_peak(tmp_path, 500), _fsck_peak(tmp_path, 1_500)
    assert large < 4.5 * small, (small, large)  # 3x the history: ~3x the memory (quadratic: ~9x)


def _store_with_two_problems(root: Path) -> tuple[Store, str, str, str]:
    """A store whose head tree claims a wrong size for a sample and whose older tree is damaged on disk."""
    store = Store.init(root)
    take, pattern = b"RIFF a take of 29 bytes.....\n", b'{"steps": []}\n'
    for content in (take, pattern):
        store.objects.put_bytes(content)
    entries = (
        TreeEntry("assets/take.wav", id_of_bytes(take), len(take) + 3, "sampler_asset"),
        TreeEntry("patterns/verse.json", id_of_bytes(pattern), len(pattern), "pattern"),
    )
    head_tree = Tree("deep", None, entries)
    old_tree = Tree("deep", None, entries[1:])
    for tree in (head_tree, old_tree):
        store.objects.put_bytes(tree.encode())
    old = Commit(old_tree.id, (), "deep", "import", "rev1", "t", "2026-01-01T00:00:00Z")
    head = Commit(head_tree.id, (old.id,), "deep", "import", "rev2", "t", "2026-01-02T00:00:00Z")
    for commit in (old, head):
        store.objects.put_bytes(commit.encode())
    store.objects.sync()
    store.refs.compare_and_swap("deep/heads/main", None, head.id, "test", "2026-01-02T00:00:00Z")
    stored = store.objects.path_for(old_tree.id)
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    stored.chmod(0o644)
    stored.write_bytes(bytes(raw))
    return store, head.id, head_tree.id, old_tree.id


def test_fsck_names_the_tree_and_path_that_claim_a_wrong_size(tmp_path: Path) -> None:
    store, head, head_tree, old_tree = _store_with_two_problems(tmp_path / "store")
    report = fsck(store)
    by_kind = {finding.kind: finding for finding in report.findings}
    assert sorted(by_kind) == ["corrupt", "invalid"] and not report.ok
    assert by_kind["invalid"].subject == head_tree
    assert by_kind["invalid"].detail == "assets/take.wav: tree says 32 bytes, object holds 29"
    assert by_kind["invalid"].reached_from == f"ref deep/heads/main → commit {head[:12]} → deep:assets/take.wav"
    assert by_kind["corrupt"].subject == old_tree
    # The quick check does not re-hash: it cannot know the sample's size, and does not guess.
    assert [f.kind for f in fsck(store, quick=True).findings] == ["corrupt"]
