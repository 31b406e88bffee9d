"""Names up to the filesystem limit, all-or-nothing checkouts, and files made with the user's umask."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from casstore.storage.store import Store
from conftest import Cli, dirs_equal, sha256_file, snapshot_tree

MARKER = ".casstore-checkout.json"
# 255 bytes: the longest name ext4, APFS and NTFS accept. "é" is two bytes in UTF-8.
LONGEST = "é" * 10 + "k" * 231 + ".wav"


def add_asset(bundle: Path, name: str, content: bytes) -> None:
    """Put a sampler asset into ``bundle`` and list it in the manifest."""
    (bundle / "assets" / name).write_bytes(content)
    path = bundle / "project_manifest.json"
    manifest = json.loads(path.read_text())
    manifest["sampler_assets"].append(
        {
            "asset_name": name,
            "relative_path": f"assets/{name}",
            "sha256": hashlib.sha256(content).hexdigest(),
            "lufs_lu": None,
            "source_uri": None,
        }
    )
    path.write_text(json.dumps(manifest, indent=2))


def without_marker(root: Path) -> dict[str, str]:
    return {path: digest for path, digest in snapshot_tree(root).items() if path != MARKER}


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run the CLI subprocesses under ``mask`` (they inherit it)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_a_255_byte_name_checks_out_restores_and_exports(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    assert len(LONGEST.encode()) == 255
    add_asset(bundle, LONGEST, b"RIFF long name take")
    cli.ok("import", bundle)
    work = tmp_path / "work"
    cli.ok("checkout", "demo-project", work)
    assert without_marker(work) == snapshot_tree(bundle)
    again = json.loads(cli.ok("checkout", "demo-project", work, "--json").out)
    assert again["written"] == [] and again["unchanged"] == len(snapshot_tree(bundle))

    # A checkout over an edited long-named file replaces it in place (forced: a checkpoint keeps the edit).
    (work / "assets" / LONGEST).write_bytes(b"edited")
    cli.ok("checkout", "demo-project", work, "--force")
    assert (work / "assets" / LONGEST).read_bytes() == b"RIFF long name take"

    cli.ok("autosave", work)
    restored = tmp_path / "restored"
    cli.ok("recover", "demo-project", "--restore", "latest", "--into", restored)
    assert without_marker(restored) == snapshot_tree(bundle)

    # The destination's own name may be long too: its staging name must not grow from it.
    dest = tmp_path / ("x" * 250)
    cli.ok("export", "demo-project", dest)
    assert dirs_equal(bundle, dest)
    zipped = tmp_path / ("z" * 240 + ".zip")
    cli.ok("export", "demo-project", zipped, "--zip")
    with zipfile.ZipFile(zipped) as archive:
        assert archive.read(f"assets/{LONGEST}") == b"RIFF long name take"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["demo_bundle", "store", "work", "restored", dest.name, zipped.name]
    )


def test_a_name_past_the_limit_is_refused_at_import(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    name = "k" * 252 + ".wav"  # 256 bytes: only a zip can carry it, and no filesystem could check it out
    add_asset(bundle, "placeholder.wav", b"RIFF too long")
    manifest = (bundle / "project_manifest.json").read_text().replace("placeholder.wav", name)
    archive = tmp_path / "long.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(bundle.rglob("*")):
            if path.is_file() and path.name not in ("placeholder.wav", "project_manifest.json"):
                zf.write(path, path.relative_to(bundle).as_posix())
        zf.writestr("project_manifest.json", manifest)
        zf.writestr(f"assets/{name}", b"RIFF too long")
    before = snapshot_tree(cli.store)
    result = cli("import", archive)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("casstore: error: ")
    assert f"assets/{name}" in lines[0] and "256 bytes, longer than the filesystem limit of 255" in lines[0]
    assert snapshot_tree(cli.store) == before


def _rot(cli: Cli, content_of: Path) -> tuple[Path, bytes]:
    """Flip a byte of the stored object holding ``content_of``; return its path and good bytes."""
    store = Store.open(cli.store)
    path = store.objects.path_for(sha256_file(content_of))
    good = path.read_bytes()
    raw = bytearray(good)
    raw[len(raw) // 2] ^= 0x40
    path.chmod(0o644)
    path.write_bytes(bytes(raw))
    return path, good


def test_a_failed_checkout_leaves_nothing_half_written_and_a_retry_succeeds(
    cli: Cli, demo_data: Path, tmp_path: Path
) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    # patterns/ sorts after assets/: the assets would be written before the rotten pattern is read.
    rotten, good = _rot(cli, demo_data / "demo_bundle" / "patterns" / "verse.json")
    fresh = tmp_path / "fresh"
    failed = cli("checkout", "demo-project", fresh)
    assert failed.code == 2 and "corrupt" in failed.err and len(failed.err.strip().splitlines()) == 1
    assert not fresh.exists()

    rotten.write_bytes(good)
    cli.ok("checkout", "demo-project", fresh)
    assert without_marker(fresh) == snapshot_tree(demo_data / "demo_bundle")

    cli.ok("import", demo_data / "demo_bundle_rev2")
    rotten, good = _rot(cli, demo_data / "demo_bundle_rev2" / "patterns" / "verse.json")
    before = snapshot_tree(fresh)
    failed = cli("checkout", "demo-project", fresh)
    assert failed.code == 2 and "corrupt" in failed.err
    assert snapshot_tree(fresh) == before  # no file replaced, no temp file left, marker untouched
    assert not [p for p in fresh.rglob("*") if p.name.startswith(".") and p.name != MARKER]

    rotten.write_bytes(good)
    cli.ok("checkout", "demo-project", fresh)
    assert without_marker(fresh) == snapshot_tree(demo_data / "demo_bundle_rev2")


def _modes(root: Path) -> set[tuple[str, int]]:
    """Each kind of entry under ``root`` (root included) with its permission bits."""
    found = {("dir", stat.S_IMODE(root.stat().st_mode))}
    for path in root.rglob("*"):
        if path.name != MARKER:
            found.add(("dir" if path.is_dir() else "file", stat.S_IMODE(path.stat().st_mode)))
    return found


@pytest.mark.parametrize("mask", [0o022, 0o027], ids=["umask022", "umask027"])
def test_export_checkout_and_restore_follow_the_umask(cli: Cli, demo_data: Path, tmp_path: Path, mask: int) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    expected = {("dir", 0o777 & ~mask), ("file", 0o666 & ~mask)}
    with umask(mask):
        cli.ok("export", "demo-project", tmp_path / "export")
        cli.ok("export", "demo-project", tmp_path / "export.zip", "--zip")
        cli.ok("checkout", "demo-project", tmp_path / "work")
        cli.ok("autosave", tmp_path / "work")
        cli.ok("recover", "demo-project", "--restore", "latest", "--into", tmp_path / "restored")
    assert _modes(tmp_path / "export") == expected
    assert stat.S_IMODE((tmp_path / "export.zip").stat().st_mode) == 0o666 & ~mask
    assert _modes(tmp_path / "work") == expected
    assert _modes(tmp_path / "restored") == expected
