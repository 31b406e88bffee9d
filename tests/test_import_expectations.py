"""An import checks files against what the manifest says of each, held by position: messages are as before.

The manifest's records are let go before the files are hashed (issue 17); a message that
names an entry reads the manifest again, and must name the entry the records would have.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from casstore import import_bundle
from casstore.errors import BundleError
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
