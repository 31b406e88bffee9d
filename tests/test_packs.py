"""Big imports land as one pack: byte-for-byte round trips, all-or-nothing, and gc over import packs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casstore.clock import format_iso
from casstore.history.fsck import fsck
from casstore.storage.backend_local_staged import EARLY_FLUSH_BYTES
from casstore.storage.object_store import PACK_MIN_OBJECTS, PACKED_OBJECT_LIMIT
from casstore.storage.store import Store
from conftest import ROOT, Cli, dirs_equal, snapshot_tree


def _many_files_bundle(root: Path, seed: int, samples: int = PACK_MIN_OBJECTS + 6, big: int = 0) -> Path:
    """A bundle of many small samples (and ``big`` samples too big to pack) plus some patterns."""
    rng = random.Random(seed)
    assets, patterns = [], []
    sizes = [rng.randrange(1_000, 300_000) for _ in range(samples)] + [PACKED_OBJECT_LIMIT + 10] * big
    for index, size in enumerate(sizes):
        rel = f"assets/s{index:03d}.wav"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        # Half noise, half a constant: some compress, some are stored raw.
        content = rng.randbytes(size) if index % 2 else bytes(size // 2) + rng.randbytes(size - size // 2)
        path.write_bytes(content)
        sha = hashlib.sha256(content).hexdigest()
        assets.append({"asset_name": rel.rsplit("/", 1)[1], "relative_path": rel, "sha256": sha})
    for index in range(8):
        rel = f"patterns/p{index}.json"
        content = json.dumps({"pattern_id": f"p{index}", "steps": list(range(index * 10))}).encode()
        (root / "patterns").mkdir(exist_ok=True)
        (root / rel).write_bytes(content)
        sha = hashlib.sha256(content).hexdigest()
        patterns.append({"pattern_id": f"p{index}", "path": rel, "sha256": sha, "length_steps": 16, "step_count": 4})
    manifest = {
        "manifest_version": "1.0.0",
        "project": {
            "id": "packed",
            "name": "Packed",
            "bpm": 120.0,
            "swing": 0.0,
            "created_at": "2026-01-01T00:00:00+00:00",
            "updated_at": "2026-01-01T00:00:00+00:00",
        },
        "patterns": patterns,
        "mixer_snapshots": [],
        "sampler_assets": assets,
    }
    (root / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def _pack_in_progress(store: Path) -> bool:
    """Tell whether an import has started writing objects into a pack in ``tmp/``."""
    sizes = []
    for path in (store / "tmp").glob("pack-*"):
        with contextlib.suppress(FileNotFoundError):
            sizes.append(path.stat().st_size)
    return any(size > 0 for size in sizes)


def _loose_files(store: Path) -> list[Path]:
    return [p for p in (store / "objects").rglob("*") if p.is_file()]


def test_a_big_import_is_one_pack_and_exports_byte_for_byte(cli: Cli, tmp_path: Path) -> None:
    bundle = _many_files_bundle(tmp_path / "bundle", seed=1, big=1)
    summary = json.loads(cli.ok("import", bundle, "--json").out)
    assert summary["objects"]["new"] == summary["objects"]["total"]
    packs = sorted((cli.store / "packs").glob("*.pack"))
    assert len(packs) == 1 and len(list((cli.store / "packs").glob("*.idx"))) == 1
    # Only the sample too big to encode in memory is loose; the tmp/ staging area is empty.
    assert len(_loose_files(cli.store)) == 1
    assert list((cli.store / "tmp").iterdir()) == []
    cli.ok("export", "packed", tmp_path / "out")
    assert dirs_equal(bundle, tmp_path / "out")
    assert cli("fsck").code == 0
    again = json.loads(cli.ok("import", bundle, "--json").out)
    assert again["objects"]["new"] == 0 and sorted((cli.store / "packs").glob("*.pack")) == packs


def test_a_bad_file_in_a_big_bundle_leaves_the_store_untouched(cli: Cli, tmp_path: Path) -> None:
    bundle = _many_files_bundle(tmp_path / "bundle", seed=2)
    before = snapshot_tree(cli.store)
    victim = bundle / "assets" / f"s{PACK_MIN_OBJECTS:03d}.wav"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    result = cli("import", bundle)
    assert result.code == 2
    assert f"s{PACK_MIN_OBJECTS:03d}.wav" in result.err and "SHA-256 mismatch" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert snapshot_tree(cli.store) == before
    assert list((cli.store / "tmp").iterdir()) == []


def test_a_small_edit_after_a_big_import_stays_loose(cli: Cli, tmp_path: Path) -> None:
    bundle = _many_files_bundle(tmp_path / "bundle", seed=3)
    cli.ok("import", bundle)
    manifest = json.loads((bundle / "project_manifest.json").read_text())
    edited = b'{"pattern_id": "p0", "steps": [1, 2, 3]}'
    (bundle / "patterns" / "p0.json").write_bytes(edited)
    manifest["patterns"][0]["sha256"] = hashlib.sha256(edited).hexdigest()
    (bundle / "project_manifest.json").write_text(json.dumps(manifest))
    summary = json.loads(cli.ok("import", bundle, "--json").out)
    assert summary["objects"]["new"] == 4  # pattern, manifest, tree, commit
    assert len(list((cli.store / "packs").glob("*.pack"))) == 1
    assert len(_loose_files(cli.store)) == 5  # and the checkpoint of the head it replaced
    cli.ok("export", "packed", tmp_path / "out")
    assert dirs_equal(bundle, tmp_path / "out")


def test_gc_merges_import_packs_and_drops_what_no_ref_reaches(cli: Cli, tmp_path: Path) -> None:
    first = _many_files_bundle(tmp_path / "one", seed=4)
    second = _many_files_bundle(tmp_path / "two", seed=5)
    cli.ok("import", first)
    cli.ok("import", second, "--branch", "experiment")
    assert len(list((cli.store / "packs").glob("*.pack"))) == 2
    cli.ok("branch", "-d", "experiment")
    # A month later the deleted branch's reflog no longer protects its objects.
    later = {"CASSTORE_NOW": format_iso(datetime.now(UTC) + timedelta(days=30))}
    report = json.loads(cli("gc", "--json", env=later).out)
    assert report["removed"]["objects"] >= PACK_MIN_OBJECTS
    store = Store.open(cli.store)
    assert len(store.objects.packs) == 1
    cli.ok("export", "packed", tmp_path / "out")
    assert dirs_equal(first, tmp_path / "out")
    assert cli("fsck").code == 0
    shutil.rmtree(tmp_path / "out")


def test_a_flipped_byte_in_an_import_pack_fails_export_and_fsck(cli: Cli, tmp_path: Path) -> None:
    bundle = _many_files_bundle(tmp_path / "bundle", seed=6)
    cli.ok("import", bundle)
    (pack,) = (cli.store / "packs").glob("*.pack")
    pack.chmod(0o644)
    raw = bytearray(pack.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    pack.write_bytes(bytes(raw))
    result = cli("export", "packed", tmp_path / "out")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "object" in result.err and not (tmp_path / "out").exists()
    assert cli("fsck", "--quick").code == 1
    assert cli("fsck").code == 1


def test_a_first_autosave_of_a_big_directory_is_one_pack(cli: Cli, tmp_path: Path) -> None:
    work = _many_files_bundle(tmp_path / "work", seed=7)
    saved = json.loads(cli.ok("autosave", work, "--project", "packed", "--json").out)
    assert len(list((cli.store / "packs").glob("*.pack"))) == 1
    assert len(_loose_files(cli.store)) == 1  # the autosave commit
    cli.ok("export", saved["ref"], tmp_path / "out")
    assert dirs_equal(work, tmp_path / "out")
    assert cli("fsck").code == 0


def test_reusing_packed_objects_freshens_their_pack_for_gc(cli: Cli, tmp_path: Path) -> None:
    bundle = _many_files_bundle(tmp_path / "bundle", seed=8)
    cli.ok("import", bundle)
    (pack,) = (cli.store / "packs").glob("*.pack")
    month_ago = (datetime.now(UTC) - timedelta(days=30)).timestamp()
    os.utime(pack, (month_ago, month_ago))
    # Another project reuses every blob: a gc running alongside must see the pack as young.
    summary = json.loads(cli.ok("import", bundle, "--project", "copy", "--json").out)
    assert summary["objects"]["new"] == 2  # only the tree (other project id) and the commit
    assert pack.stat().st_mtime > month_ago + 29 * 86400


def test_a_big_zip_bundle_is_packed_from_the_archive(cli: Cli, tmp_path: Path) -> None:
    bundle = _many_files_bundle(tmp_path / "bundle", seed=9)
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", bundle)
    cli.ok("import", archive)
    assert len(list((cli.store / "packs").glob("*.pack"))) == 1 and _loose_files(cli.store) == []
    cli.ok("export", "packed", tmp_path / "out")
    assert dirs_equal(bundle, tmp_path / "out")


def test_a_long_lived_reader_sees_packs_other_processes_publish(cli: Cli, tmp_path: Path) -> None:
    viewer = Store.open(cli.store)  # as the viewer or 'autosave --watch' hold one open
    assert viewer.objects.packs == []
    bundle = _many_files_bundle(tmp_path / "bundle", seed=10)
    summary = json.loads(cli.ok("import", bundle, "--json").out)
    assert viewer.objects.has(summary["tree"])
    assert viewer.objects.read_bytes(summary["tree"]).startswith(b"{")


def test_a_pack_bigger_than_the_early_flush_step_round_trips_and_discards_cleanly(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    rng = random.Random(11)
    contents = [rng.randbytes(1 << 20) for _ in range((EARLY_FLUSH_BYTES >> 20) * 2 + 3)]
    pack = store.objects.new_pack()
    for content in contents:
        assert store.objects.put_bytes(content, pack).new
    store.objects.publish(pack)
    for content in contents:
        assert store.objects.read_bytes(hashlib.sha256(content).hexdigest()) == content
    assert fsck(store).ok
    abandoned = store.objects.new_pack()
    for content in contents:
        store.objects.put_bytes(content[::-1], abandoned)
    abandoned.discard()
    assert list((store.root / "tmp").iterdir()) == []
    assert len(store.objects.packs) == 1


def test_gc_frees_the_pack_of_an_import_killed_while_writing_it(cli: Cli, tmp_path: Path) -> None:
    bundle = _many_files_bundle(tmp_path / "bundle", seed=12, samples=240)
    argv = [sys.executable, "-m", "porcelain", "--store", str(cli.store), "import", str(bundle)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _attempt in range(5):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and not _pack_in_progress(cli.store):
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if _pack_in_progress(cli.store):
            break
        shutil.rmtree(cli.store)
        cli.ok("init", cli.store)
    else:
        pytest.skip("the import finished before it could be killed mid-pack")
    report = json.loads(cli("fsck", "--json").out)
    assert report["ok"] and [f["kind"] for f in report["notices"]] == ["staging"]
    leftover = sum(p.stat().st_size for p in (cli.store / "tmp").iterdir())
    # The default two-week grace: the dead writer's name is what frees it.
    report = json.loads(cli.ok("gc", "--json").out)
    assert report["staging_removed"]["files"] >= 1 and report["staging_removed"]["bytes"] == leftover > 0
    assert list((cli.store / "tmp").iterdir()) == []
    assert json.loads(cli("fsck", "--json").out)["notices"] == []
