"""Semantic diff: exactly the known changes, whatever mix of revisions, directories and zips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casstore.diff.semantic import diff_specs
from casstore.storage.store import Store
from conftest import Cli, sha256_file


def _records(cli: Cli, old: str | Path, new: str | Path) -> list[dict[str, Any]]:
    result = cli("diff", old, new, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)["records"]


def _matches_generator(records: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(records) == len(expected), [(r["section"], r["change"], r["subject"]) for r in records]
    for want in expected:
        found = [
            r
            for r in records
            if (r["section"], r["change"], r["subject"]) == (want["section"], want["change"], want["subject"])
        ]
        assert len(found) == 1, want
        if "changes" in want:
            # The generator states the keys it knows; records may carry more (JSON shapes only grow).
            got = [
                {k: change.get(k) for k in wanted}
                for change, wanted in zip(found[0]["changes"], want["changes"], strict=False)
            ]
            assert got == want["changes"] and len(found[0]["changes"]) == len(want["changes"]), want["subject"]
        if "old_path" in want:
            assert found[0]["old_path"] == want["old_path"]


@pytest.fixture()
def two_revisions(cli: Cli, demo_data: Path) -> Cli:
    cli.ok("import", demo_data / "demo_bundle")
    cli.ok("import", demo_data / "demo_bundle_rev2")
    return cli


def test_revisions_diff_reports_exactly_the_generated_changes(two_revisions: Cli, demo_data: Path) -> None:
    expected = json.loads((demo_data / "rev2_changes.json").read_text())
    _matches_generator(_records(two_revisions, "demo-project~1", "demo-project"), expected)


def test_directories_zips_and_revisions_give_the_same_records(
    two_revisions: Cli, demo_data: Path, tmp_path: Path
) -> None:
    cli = two_revisions
    between_revisions = _records(cli, "demo-project~1", "demo-project")
    edited = tmp_path / "edited"
    cli.ok("export", "demo-project~1", edited)
    for path in list(edited.rglob("*")):
        if path.is_file():
            path.unlink()
    shutil.copytree(demo_data / "demo_bundle_rev2", edited, dirs_exist_ok=True)
    assert _records(cli, "demo-project~1", edited) == between_revisions
    cli.ok("export", "demo-project", tmp_path / "rev2.zip", "--zip")
    assert _records(cli, "demo-project~1", tmp_path / "rev2.zip") == between_revisions
    assert _records(cli, demo_data / "demo_bundle.zip", demo_data / "demo_bundle_rev2") == between_revisions


def test_exit_code_stat_and_human_output(two_revisions: Cli) -> None:
    cli = two_revisions
    assert cli("diff", "demo-project", "demo-project", "--exit-code").code == 0
    changed = cli("diff", "demo-project~1", "demo-project", "--exit-code")
    assert changed.code == 1
    assert "      pattern verse · step 20: note G-4 → D#4\n" in changed.out
    assert "      mixer Verse Snapshot · channel choir_pad_soft.wav: gain_db -3.0 → -4.5\n" in changed.out
    assert "renamed assets/strings_vs_choir_blend.wav → assets/strings_choir_blend.wav (same content)" in changed.out
    assert "sample gospel_stab_short.wav: duration_s 2.100 s → 1.890 s" in changed.out
    stat = cli("diff", "demo-project~1", "demo-project", "--stat").out.splitlines()
    # The trimmed stab: size, digest, duration, the manifest's LUFS and the measured LUFS.
    assert stat[-1] == "8 file(s) changed, 14 change(s)"
    assert "assets/gospel_stab_short.wav | 5 change(s): sample gospel_stab_short.wav modified" in stat
    assert "patterns/verse.json | 3 change(s): pattern verse modified" in stat


def test_invalid_json_and_unparseable_audio_fall_back_to_bytes(bundle: Path, tmp_path: Path, demo_data: Path) -> None:
    (bundle / "patterns" / "verse.json").write_bytes(b"{not json")
    (bundle / "assets" / "kick_room.wav").write_bytes(b"not audio at all")
    records = diff_specs(None, str(demo_data / "demo_bundle"), str(bundle))
    by_subject = {r.subject: r for r in records}
    assert [c.field for c in by_subject["verse"].changes] == ["size", "sha256"]
    assert [c.field for c in by_subject["kick_room.wav"].changes] == ["size", "sha256"]


def test_diff_of_two_paths_needs_no_store(tmp_path: Path, demo_data: Path) -> None:
    result = Cli(tmp_path / "none", tmp_path)(
        "diff", demo_data / "demo_bundle", demo_data / "demo_bundle", "--exit-code", store=False
    )
    assert result.code == 0 and "no differences" in result.out


def test_unknown_side_is_a_clear_error(two_revisions: Cli) -> None:
    result = two_revisions("diff", "demo-project", "nosuch")
    assert result.code == 2 and "unknown revision 'nosuch'" in result.err


# --- property: random edits are each reported, and nothing else -----------------------------


def _refresh_manifest(bundle: Path) -> None:
    path = bundle / "project_manifest.json"
    manifest = json.loads(path.read_text())
    for record in manifest["patterns"] + manifest["mixer_snapshots"]:
        record["sha256"] = sha256_file(bundle / record["path"])
    for record in manifest["sampler_assets"]:
        record["sha256"] = sha256_file(bundle / record["relative_path"])
    path.write_text(json.dumps(manifest, indent=2) + "\n")  # as the app writes it: same bytes if unchanged


def _edit_json(path: Path, change: Any) -> None:
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value, indent=2))


edits = st.fixed_dictionaries(
    {},
    optional={
        "bpm": st.floats(60, 200).filter(lambda v: v != 120.0),
        "velocity": st.tuples(st.integers(0, 23), st.integers(0, 127)),
        "gain": st.tuples(st.integers(0, 2), st.floats(-60, 6).map(lambda v: round(v, 1))),
        "sample_bytes": st.binary(min_size=1, max_size=64),
        "rename": st.just(True),
        "remove_intro": st.just(True),
        "new_file": st.binary(max_size=64),
    },
)


@settings(max_examples=30)
@given(plan=edits)
def test_each_random_edit_is_reported_and_nothing_else(
    tmp_path_factory: pytest.TempPathFactory, demo_data: Path, plan: dict[str, Any]
) -> None:
    bundle = tmp_path_factory.mktemp("edit") / "b"
    shutil.copytree(demo_data / "demo_bundle", bundle)
    expected: set[tuple[str, str, str]] = set()
    manifest_path = bundle / "project_manifest.json"
    if "bpm" in plan:
        _edit_json(manifest_path, lambda m: m["project"].update(bpm=plan["bpm"]))
        expected.add(("project", "modified", "project"))
    if "velocity" in plan:
        index, velocity = plan["velocity"]
        chorus = json.loads((bundle / "patterns" / "chorus.json").read_text())
        if chorus["steps"][index]["velocity"] != velocity:
            _edit_json(bundle / "patterns" / "chorus.json", lambda p: p["steps"][index].update(velocity=velocity))
            expected.add(("pattern", "modified", "chorus"))
    if "gain" in plan:
        channel, gain = plan["gain"]
        snap = json.loads((bundle / "mixer" / "chorus_snapshot.json").read_text())
        if snap["channels"][channel]["gain_db"] != gain:
            _edit_json(bundle / "mixer" / "chorus_snapshot.json", lambda s: s["channels"][channel].update(gain_db=gain))
            expected.add(("mixer", "modified", "Chorus Snapshot"))
    if "sample_bytes" in plan:
        with open(bundle / "assets" / "kick_room.wav", "ab") as stream:
            stream.write(plan["sample_bytes"])
        expected.add(("sample", "modified", "kick_room.wav"))
    if "rename" in plan:
        (bundle / "assets" / "choir_pad_soft.wav").rename(bundle / "assets" / "choir_pad_renamed.wav")

        def rename(m: dict[str, Any]) -> None:
            asset = next(a for a in m["sampler_assets"] if a["asset_name"] == "choir_pad_soft.wav")
            asset.update(asset_name="choir_pad_renamed.wav", relative_path="assets/choir_pad_renamed.wav")

        _edit_json(manifest_path, rename)
        expected.add(("sample", "renamed", "choir_pad_renamed.wav"))
    if "remove_intro" in plan:
        (bundle / "patterns" / "intro.json").unlink()
        _edit_json(manifest_path, lambda m: m.update(patterns=[p for p in m["patterns"] if p["pattern_id"] != "intro"]))
        expected.add(("pattern", "removed", "intro"))
    if "new_file" in plan:
        (bundle / "notes.txt").write_bytes(plan["new_file"])
        expected.add(("file", "added", "notes.txt"))
    _refresh_manifest(bundle)
    records = diff_specs(None, str(demo_data / "demo_bundle"), str(bundle))
    assert {(r.section, r.change, r.subject) for r in records} == expected
    for record in records:
        if record.section == "pattern" and record.change == "modified":
            assert [c.field for c in record.changes] == [f"steps[{_step_number(demo_data, plan)}].velocity"]
        if record.section == "mixer":
            assert len(record.changes) == 1 and record.changes[0].field.endswith(".gain_db")
        if record.section == "project":
            assert [c.field for c in record.changes] == ["bpm"]


def _step_number(demo_data: Path, plan: dict[str, Any]) -> int:
    chorus = json.loads((demo_data / "demo_bundle" / "patterns" / "chorus.json").read_text())
    return chorus["steps"][plan["velocity"][0]]["step"]


def test_library_diff_against_a_store_revision(two_revisions: Cli, demo_data: Path) -> None:
    store = Store.open(two_revisions.store)
    records = diff_specs(store, "demo-project", str(demo_data / "demo_bundle_rev2"))
    assert records == []
