"""Bundles as testers really send them: Finder and Explorer zips, odd names, empty files, repeated keys."""

from __future__ import annotations

import hashlib
import json
import shutil
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Cli, Result, snapshot_tree

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def zip_dir(root: Path, archive: Path, top: str = "", extra: dict[str, bytes] | None = None) -> Path:
    """Zip every file under ``root`` (under folder ``top``), then the ``extra`` entries as given."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, top + path.relative_to(root).as_posix())
        for name, content in (extra or {}).items():
            zf.writestr(name, content)
    return archive


def edit_manifest(bundle: Path, change: Callable[[dict], object]) -> None:
    path = bundle / "project_manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def imported_tree(cli: Cli, location: Path, *args: str) -> dict:
    return json.loads(cli.ok("import", location, "--json", *args).out)


def refused(cli: Cli, location: Path, *fragments: str) -> str:
    """Import ``location``: exit 2, one error line holding every fragment, the store unchanged."""
    before = snapshot_tree(cli.store)
    result: Result = cli("import", location)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("casstore: error: "), result.err
    assert "Traceback" not in result.err + result.out
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert snapshot_tree(cli.store) == before
    return lines[0]


# --- macOS Finder and Windows Explorer by-products ------------------------------------------------


def test_a_finder_zip_imports_without_its_system_files_and_says_which(
    cli: Cli, bundle: Path, demo_data: Path, tmp_path: Path
) -> None:
    clean = imported_tree(cli, demo_data / "demo_bundle", "--project", "clean")
    # What Finder's "Compress" makes: one top folder, AppleDouble twins, .DS_Store, __MACOSX/.
    archive = zip_dir(
        bundle,
        tmp_path / "MyProject.zip",
        top="MyProject/",
        extra={
            "MyProject/.DS_Store": b"\x00\x00\x00\x01Bud1",
            "MyProject/assets/._choir_pad_soft.wav": b"\x00\x05\x16\x07 resource fork",
            "__MACOSX/._MyProject": b"\x00\x05\x16\x07",
            "__MACOSX/MyProject/._project_manifest.json": b"\x00\x05\x16\x07",
            "__MACOSX/MyProject/assets/._kick_room.wav": b"\x00\x05\x16\x07",
        },
    )
    summary = imported_tree(cli, archive)
    assert summary["tree"] != clean["tree"]  # another project id, so compare the entries instead
    show = json.loads(cli.ok("show", summary["commit"], "--json").out)
    clean_show = json.loads(cli.ok("show", clean["commit"], "--json").out)
    assert show["entries"] == clean_show["entries"]
    junk = [w for w in summary["warnings"] if "system file" in w]
    assert len(junk) == 1
    for name in (".DS_Store", "assets/._choir_pad_soft.wav", "__MACOSX/ (3 entries)"):
        assert name in junk[0]
    human = cli.ok("import", archive, "--project", "again")
    assert "__MACOSX/" in human.err + human.out


def test_an_explorer_zip_and_a_mac_copied_folder_leave_their_system_files_out(
    cli: Cli, bundle: Path, demo_data: Path, tmp_path: Path
) -> None:
    clean = imported_tree(cli, demo_data / "demo_bundle")
    archive = zip_dir(bundle, tmp_path / "explorer.zip", extra={"Thumbs.db": b"thumbs", "assets/desktop.ini": b"[x]"})
    summary = imported_tree(cli, archive)
    assert summary["tree"] == clean["tree"]
    assert any("Thumbs.db" in w and "assets/desktop.ini" in w for w in summary["warnings"])

    (bundle / ".DS_Store").write_bytes(b"Bud1")
    (bundle / "assets" / "._kick_room.wav").write_bytes(b"\x00\x05\x16\x07")
    (bundle / "__MACOSX").mkdir()
    (bundle / "__MACOSX" / "._assets").write_bytes(b"\x00\x05\x16\x07")
    summary = imported_tree(cli, bundle)
    assert summary["tree"] == clean["tree"]
    assert any(".DS_Store" in w and "assets/._kick_room.wav" in w for w in summary["warnings"])


def test_a_system_file_name_that_the_manifest_lists_is_kept(cli: Cli, bundle: Path) -> None:
    content = b"RIFF a take really named like an AppleDouble file"
    (bundle / "assets" / "._take1.wav").write_bytes(content)
    edit_manifest(
        bundle,
        lambda m: m["sampler_assets"].append(
            {
                "asset_name": "._take1.wav",
                "relative_path": "assets/._take1.wav",
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        ),
    )
    summary = imported_tree(cli, bundle)
    assert "._take1.wav" in summary["sampler_assets"]
    assert not any("system file" in w for w in summary["warnings"])


def test_a_folder_that_wraps_the_bundle_is_named_in_the_refusal(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    outer = tmp_path / "Downloads"
    outer.mkdir()
    shutil.move(bundle, outer / "MyProject")
    (outer / ".DS_Store").write_bytes(b"Bud1")
    refused(cli, outer, "no project_manifest.json at the top", "'MyProject/'", "import that folder")
    cli.ok("import", outer / "MyProject")


def _asset(manifest: dict, name: str) -> dict:
    return next(a for a in manifest["sampler_assets"] if a["asset_name"] == name)


# --- names: NUL, normalisation, Unicode --------------------------------------------------------------


def test_a_nul_byte_in_a_zip_entry_name_is_refused(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    archive = zip_dir(bundle, tmp_path / "nul.zip", extra={"assets/kickX.wav": b"RIFF"})
    # zipfile will not write a NUL into a name; patch both copies of it (local header, central directory).
    raw = archive.read_bytes()
    assert raw.count(b"assets/kickX.wav") == 2
    archive.write_bytes(raw.replace(b"assets/kickX.wav", b"assets/kick\x00.wav"))
    refused(cli, archive, "nul.zip", "'assets/kick\\x00.wav'", "contains a NUL byte")


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("assets/./sub/../kick_room.wav", "not normalised"),
        ("assets//kick_room.wav", "not normalised"),
        ("assets/../assets/kick_room.wav", "not normalised"),
        ("assets/../../kick_room.wav", "escapes the bundle"),
    ],
)
def test_each_refusal_names_the_rule_actually_broken(cli: Cli, bundle: Path, path: str, rule: str) -> None:
    edit_manifest(bundle, lambda m: _asset(m, "kick_room.wav").update(relative_path=path))
    line = refused(cli, bundle, "project_manifest.json", "sampler_assets['kick_room.wav']", repr(path), rule)
    other = "escapes the bundle" if rule == "not normalised" else "not normalised"
    assert other not in line
    if rule == "not normalised":
        assert "normalised it reads 'assets/kick_room.wav'" in line


def test_a_zip_entry_that_is_not_normalised_says_so(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    archive = zip_dir(bundle, tmp_path / "dots.zip", extra={"assets/./sub/../extra.wav": b"RIFF"})
    line = refused(cli, archive, "dots.zip", "'assets/./sub/../extra.wav'", "not normalised")
    assert "escapes" not in line


def test_names_equal_after_unicode_normalisation_are_reported_as_such(cli: Cli, bundle: Path) -> None:
    nfc = unicodedata.normalize("NFC", "assets/café.wav")
    nfd = unicodedata.normalize("NFD", "assets/café.wav")
    assert nfc != nfd
    (bundle / nfc).write_bytes(b"RIFF one")
    (bundle / nfd).write_bytes(b"RIFF two")
    line = refused(cli, bundle, "Unicode normalisation (NFC/NFD)", r"'assets/caf\xe9.wav'", r"'assets/cafe\u0301.wav'")
    assert "ignoring case" not in line


# --- manifest JSON ----------------------------------------------------------------------------------


def _replace_once(bundle: Path, old: str, new: str) -> None:
    path = bundle / "project_manifest.json"
    text = path.read_text()
    assert text.count(old) >= 1
    path.write_text(text.replace(old, new, 1))


def test_a_manifest_with_a_repeated_key_is_refused_naming_key_and_place(cli: Cli, bundle: Path) -> None:
    _replace_once(bundle, '"bpm": 120.0,', '"bpm": 120.0, "bpm": 96.0,')
    refused(cli, bundle, "project_manifest.json", "project: duplicate key 'bpm'")


def test_a_repeated_key_deep_in_the_manifest_is_refused_too(cli: Cli, bundle: Path) -> None:
    assets = json.loads((bundle / "project_manifest.json").read_text())["sampler_assets"]
    index, kick = next((i, a) for i, a in enumerate(assets) if a["asset_name"] == "kick_room.wav")
    _replace_once(bundle, f'"sha256": "{kick["sha256"]}"', f'"sha256": "{EMPTY_SHA256}", "sha256": "{kick["sha256"]}"')
    refused(cli, bundle, "project_manifest.json", f"sampler_assets[{index}]: duplicate key 'sha256'")


# --- damaged input (issue 13, the zip reader and the manifest parser) -------------------------------


def test_a_zip_with_a_bad_crc_is_bad_input_naming_the_entry(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    archive = tmp_path / "rotten.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(bundle).as_posix())
    raw = bytearray(archive.read_bytes())
    payload = (bundle / "project.json").read_bytes()
    at = raw.index(payload)  # stored, so the file's bytes sit in the archive as they are
    raw[at + 3] ^= 0x01
    archive.write_bytes(bytes(raw))
    refused(cli, archive, "rotten.zip", "'project.json'", "damaged zip entry", "CRC")
    other = cli("diff", bundle, archive)
    assert other.code == 2 and "rotten.zip" in other.err and "Traceback" not in other.err


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('"bpm": 120.0,', '"bpm": 120.0, "deep": ' + "[" * 5000 + "]" * 5000 + ",", "nested too deeply"),
        ('"bpm": 120.0,', '"bpm": ' + "9" * 3000 + ",", "project.bpm: Input should be a finite number"),
    ],
    ids=["nested-5000", "3000-digit-bpm"],
)
def test_pathological_manifest_json_is_bad_input(cli: Cli, bundle: Path, old: str, new: str, fragment: str) -> None:
    _replace_once(bundle, old, new)
    refused(cli, bundle, "project_manifest.json", fragment)
