"""fsck finds rot and names what reaches it; export of rotten data fails cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casstore.storage.store import Store
from conftest import Cli, sha256_file, snapshot_tree


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset % len(raw)] ^= 0x40
    path.chmod(0o644)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("asset", ["assets/choir_pad_soft.wav", "patterns/verse.json", "project_manifest.json"])
def test_flipped_byte_is_found_and_export_refuses(cli: Cli, demo_data: Path, tmp_path: Path, asset: str) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    assert cli("fsck").code == 0
    store = Store.open(cli.store)
    oid = sha256_file(demo_data / "demo_bundle" / asset)
    _flip(store.objects.path_for(oid), 1000)

    result = cli("fsck", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    corrupt = [e for e in report["errors"] if e["kind"] == "corrupt"]
    assert [e["subject"] for e in corrupt] == [oid]
    assert "ref demo-project/heads/main" in corrupt[0]["reached_from"]
    assert f"demo-project:{asset}" in corrupt[0]["reached_from"]
    text = cli("fsck")
    assert text.code == 1 and oid in text.out and asset in text.out

    dest = tmp_path / "export"
    failed = cli("export", "demo-project", dest)
    assert failed.code == 2
    assert failed.err.startswith("casstore: error:") and oid in failed.err
    assert not dest.exists()
    assert not any("partial" in p.name for p in tmp_path.iterdir())
    zipped = cli("export", "demo-project", tmp_path / "export.zip", "--zip")
    assert zipped.code == 2 and not (tmp_path / "export.zip").exists()


def test_missing_object_and_damaged_ref(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    store = Store.open(cli.store)
    oid = sha256_file(demo_data / "demo_bundle" / "mixer" / "verse_snapshot.json")
    store.objects.path_for(oid).unlink()
    (cli.store / "refs" / "demo-project" / "tags").mkdir()
    (cli.store / "refs" / "demo-project" / "tags" / "broken").write_text("not an id\n")
    report = json.loads(cli("fsck", "--json").out)
    kinds = {(e["kind"], e["subject"]) for e in report["errors"]}
    assert ("missing", oid) in kinds
    assert ("bad-ref", "demo-project/tags/broken") in kinds


def test_fsck_never_changes_the_store(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    store = Store.open(cli.store)
    victim = next(iter(store.objects.iter_ids()))
    _flip(store.objects.path_for(victim), 50)
    before = snapshot_tree(cli.store)
    cli("fsck")
    cli("fsck", "--quick")
    assert snapshot_tree(cli.store) == before


def test_quick_fsck_checks_structure_not_blob_bytes(cli: Cli, demo_data: Path) -> None:
    summary = json.loads(cli.ok("import", demo_data / "demo_bundle", "--json").out)
    store = Store.open(cli.store)
    assert cli("fsck", "--quick").code == 0
    _flip(store.objects.path_for(summary["tree"]), 30)
    assert cli("fsck", "--quick").code == 1


def test_dangling_objects_are_notices_not_errors(cli: Cli) -> None:
    store = Store.open(cli.store)
    store.objects.put_bytes(b"left behind by a killed import")
    result = cli("fsck", "--json")
    assert result.code == 0
    assert [n["kind"] for n in json.loads(result.out)["notices"]] == ["dangling"]
