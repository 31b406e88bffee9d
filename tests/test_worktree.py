"""checkout and status: working directories that never lose a musician's unsaved work."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import Cli, snapshot_tree

MARKER = ".casstore-checkout.json"


def same_bundle(a: Path, b: Path) -> bool:
    done = subprocess.run(["diff", "-r", "-x", MARKER, str(a), str(b)], capture_output=True)
    return done.returncode == 0


@pytest.fixture()
def history(cli: Cli, demo_data: Path) -> Cli:
    cli.ok("import", demo_data / "demo_bundle")
    cli.ok("import", demo_data / "demo_bundle_rev2")
    return cli


def _age(directory: Path, seconds: int = 30) -> None:
    """Move every file's mtime into the past, out of the stat cache's racy window."""
    for path in directory.rglob("*"):
        if path.is_file() and path.name != MARKER:
            info = path.stat()
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - seconds * 10**9))


def test_checkout_switches_revisions_exactly(history: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    first = json.loads(history.ok("checkout", "demo-project~1", work, "--json").out)
    assert same_bundle(demo_data / "demo_bundle", work)
    assert len(first["written"]) == 11
    (work / "my_notes.txt").write_text("not part of the bundle")
    second = json.loads(history.ok("checkout", "demo-project", work, "--json").out)
    assert same_bundle(demo_data / "demo_bundle_rev2", work / ".") is False  # my_notes.txt is still there
    assert (work / "my_notes.txt").read_text() == "not part of the bundle"
    (work / "my_notes.txt").unlink()
    assert same_bundle(demo_data / "demo_bundle_rev2", work)
    assert sorted(second["deleted"]) == ["assets/kick_room.wav", "assets/strings_vs_choir_blend.wav"]
    assert second["unchanged"] == 4 and second["checkpoint"] is None


def test_unsaved_edit_blocks_checkout_and_force_checkpoints_it(history: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    history.ok("checkout", "demo-project~1", work)
    verse = work / "patterns" / "verse.json"
    verse.write_text(verse.read_text().replace('"velocity": 100', '"velocity": 101', 1))
    edited = verse.read_bytes()
    before = snapshot_tree(work)
    store_before = snapshot_tree(history.store)

    refused = history("checkout", "demo-project", work)
    assert refused.code == 2
    assert "patterns/verse.json" in refused.err and "--force" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert snapshot_tree(work) == before and snapshot_tree(history.store) == store_before

    forced = json.loads(history.ok("checkout", "demo-project", work, "--force", "--json").out)
    checkpoint = forced["checkpoint"]
    assert checkpoint.startswith("demo-project/checkpoints/") and checkpoint.endswith("-checkout")
    assert same_bundle(demo_data / "demo_bundle_rev2", work)
    restored = tmp_path / "restored"
    history.ok("export", checkpoint, restored)
    assert (restored / "patterns" / "verse.json").read_bytes() == edited
    log = json.loads(history.ok("log", checkpoint, "--json").out)
    assert log[0]["kind"] == "checkpoint"


def test_saved_content_does_not_block_checkout(history: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    history.ok("checkout", "demo-project~1", work)
    # The file now holds rev2's bytes: a revision holds them, so nothing would be lost.
    (work / "patterns" / "verse.json").write_bytes(
        (demo_data / "demo_bundle_rev2" / "patterns" / "verse.json").read_bytes()
    )
    assert json.loads(history.ok("checkout", "demo-project", work, "--json").out)["checkpoint"] is None


def test_status_reports_changes_and_manifest_mismatches(history: Cli, tmp_path: Path) -> None:
    work = tmp_path / "work"
    history.ok("checkout", "demo-project", work)
    clean = json.loads(history.ok("status", work, "--json").out)
    assert clean["clean"] is True
    (work / "mixer" / "verse_snapshot.json").write_text("{}")
    (work / "assets" / "snare_room.wav").unlink()
    (work / "assets" / "extra.wav").write_bytes(b"RIFF")
    report = json.loads(history.ok("status", work, "--json").out)
    assert report["clean"] is False
    assert report["modified"] == ["mixer/verse_snapshot.json"]
    assert report["deleted"] == ["assets/snare_room.wav"]
    assert report["added"] == ["assets/extra.wav"]
    problems = {m["path"]: m["problem"] for m in report["manifest_mismatches"]}
    assert "SHA-256 differs" in problems["mixer/verse_snapshot.json"]
    assert problems["assets/snare_room.wav"] == "listed file is missing"
    text = history.ok("status", work).out
    assert "modified:" in text and "mixer/verse_snapshot.json" in text


def test_stat_cache_skips_unchanged_files_and_verify_catches_a_sneaky_edit(history: Cli, tmp_path: Path) -> None:
    work = tmp_path / "work"
    history.ok("checkout", "demo-project", work)
    _age(work)
    first = json.loads(history.ok("status", work, "--json").out)
    assert first["clean"] and first["files_hashed"] == 11  # mtimes moved: every file re-read once
    second = json.loads(history.ok("status", work, "--json").out)
    assert second["clean"] and second["files_hashed"] == 0

    sample = work / "assets" / "choir_pad_soft.wav"
    old_digest = json.loads((work / MARKER).read_text())["files"]["assets/choir_pad_soft.wav"][3]
    info = sample.stat()
    raw = bytearray(sample.read_bytes())
    raw[5000] ^= 0xFF
    with open(sample, "r+b") as stream:  # same inode, same size
        stream.write(raw)
    os.utime(sample, ns=(info.st_atime_ns, info.st_mtime_ns))  # and the old mtime
    # ctime still moved (no user can set it back), so the cache does not vouch for the file.
    assert json.loads(history.ok("status", work, "--json").out)["modified"] == ["assets/choir_pad_soft.wav"]
    # Bit rot keeps every stat field: forge that by giving the cached entry the damaged file's stat.
    marker = json.loads((work / MARKER).read_text())
    st = sample.stat()
    marker["files"]["assets/choir_pad_soft.wav"] = [st.st_size, st.st_mtime_ns, st.st_ino, old_digest, st.st_ctime_ns]
    (work / MARKER).write_text(json.dumps(marker))
    assert json.loads(history.ok("status", work, "--json").out)["clean"] is True  # as git: invisible
    verified = json.loads(history.ok("status", work, "--verify", "--json").out)
    assert verified["modified"] == ["assets/choir_pad_soft.wav"] and verified["files_hashed"] == 11


def test_status_outside_a_checkout_is_a_clear_error(history: Cli, tmp_path: Path) -> None:
    result = history("status", tmp_path)
    assert result.code == 2 and "not a casstore working directory" in result.err


def test_import_into_remembers_the_revision(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    cli.ok("import", demo_data / "demo_bundle", "--into", work)
    assert json.loads(cli.ok("status", work, "--json").out)["clean"] is True
