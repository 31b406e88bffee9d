"""The viewer's history, last import and samples never decode a tree into an object per file (issue 17).

At 100,000 files a tree of TreeEntry objects is ~30 MiB beside its bytes; these reads
check and look up trees through model/tree_table.py instead. Counted, not timed.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from store_probes import bundle_store

import casstore
from casstore.model import objects


def test_history_last_import_and_samples_build_no_tree_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _work = bundle_store(tmp_path, 400)
    head = store.refs.read("p0/heads/main")
    assert head is not None
    expected = casstore.version_samples(store, head)
    made = []
    real = objects.TreeEntry

    class Counting(real):  # type: ignore[misc,valid-type]
        __slots__ = ()

        def __init__(self, *args: object) -> None:
            made.append(1)
            super().__init__(*args)

    monkeypatch.setattr(objects, "TreeEntry", Counting)
    versions = casstore.project_timeline(store, "p0")
    imported = casstore.last_import(store, "p0")
    samples = casstore.version_samples(store, head)
    assert versions and not versions[0].damaged
    assert imported is not None and list(imported.sampler_assets) == [s.name for s in samples]
    assert samples == expected and all(s.blob for s in samples)
    assert made == []


FILES = 4_000


def _peak(work: Callable[[], object]) -> int:
    """Return the traced peak above what was held before ``work`` (its result is dropped after)."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = work()
    peak = tracemalloc.get_traced_memory()[1] - before
    del result
    return peak


def test_a_version_opens_without_its_manifest_whole_or_a_dict_per_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 17: at 100,000 files the Version pane held the parsed manifest (~42 MB), a Tree
    # and a dict per line at once. Its lines, its samples and the last import now stream a
    # clean manifest (never read in one piece), and the pane's rows are made when read.
    from casstore.diff import compare
    from casstore.gui.viewmodels import TrackerMixerRoot
    from casstore.model import manifest_stream, tree_table

    monkeypatch.setattr(manifest_stream, "_CHUNK", 1 << 14)  # so that the cost per file shows at this size
    store, _work = bundle_store(tmp_path, FILES)
    head = store.refs.read("p0/heads/main")
    assert head is not None
    tree = casstore.show_revision(store, head).tree
    whole: list[str] = []
    for owner, name in ((store.objects, "read_bytes"), (tree_table, "read_object"), (compare, "read_object")):
        real = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *args, real=real: whole.append(args[-1]) or real(*args))
    vm = TrackerMixerRoot(str(store.root), "p0", None)
    vm.open_version(head)  # warm: imports, and the intern table the tree's paths grow once
    assert len(vm.revision_rows) > FILES * 9 // 10 and not isinstance(vm.revision_rows, list)
    assert casstore.last_import(store, "p0") is not None and vm.samples
    assert tree.manifest is not None and tree.manifest not in whole
    tracemalloc.start()
    try:
        table = _peak(lambda: tree_table.read_tree_table(store, tree.id))
        extra = _peak(lambda: casstore.revision_text(store, head)) - table
        vm.revision_rows = []
        held = tracemalloc.get_traced_memory()[0]
        vm.open_version(head)
        rows = tracemalloc.get_traced_memory()[0] - held
    finally:
        tracemalloc.stop()
    # Before: ~500 bytes a file beyond reading the tree (the parsed manifest, the Tree's entries).
    assert extra < 150 * FILES, extra // FILES
    # Before: ~550 bytes a file (a tuple and a dict per line); now the lines' text and offsets.
    assert rows < 120 * FILES, rows // FILES
