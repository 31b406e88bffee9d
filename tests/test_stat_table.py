"""The compact stat cache (issue 17): what it remembers, what a damaged one costs, and shortcuts that stay right."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casstore import import_bundle, record_autosave
from casstore.bundles import snapshot
from casstore.bundles.snapshot import loads_with_files
from casstore.bundles.stat_table import CachedFile, StatTable, merge
from casstore.model.objects import Tree, TreeEntry, decode_listing
from casstore.storage import canonical
from casstore.storage.refs import ref_name
from casstore.storage.store import Store
from casstore.workdir.statcache import cache_key, load_dir_cache, save_dir_cache
from casstore.workdir.worktree import checkout, status


def _age(directory: Path) -> None:
    """Date every file a minute back, out of the stat cache's racy window (no sleeping)."""
    past = time.time() - 60
    for path in directory.rglob("*"):
        os.utime(path, (past, past))


def _files(count: int, seed: int = 7) -> dict[str, CachedFile]:
    rng = random.Random(seed)
    names = ["a", "a.b", "a/b", "é/z", 'q"uote', "sp ace", "z}"]
    return {
        f"{rng.choice(names)}/{index}": CachedFile(
            rng.randrange(2**40), rng.randrange(-(2**62), 2**62), rng.randrange(2**63), f"{rng.getrandbits(256):064x}"
        )
        for index in range(count)
    }


def test_the_store_cache_round_trips_and_a_damaged_one_only_costs_a_rehash(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    root = tmp_path / "dir"
    files = _files(50)
    store.backend.put(cache_key(root).removesuffix(".stat") + ".json", b"{}")  # an older version's cache
    save_dir_cache(store, root, files, 123, ("p", "t" * 64), {"manifest": None})
    loaded = load_dir_cache(store, root)
    assert dict(loaded.files.items()) == files and list(loaded.files) == sorted(files)
    assert (loaded.written_at_ns, loaded.tree_for("p"), loaded.check) == (123, "t" * 64, {"manifest": None})
    assert not store.backend.has(cache_key(root).removesuffix(".stat") + ".json")  # superseded, removed

    raw = bytearray(store.backend.get(cache_key(root)))
    raw[len(raw) // 2] ^= 1
    store.backend.put(cache_key(root), bytes(raw))
    assert len(load_dir_cache(store, root).files) == 0  # a cache: damaged means empty, never wrong
    assert len(load_dir_cache(store, tmp_path / "other").files) == 0


def test_checkout_markers_read_alike_whatever_their_json_layout() -> None:
    files = {path: cached.as_json() for path, cached in _files(40, seed=3).items()}
    files["legacy"] = [1, 2, 3, "ab" * 32]  # written before ctime was kept
    item = {"casstore_checkout": 1, "project": "p", "commit": "c", "tree": "t", "written_at_ns": 9, "files": files}
    compact = loads_with_files(canonical.dumps_line(item))
    spaced = loads_with_files(json.dumps(item, indent=1).encode())  # not as casstore writes it: the JSON path
    expected = {path: CachedFile.from_json(value) for path, value in files.items()}
    for parsed in (compact, spaced):
        table = parsed.pop("files")
        assert isinstance(table, StatTable) and dict(table.items()) == expected
        assert parsed == {k: v for k, v in item.items() if k != "files"}


def test_a_trees_listing_reads_as_the_tree_does() -> None:
    rng = random.Random(11)
    for size in (1, 2, 30):
        paths = sorted({f"{rng.choice(['a', 'a.b', 'é', 'x y'])}/{rng.randrange(99)}" for _ in range(size)})
        entries = [TreeEntry(p, f"{rng.getrandbits(256):064x}", rng.randrange(10**9), "pattern") for p in paths]
        entries.append(TreeEntry("project_manifest.json", "f" * 64, 1, "manifest"))
        tree = Tree('p"id', "f" * 64, tuple(sorted(entries, key=lambda e: e.path)))
        listing = decode_listing(tree.id, tree.encode())
        decoded = Tree.decode(tree.id, tree.encode())
        assert listing.paths == [e.path for e in decoded.entries] and listing.manifest == decoded.manifest
        assert listing.digests == b"".join(bytes.fromhex(e.sha256) for e in decoded.entries)


def test_an_unchanged_autosave_keeps_the_manifests_findings_without_reading_it(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.init(tmp_path / "store")
    (bundle / "patterns" / "verse.json").write_text("{}")  # the manifest's digest of it is stale now
    _age(bundle)
    first = record_autosave(store, bundle, "demo")
    second = record_autosave(store, bundle, "demo")
    assert first.mismatches and first.mismatches[0]["path"] == "patterns/verse.json"

    def refuse(*_args: object) -> None:
        raise AssertionError("the manifest was read again")

    monkeypatch.setattr(snapshot, "read_manifest_lenient", refuse)
    third = record_autosave(store, bundle, "demo")
    assert third.unchanged and third.commit == second.commit
    assert (third.mismatches, third.manifest_error, third.sampler_assets) == (
        first.mismatches,
        first.manifest_error,
        first.sampler_assets,
    )
    assert third.manifest_sha256 == first.manifest_sha256
    monkeypatch.undo()
    (bundle / "patterns" / "verse.json").write_bytes(b"[]")  # another edit: read, checked and stored again
    changed = record_autosave(store, bundle, "demo")
    assert not changed.unchanged and changed.mismatches[0]["path"] == "patterns/verse.json"


def test_status_keeps_its_findings_while_nothing_changes_and_follows_an_edit(bundle: Path, tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    import_bundle(store, bundle, "demo")
    head = store.refs.read(ref_name("demo", "heads", "main"))
    assert head is not None
    work = tmp_path / "work"
    checkout(store, head, work)
    _age(work)
    assert status(store, work).clean  # re-reads the aged files, keeps the manifest's findings
    assert status(store, work).clean and status(store, work).hashed == 0
    (work / "patterns" / "verse.json").write_text("{}")
    _age(work)
    report = status(store, work)
    assert report.modified == ["patterns/verse.json"]
    assert [m["path"] for m in report.manifest_mismatches] == ["patterns/verse.json"]
    again = status(store, work)  # cache only covers what matches the tree: the check is made again
    assert again.modified == report.modified and again.manifest_mismatches == report.manifest_mismatches


_names = st.text(alphabet="abcAB/._-é", min_size=1, max_size=6)
_records = st.builds(
    CachedFile,
    st.integers(0, 2**40),
    st.integers(0, 2**62),
    st.integers(0, 2**40),
    st.binary(min_size=32, max_size=32).map(bytes.hex),
    st.integers(0, 2**62),
)


@given(
    old=st.dictionaries(_names, _records, max_size=30),
    new=st.dictionaries(_names, _records, max_size=30),
    dropped=st.sets(_names, max_size=10),
)
def test_merging_two_tables_keeps_what_stat_table_of_both_would(
    old: dict[str, CachedFile], new: dict[str, CachedFile], dropped: set[str]
) -> None:
    old_table, new_table = StatTable.of(old.items()), StatTable.of(new.items())
    merged = merge(old_table, lambda path: path not in dropped, new_table)
    expected = StatTable.of([*((p, c) for p, c in old.items() if p not in dropped and p not in new), *new.items()])
    assert merged.paths == expected.paths and bytes(merged.records) == bytes(expected.records)
