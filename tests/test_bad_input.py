"""Bad bundles: exit 2, one clear error line naming file, entry and rule, and no change to the store."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Cli, snapshot_tree

Mutation = Callable[[Path, Path], Path]


def _edit_manifest(bundle: Path, change: Callable[[dict], None]) -> None:
    path = bundle / "project_manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def zip_slip(bundle: Path, tmp: Path) -> Path:
    archive = tmp / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(bundle).as_posix())
        zf.writestr("../../evil.txt", "pwned")
    return archive


def manifest_parent_path(bundle: Path, tmp: Path) -> Path:
    _edit_manifest(bundle, lambda m: m["sampler_assets"][0].update(relative_path="../x.wav"))
    return bundle


def manifest_absolute_path(bundle: Path, tmp: Path) -> Path:
    _edit_manifest(bundle, lambda m: m["patterns"][0].update(path="/etc/passwd"))
    return bundle


def manifest_backslash_path(bundle: Path, tmp: Path) -> Path:
    _edit_manifest(bundle, lambda m: m["mixer_snapshots"][0].update(path="mixer\\verse_snapshot.json"))
    return bundle


def symlink_outside(bundle: Path, tmp: Path) -> Path:
    secret = tmp / "secret.wav"
    secret.write_bytes(b"outside")
    os.symlink(secret, bundle / "assets" / "escape.wav")
    return bundle


def case_collision(bundle: Path, tmp: Path) -> Path:
    (bundle / "assets" / "Choir_Pad_Soft.wav").write_bytes(b"other take")
    return bundle


def listed_file_missing(bundle: Path, tmp: Path) -> Path:
    (bundle / "assets" / "kick_room.wav").unlink()
    return bundle


def sha256_mismatch(bundle: Path, tmp: Path) -> Path:
    with open(bundle / "patterns" / "verse.json", "ab") as stream:
        stream.write(b" ")
    return bundle


def invalid_json(bundle: Path, tmp: Path) -> Path:
    (bundle / "project_manifest.json").write_text('{"manifest_version": "1.0.0", "project": {')
    return bundle


def major_version_9(bundle: Path, tmp: Path) -> Path:
    _edit_manifest(bundle, lambda m: m.update(manifest_version="9.0.0"))
    return bundle


def duplicate_pattern_id(bundle: Path, tmp: Path) -> Path:
    _edit_manifest(bundle, lambda m: m["patterns"][1].update(pattern_id="verse"))
    return bundle


def missing_field(bundle: Path, tmp: Path) -> Path:
    _edit_manifest(bundle, lambda m: m["patterns"][0].pop("sha256"))
    return bundle


def no_manifest(bundle: Path, tmp: Path) -> Path:
    (bundle / "project_manifest.json").unlink()
    return bundle


CASES: list[tuple[Mutation, list[str]]] = [
    (zip_slip, ["evil.zip", "../../evil.txt", "escapes the bundle"]),
    (manifest_parent_path, ["project_manifest.json", "sampler_assets['choir_pad_soft.wav']", "escapes the bundle"]),
    (manifest_absolute_path, ["project_manifest.json", "patterns['verse']", "absolute"]),
    (manifest_backslash_path, ["project_manifest.json", "mixer_snapshots['Verse Snapshot']", "backslash"]),
    (symlink_outside, ["assets/escape.wav", "symlink points outside the bundle"]),
    (case_collision, ["Choir_Pad_Soft.wav", "collides with", "ignoring case"]),
    (listed_file_missing, ["project_manifest.json", "sampler_assets['kick_room.wav']", "missing"]),
    (sha256_mismatch, ["project_manifest.json", "patterns['verse']", "SHA-256 mismatch"]),
    (invalid_json, ["project_manifest.json", "invalid JSON"]),
    (major_version_9, ["project_manifest.json", "manifest_version", "9.0.0", "not supported"]),
    (duplicate_pattern_id, ["project_manifest.json", "patterns['verse']", "duplicate pattern_id"]),
    (missing_field, ["project_manifest.json", "patterns[0].sha256", "Field required"]),
    (no_manifest, ["no project_manifest.json"]),
]


@pytest.mark.parametrize(("mutate", "expected"), CASES, ids=[case[0].__name__ for case in CASES])
def test_bad_bundle_is_refused_without_touching_the_store(
    cli: Cli, bundle: Path, demo_data: Path, tmp_path: Path, mutate: Mutation, expected: list[str]
) -> None:
    cli.ok("import", demo_data / "second_project")  # a store with history, so "no change" means something
    before = snapshot_tree(cli.store)
    target = mutate(bundle, tmp_path)
    work = tmp_path / "work"
    result = cli("import", target, "--into", work)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("casstore: error: ")
    for fragment in expected:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert "Traceback" not in result.err + result.out
    assert snapshot_tree(cli.store) == before
    assert not work.exists()
    assert not (tmp_path / "evil.txt").exists()


def test_json_mode_errors_are_the_same_one_line(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    result = cli("import", sha256_mismatch(bundle, tmp_path), "--json")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("casstore: error: ") and len(result.err.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["export", "nosuch", "out"], "unknown revision 'nosuch'"),
        (["show", "demo~x"], "invalid revision"),
        (["import", "/nonexistent/bundle"], "no such bundle"),
        (["import"], "Missing argument"),
        (["frobnicate"], "No such command"),
        (["log", "-n", "0"], "-n"),
    ],
)
def test_usage_errors_exit_2_with_one_line(cli: Cli, args: list[str], fragment: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert result.err.startswith("casstore: error: ") and fragment in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_no_store_is_a_clear_error(tmp_path: Path) -> None:
    result = Cli(tmp_path / "none", tmp_path)("log", store=False)
    assert result.code == 2 and "no casstore store found" in result.err


def test_store_is_found_upward_and_by_environment(tmp_path: Path, demo_data: Path) -> None:
    runner = Cli(tmp_path / ".casstore", tmp_path)
    runner("init", store=False)
    assert (tmp_path / ".casstore" / "casstore.json").is_file()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    nested = Cli(tmp_path / ".casstore", deep)
    assert nested("import", demo_data / "second_project", store=False).code == 0
    elsewhere = Cli(tmp_path, Path("/"))
    env_run = elsewhere("log", "--json", store=False, env={"CASSTORE_DIR": str(tmp_path / ".casstore")})
    assert env_run.code == 0 and json.loads(env_run.out)[0]["project"] == "second-project"


def test_a_project_id_that_cannot_name_refs_asks_for_project(cli: Cli, bundle: Path) -> None:
    _edit_manifest(bundle, lambda m: m["project"].update(id="Demo Project"))
    result = cli("import", bundle)
    assert result.code == 2 and "project.id" in result.err and "--project" in result.err
    assert cli("import", bundle, "--project", "demo").code == 0
