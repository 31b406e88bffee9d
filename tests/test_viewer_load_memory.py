"""The viewer's history, last import and samples never decode a tree into an object per file (issue 17).

At 100,000 files a tree of TreeEntry objects is ~30 MiB beside its bytes; these reads
check and look up trees through model/tree_table.py instead. Counted, not timed.
"""

from __future__ import annotations

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
