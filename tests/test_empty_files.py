"""Empty patterns and samples: imported with a warning that names them; show counts no steps for them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from conftest import Cli

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _asset(manifest: dict, name: str) -> dict:
    return next(a for a in manifest["sampler_assets"] if a["asset_name"] == name)


def edit_manifest(bundle: Path, change: Callable[[dict], object]) -> None:
    path = bundle / "project_manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def test_an_empty_asset_and_pattern_import_with_a_warning_and_show_counts_no_steps(cli: Cli, bundle: Path) -> None:
    (bundle / "assets" / "kick_room.wav").write_bytes(b"")
    (bundle / "patterns" / "intro.json").write_bytes(b"")

    def empty(manifest: dict) -> None:
        _asset(manifest, "kick_room.wav")["sha256"] = EMPTY_SHA256
        next(p for p in manifest["patterns"] if p["pattern_id"] == "intro")["sha256"] = EMPTY_SHA256

    edit_manifest(bundle, empty)
    summary = json.loads(cli.ok("import", bundle, "--json").out)
    warned = [w for w in summary["warnings"] if "empty file (0 bytes)" in w]
    assert len(warned) == 2
    assert any("sampler_assets['kick_room.wav']" in w and "assets/kick_room.wav" in w for w in warned)
    assert any("patterns['intro']" in w and "patterns/intro.json" in w for w in warned)
    human = cli.ok("import", bundle, "--project", "human")
    assert "patterns['intro']: 'patterns/intro.json' is an empty file" in human.err + human.out

    shown = cli.ok("show", "demo-project").out
    intro = next(line for line in shown.splitlines() if "patterns/intro.json" in line)
    assert "empty file (0 bytes), no steps" in intro
    assert "filled" not in intro and "16 steps" not in intro
    verse = next(line for line in shown.splitlines() if "patterns/verse.json" in line)
    assert "64 steps, 40 filled" in verse
