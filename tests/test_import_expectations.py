"""An import checks files against what the manifest says of each, held by position: messages are as before.

The manifest's records are let go before the files are hashed (issue 17); a message that
names an entry reads the manifest again, and must name the entry the records would have.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from casstore import import_bundle
from casstore.errors import BundleError, CasstoreError
from casstore.storage.store import Store


def test_of_two_mismatches_the_manifests_first_is_named(bundle: Path, tmp_path: Path) -> None:
    # By path, assets/ comes before patterns/; the manifest lists patterns first.
    (bundle / "assets" / "choir_pad_soft.wav").write_bytes(b"not the sample")
    (bundle / "patterns" / "verse.json").write_bytes(b"{}")
    store = Store.init(tmp_path / "store")
    with pytest.raises(BundleError) as raised:
        import_bundle(store, bundle)
    message = str(raised.value)
    assert "patterns['verse']: SHA-256 mismatch for 'patterns/verse.json'" in message
    assert f"file has {hashlib.sha256(b'{}').hexdigest()}" in message
    assert not any(ref.is_file() for ref in (tmp_path / "store" / "refs").rglob("*"))  # nothing committed


def test_an_empty_listed_file_is_named_by_its_entry(bundle: Path, tmp_path: Path) -> None:
    (bundle / "patterns" / "intro.json").write_bytes(b"")
    path = bundle / "project_manifest.json"
    manifest = json.loads(path.read_text())
    next(p for p in manifest["patterns"] if p["pattern_id"] == "intro")["sha256"] = hashlib.sha256(b"").hexdigest()
    path.write_text(json.dumps(manifest, indent=2))
    result = import_bundle(Store.init(tmp_path / "store"), bundle)
    assert "patterns['intro']: 'patterns/intro.json' is an empty file (0 bytes)" in result.warnings
    assert result.counts == {"patterns": 3, "mixer_snapshots": 2, "sampler_assets": 4, "files": 1}


def _edit(bundle: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = bundle / "project_manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        # Two entries, one file: the walk's paths are unique, the listed ones are not.
        (
            lambda m: m["mixer_snapshots"].append(m["mixer_snapshots"][0] | {"name": "again"}),
            ["mixer_snapshots['again']", "'mixer/verse_snapshot.json' is listed twice"],
        ),
        (
            lambda m: m["patterns"][0].update(path="project_manifest.json"),
            ["patterns['verse']", "'project_manifest.json' is listed twice"],
        ),
        (
            lambda m: m["patterns"][0].update(path="patterns/VERSE.json"),
            ["patterns['verse']", "listed file 'patterns/VERSE.json' is missing"],
        ),
    ],
)
def test_listed_paths_a_directory_does_not_hold_once_each_are_refused_as_before(
    bundle: Path, tmp_path: Path, change: Callable[[dict[str, Any]], object], words: list[str]
) -> None:
    """A manifest listing only distinct files of the directory skips the collision checks; any other is checked."""
    _edit(bundle, change)
    with pytest.raises(CasstoreError) as raised:
        import_bundle(Store.init(tmp_path / "store"), bundle)
    assert all(word in str(raised.value) for word in words), str(raised.value)
