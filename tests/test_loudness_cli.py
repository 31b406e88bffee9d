"""show, handoff, diff and import say where a loudness value came from, how it was made, and flag QA findings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import soundfile

from casstore.audio.loudness import measure
from conftest import Cli, sha256_file

FLAGGED = {"hat_0.12s.wav", "snare_0.25s.flac", "kick_0.46s.wav", "tail_0.70s_minus_1.wav"}
SHORT = {"hat_0.12s.wav", "snare_0.25s.flac", "click_0.40s_minus_1.wav"}


def _manifest_values(demo_data: Path) -> dict[str, float]:
    manifest = json.loads((demo_data / "loudness_bundle" / "project_manifest.json").read_text())
    return {a["asset_name"]: a["lufs_lu"] for a in manifest["sampler_assets"]}


def _measured(demo_data: Path, name: str) -> float:
    return round(measure(demo_data / "loudness_clips" / name).lufs, 2)


def test_import_with_a_sampler_manifest_warns_of_loudness_it_does_not_match(cli: Cli, demo_data: Path) -> None:
    result = cli(
        "import", demo_data / "loudness_bundle", "--sampler-manifest", demo_data / "sampler_loudness_manifest.json"
    )
    assert result.code == 0, result.err
    warned = {line for line in result.err.splitlines() if "QA finding" in line}
    assert {name for name in _manifest_values(demo_data) if any(name in line for line in warned)} == FLAGGED
    kick = next(line for line in warned if "kick_0.46s.wav" in line)
    manifest, measured = _manifest_values(demo_data)["kick_0.46s.wav"], _measured(demo_data, "kick_0.46s.wav")
    assert f"sampler manifest says {manifest:.2f} LUFS, measured {measured:.2f} LUFS (bs1770)" in kick
    assert f"differ by {abs(measured - manifest):.2f} LU" in kick
    hat = next(line for line in warned if "hat_0.12s.wav" in line)
    assert "(short clip, padded)" in hat
    assert cli.ok("log", "loudness-kit", "--json").out  # imported, not refused


def test_show_gives_both_values_their_source_method_and_findings(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "loudness_bundle")
    text = cli.ok("show", "loudness-kit").out
    manifest = _manifest_values(demo_data)
    for name, value in manifest.items():
        line = next(line for line in text.splitlines() if line.strip().startswith(name))
        method = "short clip, padded" if name in SHORT else "bs1770"
        assert f"{_measured(demo_data, name):.2f} LUFS (measured; {method}), {value:.2f} LUFS (manifest)" in line
    findings = [line for line in text.splitlines() if "QA finding" in line]
    assert len(findings) == len(FLAGGED) and all(any(n in f for n in FLAGGED) for f in findings)
    shown = json.loads(cli.ok("show", "loudness-kit", "--json").out)
    by_name = {item["asset_name"]: item for item in shown["sampler_loudness"]}
    assert set(by_name) == set(manifest)
    for name, item in by_name.items():
        assert item["lufs_method"] == ("short clip, padded" if name in SHORT else "bs1770")
        assert item["manifest_lufs_lu"] == manifest[name] and item["measured_lufs_lu"] == _measured(demo_data, name)
        assert (item["qa_finding"] is not None) == (name in FLAGGED)
        assert item["peak_kind"] == "sample peak"


def test_handoff_marks_padded_values_and_lists_findings(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "loudness_bundle")
    stress = tmp_path / "stress.json"
    stress.write_text(cli.ok("stress-autosave", "--project-id", "scratch", "--iterations", "12").out)
    text = cli.ok("handoff", "loudness-kit", "--stress-summary", stress).out
    manifest = _manifest_values(demo_data)
    hat = _measured(demo_data, "hat_0.12s.wav")
    assert f"| `hat_0.12s.wav` | {hat:.2f} | short clip, padded | {manifest['hat_0.12s.wav']:.2f} ⚠ |" in text
    tone = _measured(demo_data, "tone_0.40s.wav")
    assert f"| `tone_0.40s.wav` | {tone:.2f} | bs1770 | {manifest['tone_0.40s.wav']:.2f} |" in text
    findings = text.split("QA findings (")[1].split("## 4.")[0]
    assert {n for n in manifest if n in findings} == FLAGGED
    rows = {row["asset_name"]: row for row in json.loads(cli.ok("handoff", "loudness-kit", "--json").out)["assets"]}
    assert rows["hat_0.12s.wav"]["lufs_method"] == "short clip, padded" and rows["hat_0.12s.wav"]["lufs_lu"] == hat
    assert rows["kick_0.46s.wav"]["lufs_source"] == "measured" and rows["kick_0.46s.wav"]["qa_finding"]
    assert rows["tone_0.40s.wav"]["qa_finding"] is None and rows["tone_0.40s.wav"]["lufs_method"] == "bs1770"


def test_diff_says_measured_or_manifest_and_when_a_trim_makes_a_clip_short(
    cli: Cli, demo_data: Path, tmp_path: Path
) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(demo_data / "loudness_bundle", edited)
    kick = edited / "assets" / "kick_0.46s.wav"
    samples, rate = soundfile.read(str(kick))
    soundfile.write(str(kick), samples[: int(0.3 * rate)], rate, subtype="PCM_16")
    manifest_path = edited / "project_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for asset in manifest["sampler_assets"]:
        if asset["asset_name"] == "kick_0.46s.wav":
            asset["sha256"] = sha256_file(kick)
    manifest_path.write_text(json.dumps(manifest, indent=2))
    trimmed = round(measure(kick).lufs, 2)
    before = _measured(demo_data, "kick_0.46s.wav")
    text = cli.ok("diff", demo_data / "loudness_bundle", edited).out
    assert f"lufs_measured {before:.2f} LUFS → {trimmed:.2f} LUFS (measured; bs1770 → short clip, padded)" in text
    assert "QA finding: kick_0.46s.wav: manifest" in text
    records = json.loads(cli.ok("diff", demo_data / "loudness_bundle", edited, "--json").out)["records"]
    changes = {c["field"]: c for c in records[0]["changes"]}
    expected = {
        "field": "lufs_measured",
        "old": before,
        "new": trimmed,
        "source": "measured",
        "unit": "LUFS",
        "old_method": "bs1770",
        "new_method": "short clip, padded",
    }
    assert {key: changes["lufs_measured"][key] for key in expected} == expected
    assert changes["lufs_difference"]["unit"] == "LU" and changes["lufs_difference"]["qa_finding"]
