"""Import a bundle, export it: the same bytes come back, as a directory and as a zip."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casstore.bundles.bundle_source import opened
from casstore.bundles.exporter import export_revision
from casstore.importer import import_bundle
from casstore.storage.store import Store
from conftest import Cli, dirs_equal, sha256_file, snapshot_tree


def test_export_directory_is_byte_for_byte(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    summary = json.loads(cli.ok("import", demo_data / "demo_bundle", "--json").out)
    out = tmp_path / "out"
    cli.ok("export", summary["commit"], out)
    assert dirs_equal(demo_data / "demo_bundle", out)
    assert summary["manifest_sha256"] == sha256_file(demo_data / "demo_bundle" / "project_manifest.json")
    manifest = json.loads((out / "project_manifest.json").read_text())
    listed = manifest["patterns"] + manifest["mixer_snapshots"]
    for record in listed:
        assert sha256_file(out / record["path"]) == record["sha256"]
    for record in manifest["sampler_assets"]:
        assert sha256_file(out / record["relative_path"]) == record["sha256"]


def test_summary_carries_what_qa_pastes_into_logs(cli: Cli, demo_data: Path) -> None:
    summary = json.loads(cli.ok("import", demo_data / "demo_bundle", "--json").out)
    assert summary["project"] == "demo-project"
    assert summary["branch"] == "main"
    assert summary["sampler_assets"] == [
        "choir_pad_soft.wav",
        "strings_vs_choir_blend.wav",
        "gospel_stab_short.wav",
        "kick_room.wav",
    ]
    assert summary["counts"] == {"patterns": 3, "mixer_snapshots": 2, "sampler_assets": 4, "files": 1}
    total = sum(p.stat().st_size for p in (demo_data / "demo_bundle").rglob("*") if p.is_file())
    assert summary["bytes"]["total"] == total
    assert summary["bytes"]["new"] >= total  # blobs plus the tree and the commit
    assert any("project.json" in w for w in summary["warnings"])


def test_zip_export_holds_the_same_bytes(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    archive = tmp_path / "demo.zip"
    cli.ok("export", "demo-project", archive, "--zip")
    original = snapshot_tree(demo_data / "demo_bundle")
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == sorted(original)
        unpacked = tmp_path / "unpacked"
        zf.extractall(unpacked)
    assert dirs_equal(demo_data / "demo_bundle", unpacked)
    # The same revision always gives the same zip bytes.
    again = tmp_path / "again.zip"
    cli.ok("export", "demo-project", again, "--zip")
    assert sha256_file(again) == sha256_file(archive)


def test_zip_import_with_a_top_folder_equals_directory_import(cli: Cli, demo_data: Path) -> None:
    from_zip = json.loads(cli.ok("import", demo_data / "demo_bundle.zip", "--json").out)
    from_dir = json.loads(cli.ok("import", demo_data / "demo_bundle", "--json").out)
    assert from_zip["tree"] == from_dir["tree"]
    assert from_dir["bytes"]["new"] == 0


def test_export_refuses_a_non_empty_destination(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    result = cli("export", "demo-project", dest)
    assert result.code == 2
    assert result.err.startswith("casstore: error:") and "not empty" in result.err
    assert [p.name for p in dest.iterdir()] == ["mine.txt"]


def test_export_into_an_existing_empty_directory(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    dest = tmp_path / "empty"
    dest.mkdir()
    cli.ok("export", "demo-project", dest)
    assert dirs_equal(demo_data / "demo_bundle", dest)


def test_import_into_lays_out_a_working_directory(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    summary = json.loads(cli.ok("import", demo_data / "demo_bundle", "--into", work, "--json").out)
    assert summary["into"] == str(work)
    marker = work / ".casstore-checkout.json"
    assert json.loads(marker.read_text())["commit"] == summary["commit"]
    marker.unlink()
    assert dirs_equal(demo_data / "demo_bundle", work)


def test_history_log_and_show(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    first = json.loads(cli.ok("import", demo_data / "demo_bundle", "-m", "first take", "--json").out)
    second = json.loads(cli.ok("import", demo_data / "demo_bundle_rev2", "--json").out)
    log = json.loads(cli.ok("log", "--json").out)
    assert [entry["commit"] for entry in log] == [second["commit"], first["commit"]]
    assert log[1]["message"] == "first take" and log[1]["kind"] == "import"
    assert log[0]["parents"] == [first["commit"]]
    assert "demo-project/heads/main" in log[0]["refs"]
    assert len(json.loads(cli.ok("log", "demo-project", "-n", "1", "--json").out)) == 1
    shown = json.loads(cli.ok("show", "demo-project~1", "--json").out)
    assert shown["commit"] == first["commit"]
    assert shown["manifest"]["project"]["bpm"] == 120.0
    text = cli.ok("show", "demo-project").out
    assert "strings_choir_blend.wav" in text and "-16.40 LUFS (manifest)" in text
    out = tmp_path / "rev1"
    cli.ok("export", "demo-project~1", out)
    assert dirs_equal(demo_data / "demo_bundle", out)


def test_identical_reimport_stores_nothing(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    again = json.loads(cli.ok("import", demo_data / "demo_bundle", "--json").out)
    assert again["bytes"]["new"] == 0 and again["objects"]["new"] == 0
    assert again["created_commit"] is False
    assert "0 B newly stored" in cli.ok("import", demo_data / "demo_bundle").out


def test_two_projects_share_a_sample_once(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    second = json.loads(cli.ok("import", demo_data / "second_project", "--json").out)
    choir = (demo_data / "demo_bundle" / "assets" / "choir_pad_soft.wav").stat().st_size
    second_total = second["bytes"]["total"]
    # Everything of the second project is new except the shared choir layer.
    assert second["bytes"]["new"] < second_total - choir + 4096
    store = Store.open(cli.store)
    choir_id = sha256_file(demo_data / "demo_bundle" / "assets" / "choir_pad_soft.wav")
    assert sum(1 for oid in store.objects.iter_ids() if oid == choir_id) == 1
    assert store.refs.projects() == ["demo-project", "second-project"]


@settings(max_examples=15)
@given(
    patterns=st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.binary(max_size=300)),
        max_size=4,
        unique_by=lambda t: t[0],
    ),
    extra=st.binary(max_size=200),
)
def test_import_of_export_gives_the_same_ids(
    tmp_path_factory: pytest.TempPathFactory, demo_data: Path, patterns: list[tuple[str, bytes]], extra: bytes
) -> None:
    work = tmp_path_factory.mktemp("prop")
    bundle = work / "bundle"
    shutil.copytree(demo_data / "second_project", bundle)
    manifest = json.loads((bundle / "project_manifest.json").read_text())
    for name, content in patterns:
        path = bundle / "patterns" / f"gen_{name}.json"
        path.write_bytes(content)
        manifest["patterns"].append(
            {
                "pattern_id": f"gen_{name}",
                "path": f"patterns/gen_{name}.json",
                "sha256": sha256_file(path),
                "length_steps": 16,
                "step_count": 0,
            }
        )
    (bundle / "notes.txt").write_bytes(extra)
    (bundle / "project_manifest.json").write_text(json.dumps(manifest))
    store = Store.init(work / "store")
    first = import_bundle(store, bundle)
    export_revision(store, first.commit, work / "exported")
    with opened(work / "exported") as source:
        assert sorted(source.files) == sorted(snapshot_tree(bundle))
    other = Store.init(work / "other")
    second = import_bundle(other, work / "exported")
    assert second.tree == first.tree
    # Same blobs and tree; only the commit differs (it records a new time and message).
    assert set(other.objects.iter_ids()) - {second.commit} == set(store.objects.iter_ids()) - {first.commit}


def test_log_orders_commits_of_the_same_second_child_first(cli: Cli, demo_data: Path) -> None:
    pinned = {"CASSTORE_NOW": "2026-01-01T00:00:00Z"}
    assert cli("import", demo_data / "demo_bundle", "-m", "one", env=pinned).code == 0
    assert cli("import", demo_data / "demo_bundle_rev2", "-m", "two", env=pinned).code == 0
    assert cli("import", demo_data / "second_project", "-m", "other", env=pinned).code == 0
    cli.ok("branch", "exp", "demo-project~1")
    messages = [entry["message"] for entry in json.loads(cli.ok("log", "--json").out)]
    assert messages.index("two") < messages.index("one") and len(messages) == 3
    oneline = cli.ok("log", "--oneline", "demo-project").out.splitlines()
    assert len(oneline) == 2 and oneline[0].split()[2] == "import" and "two" in oneline[0]
    assert "demo-project/heads/main" in oneline[0]
    every = json.loads(cli.ok("log", "--all", "demo-project", "--json").out)
    # rev1, rev2 and the checkpoint that importing rev2 left of rev1
    assert {e["project"] for e in every} == {"demo-project"} and len(every) == 3
    assert sorted(e["kind"] for e in every) == ["checkpoint", "import", "import"]
    rev1 = next(e for e in every if e["message"] == "one")
    assert "demo-project/heads/exp" in rev1["refs"]
