"""Diff by identity: a drum machine laid out unlike the choir demo, numeric steps, the manifest, --stat."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from casstore.diff.semantic import diff_specs
from casstore.model.jsondiff import identity_key, json_changes
from conftest import Cli

SNARE = "pattern p04 · track gm_snare_hard.wav · step 12: velocity 110 → 88"
GAIN = "mixer chorus · channel gm_snare_hard.wav: gain_db -3.0 → -3.5"
KICK_ADDED = "pattern p04 · track gm_kick.wav · step 2: added (note C-4, velocity 100)"
HAT_REMOVED = "pattern p04 · track gm_hat_closed.wav · step 10: removed (note F#4, velocity 80)"


def _json(cli: Cli, *args: str | Path) -> dict[str, Any]:
    result = cli("diff", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _holds_exactly(records: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Each intended change is reported with the keys the generator states, and nothing else."""
    assert [(r["section"], r["change"], r["subject"]) for r in records] == [
        (e["section"], e["change"], e["subject"]) for e in expected
    ]
    for record, want in zip(records, expected, strict=True):
        got = [{k: c[k] for k in w} for c, w in zip(record["changes"], want["changes"], strict=False)]
        assert got == want["changes"] and len(record["changes"]) == len(want["changes"]), want["subject"]


@pytest.fixture()
def drums(cli: Cli, demo_data: Path) -> Cli:
    for rev in ("drum_bundle", "drum_bundle_rev2", "drum_bundle_rev3"):
        cli.ok("import", demo_data / rev)
    return cli


def test_drum_machine_diffs_by_instrument_and_step(drums: Cli, demo_data: Path) -> None:
    expected = json.loads((demo_data / "drum_rev2_changes.json").read_text())
    _holds_exactly(_json(drums, "drum-machine~2", "drum-machine~1")["records"], expected)
    # the same between the bundle directories, without a store
    _holds_exactly(_json(drums, demo_data / "drum_bundle", demo_data / "drum_bundle_rev2")["records"], expected)


def test_drum_machine_human_output_names_tracks_steps_and_channels(drums: Cli) -> None:
    out = drums("diff", "drum-machine~2", "drum-machine~1").out
    lines = [line.strip() for line in out.splitlines()]
    for wanted in (SNARE, GAIN, KICK_ADDED, HAT_REMOVED):
        assert wanted in lines, out
    assert "[" not in out.split("Mixer snapshots")[0], "no list positions in the pattern lines"


def test_json_records_carry_the_identity_path_beside_the_display(drums: Cli) -> None:
    records = _json(drums, "drum-machine~2", "drum-machine~1")["records"]
    snare = next(c for r in records for c in r["changes"] if c["display"] == SNARE)
    assert snare["identity"] == [["pattern", "p04"], ["track", "gm_snare_hard.wav"], ["step", 12]]
    assert snare["identity_keys"] == ["pattern_id", "instrument", "step"]
    assert (snare["attribute"], snare["old"], snare["new"], snare["kind"]) == ("velocity", 110, 88, "modified")
    gain = next(c for r in records for c in r["changes"] if c["display"] == GAIN)
    assert gain["identity"] == [["mixer", "chorus"], ["channel", "gm_snare_hard.wav"]]


def test_choir_demo_diffs_by_step_and_channel_name(cli: Cli, demo_data: Path) -> None:
    records = _json(cli, demo_data / "demo_bundle", demo_data / "demo_bundle_rev2")["records"]
    lines = [c["display"] for r in records for c in r["changes"]]
    assert "mixer Verse Snapshot · channel choir_pad_soft.wav: gain_db -3.0 → -4.5" in lines
    verse = next(r for r in records if r["subject"] == "verse")
    assert [c["identity"][-1] for c in verse["changes"]] == [["step", 20], ["step", 20], ["step", 32]]


def test_numeric_identities_sort_numerically() -> None:
    old = {"steps": [{"step": n, "velocity": 100} for n in (5, 10, 15)]}
    new = {"steps": [{"step": n, "velocity": 90} for n in (5, 10, 15)]}
    assert [c.segments[-1][1] for c in json_changes(old, new)] == [5, 10, 15]
    assert [c.field for c in json_changes(old, new)] == [
        "steps[5].velocity",
        "steps[10].velocity",
        "steps[15].velocity",
    ]


def test_a_step_added_to_a_sparse_list_is_one_added_step() -> None:
    old = {"steps": [{"step": 4, "note": "C-4", "velocity": 100}, {"step": 12, "note": "C-4", "velocity": 110}]}
    new = {"steps": [old["steps"][0], {"step": 8, "note": "D-4", "velocity": 90}, old["steps"][1]]}
    [change] = json_changes(old, new)
    assert (change.kind, change.segments, change.old) == ("added", (("step", 8),), None)


def test_a_unique_but_unstable_key_is_not_an_identity() -> None:
    # velocity happens to be unique in each list, but it is not a name; name-like keys win or none does
    old = [{"note": "C-4", "velocity": 100}, {"note": "D-4", "velocity": 90}]
    new = [{"note": "C-4", "velocity": 101}, {"note": "D-4", "velocity": 91}]
    assert identity_key(old, new) is None
    changes = json_changes({"steps": old}, {"steps": new})
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("steps[0].velocity", 100, 101),
        ("steps[1].velocity", 90, 91),
    ]


def test_the_most_specific_key_wins_and_ids_must_overlap() -> None:
    steps = [{"step": 1, "instrument": "kick"}, {"step": 2, "instrument": "snare"}]
    assert identity_key(steps, steps) == "step"
    renamed = [{"name": "x", "gain": 1}, {"name": "y", "gain": 2}]
    assert identity_key(renamed, [{"name": "z", "gain": 1}, {"name": "w", "gain": 2}]) is None
    assert identity_key([{"name": "a", "track_id": 7}], [{"name": "b", "track_id": 7}]) == "track_id"
    assert identity_key([{"step": True}], [{"step": True}]) is None  # booleans name nothing


def test_a_list_without_identity_is_aligned_by_content() -> None:
    old = [{"note": "C-4", "fx": "arp"}, {"note": "D-4", "fx": "slide"}, {"note": "E-4", "fx": None}]
    new = [{"note": "G-4", "fx": "retrig"}, *old[:2], {"note": "E-4", "fx": "arp"}]
    changes = json_changes({"rows": old}, {"rows": new})
    assert [(c.kind, c.field) for c in changes] == [("added", "rows[0]"), ("modified", "rows[3].fx")]


def test_manifest_entry_order_alone_is_a_manifest_record(drums: Cli) -> None:
    result = drums("diff", "drum-machine~1", "drum-machine", "--exit-code")
    assert result.code == 1 and "no differences" not in result.out
    assert "manifest: pattern order p01, p04 → p04, p01" in result.out


def test_manifest_bytes_alone_are_a_manifest_record(demo_data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(demo_data / "drum_bundle", copy)
    manifest = copy / "project_manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()), indent=4))
    [record] = diff_specs(None, str(demo_data / "drum_bundle"), str(copy))
    assert (record.section, record.note) == ("manifest", "same content, other bytes: key order or whitespace")
    assert [c.field for c in record.changes] == ["sha256"]


def test_a_recorded_digest_no_file_reflects_is_a_manifest_record(demo_data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(demo_data / "drum_bundle", copy)
    path = copy / "project_manifest.json"
    manifest = json.loads(path.read_text())
    manifest["patterns"][0]["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    [record] = diff_specs(None, str(demo_data / "drum_bundle"), str(copy))
    assert record.section == "manifest" and record.lines() == [
        f"manifest · pattern p01: sha256 {manifest_sha(demo_data)[:16]} → {'0' * 16}"
    ]


def manifest_sha(demo_data: Path) -> str:
    return json.loads((demo_data / "drum_bundle" / "project_manifest.json").read_text())["patterns"][0]["sha256"]


def test_two_stored_trees_that_differ_never_diff_as_nothing(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "drum_bundle")
    cli.ok("import", demo_data / "drum_bundle", "--project", "other")
    result = cli("diff", "drum-machine", "other", "--exit-code")
    assert result.code == 1 and "project: store project drum-machine → other" in result.out


@pytest.mark.parametrize(("old", "new"), [("drum-machine~2", "drum-machine~1"), ("demo-project~1", "demo-project")])
def test_stat_lines_add_up_to_the_total(drums: Cli, demo_data: Path, old: str, new: str) -> None:
    drums.ok("import", demo_data / "demo_bundle")
    drums.ok("import", demo_data / "demo_bundle_rev2")
    *lines, total = drums.ok("diff", old, new, "--stat").out.splitlines()
    counts = [int(line.split(" | ")[1].split(" change(s)")[0]) for line in lines]
    assert total == f"{len(lines)} file(s) changed, {sum(counts)} change(s)"
    assert len({line.split(" | ")[0] for line in lines}) == len(lines)  # one line per file
    document = _json(drums, old, new, "--stat")
    assert document["stat"]["changes"] == sum(counts) == sum(f["changes"] for f in document["stat"]["files"])
    changes = sum(1 if r["change"] in ("added", "removed") else max(1, len(r["changes"])) for r in document["records"])
    assert document["stat"]["changes"] == changes


def test_docs_examples_are_the_real_output(drums: Cli) -> None:
    # The drum machine only: the choir example shows measured loudness, which may be re-rounded.
    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    for args in (("drum-machine~2", "drum-machine~1"), ("drum-machine~1", "drum-machine")):
        shown = f"$ casstore diff {' '.join(args)}\n" + drums.ok("diff", *args).out
        assert shown in doc, shown
    mixer = next(r for r in _json(drums, "drum-machine~2", "drum-machine~1")["records"] if r["section"] == "mixer")
    assert json.dumps(mixer, indent=2, ensure_ascii=False) + "\n```" in doc


def test_recovery_summary_names_a_manifest_only_change(demo_data: Path, tmp_path: Path) -> None:
    from casstore.workdir.recover import summarize

    records = diff_specs(None, str(demo_data / "drum_bundle_rev2"), str(demo_data / "drum_bundle_rev3"))
    assert summarize(records) == "vs head: manifest modified"
