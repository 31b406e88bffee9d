"""SIGKILL during import, at random moments: the store always passes fsck, the head is old or new."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casstore.bundles.bundle import scan_bundle
from casstore.bundles.bundle_source import opened
from casstore.history.commits import read_commit
from casstore.history.fsck import fsck
from casstore.storage.store import Store
from conftest import ROOT

RUNS = int(os.environ.get("CASSTORE_KILL_RUNS", "20"))


def _make_bundle(root: Path, seed: int, files: int = 80, size: int = 300_000) -> Path:
    """A bundle of many samples: an import takes a noticeable moment and writes them as one pack."""
    rng = random.Random(seed)
    assets = []
    for index in range(files):
        rel = f"assets/take_{index:03d}.wav"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        content = rng.randbytes(size)
        path.write_bytes(content)
        assets.append(
            {
                "asset_name": f"take_{index:03d}.wav",
                "relative_path": rel,
                "sha256": hashlib.sha256(content).hexdigest(),
                "lufs_lu": -18.0,
                "source_uri": None,
            }
        )
    manifest = {
        "manifest_version": "1.0.0",
        "project": {
            "id": "crashy",
            "name": "Crashy",
            "bpm": 128.0,
            "swing": 0.0,
            "created_at": "2026-01-01T00:00:00+00:00",
            "updated_at": "2026-01-01T00:00:00+00:00",
        },
        "patterns": [],
        "mixer_snapshots": [],
        "sampler_assets": assets,
    }
    (root / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def _import_argv(store: Path, bundle: Path) -> list[str]:
    return [sys.executable, "-m", "porcelain", "--store", str(store), "import", str(bundle), "--json"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_sigkill_at_random_moments_never_breaks_the_store(tmp_path: Path) -> None:
    bundles = [_make_bundle(tmp_path / f"rev{i}", seed=i) for i in range(2)]
    trees = []
    for bundle in bundles:
        with opened(bundle) as source:
            trees.append(scan_bundle(source).tree.id)
    store_path = tmp_path / "store"
    store = Store.init(store_path)

    timing_store = Store.init(tmp_path / "timing")
    started = time.monotonic()
    subprocess.run(_import_argv(timing_store.root, bundles[0]), env=_env(), capture_output=True, check=True)
    duration = time.monotonic() - started

    rng = random.Random(int(os.environ.get("CASSTORE_KILL_SEED", "8")))
    outcomes = {"old": 0, "new": 0}
    for run in range(RUNS):
        bundle_index = run % 2
        old = store.refs.read("crashy/heads/main")
        proc = subprocess.Popen(
            _import_argv(store_path, bundles[bundle_index]),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Interpreter start-up takes the first part of the run; aim most kills at the writing.
        time.sleep(rng.uniform(0.3, 1.1) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

        report = fsck(store)
        assert report.ok, f"run {run}: {[f.as_json() for f in report.findings if f.is_error]}"
        head = store.refs.read("crashy/heads/main")
        if head == old:
            outcomes["old"] += 1
        else:
            commit = read_commit(store, head)
            assert commit.tree == trees[bundle_index], f"run {run}: head moved to an unexpected tree"
            assert list(commit.parents) == ([old] if old else [])
            outcomes["new"] += 1

    # A kill never wedges the store: the next import goes through (stale locks are broken).
    final = subprocess.run(_import_argv(store_path, bundles[0]), env=_env(), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    cli_fsck = subprocess.run(
        [sys.executable, "-m", "porcelain", "--store", str(store_path), "fsck"], env=_env(), capture_output=True
    )
    assert cli_fsck.returncode == 0
    # The killed writers are gone, so gc frees their unfinished packs now, not after the grace.
    gc_run = subprocess.run(
        [sys.executable, "-m", "porcelain", "--store", str(store_path), "gc"], env=_env(), capture_output=True
    )
    assert gc_run.returncode == 0 and list((store_path / "tmp").iterdir()) == []
    print(f"kill outcomes over {RUNS} runs (import ≈ {duration:.2f} s): {outcomes}")
