"""Sampler manifest parity, loudness against an independent meter, bundle build and the QA hand-off."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from casstore.audio.loudness import measure
from casstore.audio.sampler import SamplerManifest, SamplerManifestIndex, SamplerParityError
from conftest import Cli, dirs_equal, sha256_file

NOTE_TABLE = {
    "choir_pad_soft.wav": (-20.6, -3.1),
    "strings_vs_choir_blend.wav": (-16.4, -1.7),
    "gospel_stab_short.wav": (-15.4, -4.2),
}


def _ffmpeg_lufs(path: Path) -> float:
    done = subprocess.run(
        ["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-filter_complex", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stderr.split("Summary:")[-1]
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))


def _tone(rate: int, channels: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    out = np.empty((len(t), channels))
    for ch in range(channels):
        out[:, ch] = 0.3 * np.sin(2 * np.pi * (220 + 110 * ch) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
        out[:, ch] += rng.normal(0, 0.02, len(t))
    return out


CASES = [
    ("mono_44k_16.wav", 44100, 1, "PCM_16", "WAV"),
    ("stereo_44k_24.wav", 44100, 2, "PCM_24", "WAV"),
    ("stereo_48k_16.wav", 48000, 2, "PCM_16", "WAV"),
    ("mono_48k_24.wav", 48000, 1, "PCM_24", "WAV"),
    ("stereo_48k_16.flac", 48000, 2, "PCM_16", "FLAC"),
]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (CI installs it)")
@pytest.mark.parametrize(("name", "rate", "channels", "subtype", "fmt"), CASES, ids=[c[0] for c in CASES])
def test_loudness_agrees_with_ffmpeg_ebur128(
    tmp_path: Path, name: str, rate: int, channels: int, subtype: str, fmt: str
) -> None:
    path = tmp_path / name
    soundfile.write(str(path), _tone(rate, channels, 4.0, len(name)), rate, subtype=subtype, format=fmt)
    ours = measure(path)
    assert ours.lufs is not None and abs(ours.lufs - _ffmpeg_lufs(path)) <= 0.1


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (CI installs it)")
@pytest.mark.parametrize("asset", sorted(NOTE_TABLE))
def test_demo_choir_layers_agree_with_ffmpeg(demo_data: Path, asset: str) -> None:
    path = demo_data / "demo_bundle" / "assets" / asset
    assert abs(measure(path).lufs - _ffmpeg_lufs(path)) <= 0.1


def test_demo_choir_layers_measure_as_the_note_says(demo_data: Path) -> None:
    for asset, (lufs, peak) in NOTE_TABLE.items():
        measured = measure(demo_data / "demo_bundle" / "assets" / asset)
        assert abs(measured.lufs - lufs) <= 0.1 and abs(measured.peak_dbfs - peak) <= 0.1, asset


def test_short_and_silent_samples_get_defined_answers(tmp_path: Path) -> None:
    short = tmp_path / "short.wav"
    soundfile.write(str(short), _tone(44100, 1, 0.2, 1), 44100, subtype="PCM_16")
    result = measure(short)
    assert result.lufs is not None and -40 < result.lufs < 0 and result.gated_blocks == 1
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.zeros((44100, 2)), 44100, subtype="PCM_16")
    assert measure(silent).as_json()["lufs"] is None and measure(silent).as_json()["peak_dbfs"] is None
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros((0, 1)), 44100, subtype="PCM_16")
    assert measure(empty).lufs is None


def test_copy_asset_refuses_a_wrong_file_and_leaves_nothing(demo_data: Path, tmp_path: Path) -> None:
    index = SamplerManifestIndex.load(demo_data / "sampler_s3_manifest.json")
    bundle = tmp_path / "bundle"
    good = index.copy_asset(demo_data / "demo_bundle" / "assets" / "choir_pad_soft.wav", bundle)
    assert good.relative_path == "assets/choir_pad_soft.wav" and good.lufs_lu == -20.6
    assert good.source_uri.startswith("s3://") and good.extra["peak_dbfs"] == -3.1
    impostor = tmp_path / "strings_vs_choir_blend.wav"
    impostor.write_bytes(b"RIFF not the real take")
    with pytest.raises(SamplerParityError) as raised:
        index.copy_asset(impostor, bundle)
    message = str(raised.value)
    expected = index.get("strings_vs_choir_blend.wav").sha256
    assert "strings_vs_choir_blend.wav" in message and expected in message and sha256_file(impostor) in message
    assert sorted(p.name for p in (bundle / "assets").iterdir()) == ["choir_pad_soft.wav"]
    nested = index.copy_asset(demo_data / "demo_bundle" / "assets" / "gospel_stab_short.wav", bundle, tmp_path)
    assert nested.relative_path == "bundle/assets/gospel_stab_short.wav"


def test_dialog_filters_and_import_plan_on_the_demo(demo_data: Path) -> None:
    index = SamplerManifestIndex.load(demo_data / "sampler_s3_manifest.json")
    assert index.dialog_filters() == ["*.wav"]
    plan = index.build_import_plan()
    assert plan.label == "3 choir layers available" and plan.asset_count == 3 and plan.filters == ["*.wav"]


names = st.lists(
    st.tuples(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), st.sampled_from([".wav", ".WAV", ".flac", ".aiff"])
    ),
    min_size=0,
    max_size=12,
    unique_by=lambda t: t[0] + t[1],
)


@given(entries=names, collection=st.none() | st.sampled_from(["choir layers", "drum hits"]))
def test_filters_cover_every_suffix_once_sorted(entries: list[tuple[str, str]], collection: str | None) -> None:
    manifest = SamplerManifest.model_validate(
        {
            "collection": collection,
            "sampler_assets": [{"asset_name": stem + suffix, "sha256": "0" * 64} for stem, suffix in entries],
        }
    )
    index = SamplerManifestIndex(manifest)
    filters = index.dialog_filters()
    assert filters == sorted(set(filters))
    assert set(filters) == {f"*{suffix.lower()}" for _stem, suffix in entries}
    plan = index.build_import_plan()
    assert plan.asset_count == len(entries)
    assert plan.label.startswith(f"{len(entries)} ") and plan.label.endswith(" available")


def _build_args(demo_data: Path, dest: Path, *extra: str) -> list[str | Path]:
    src = demo_data / "demo_bundle"
    return [
        "bundle",
        "build",
        dest,
        "--project-file",
        src / "project.json",
        "--pattern",
        src / "patterns" / "verse.json",
        "--pattern",
        src / "patterns" / "chorus.json",
        "--mixer-snapshot",
        f"Verse Snapshot={src / 'mixer' / 'verse_snapshot.json'},master",
        "--asset",
        f"choir_pad_soft.wav={src / 'assets' / 'choir_pad_soft.wav'}",
        "--asset",
        f"gospel_stab_short.wav={src / 'assets' / 'gospel_stab_short.wav'}",
        *extra,
    ]


def test_bundle_build_import_export_round_trip(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    built = tmp_path / "built"
    summary = json.loads(
        cli.ok(
            *_build_args(demo_data, built, "--sampler-manifest", demo_data / "sampler_s3_manifest.json", "--json")
        ).out
    )
    assert summary["counts"] == {"patterns": 2, "mixer_snapshots": 1, "sampler_assets": 2, "files": 1}
    manifest = json.loads((built / "project_manifest.json").read_text())
    verse = next(p for p in manifest["patterns"] if p["pattern_id"] == "verse")
    assert verse["length_steps"] == 64 and verse["step_count"] == 40
    assert {a["asset_name"]: a["lufs_lu"] for a in manifest["sampler_assets"]} == {
        "choir_pad_soft.wav": -20.6,
        "gospel_stab_short.wav": -15.4,
    }
    imported = json.loads(cli.ok("import", built, "--json").out)
    assert imported["tree"] == summary["tree"] and imported["manifest_sha256"] == summary["manifest_sha256"]
    cli.ok("export", "demo-project", tmp_path / "exported")
    assert dirs_equal(built, tmp_path / "exported")
    # Rebuild from the same inputs with the same command: the twin is identical, byte for byte.
    first = tmp_path / "first"
    built.rename(first)
    cli.ok(*_build_args(demo_data, built, "--sampler-manifest", demo_data / "sampler_s3_manifest.json"))
    diff = cli("diff", first, built, "--json", "--exit-code")
    assert diff.code == 0 and json.loads(diff.out)["records"] == []
    assert dirs_equal(first, built)


def test_bundle_build_measures_loudness_without_a_sampler_manifest(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    built = tmp_path / "measured"
    cli.ok(*_build_args(demo_data, built))
    assets = json.loads((built / "project_manifest.json").read_text())["sampler_assets"]
    assert {a["asset_name"]: (a["lufs_lu"], a["peak_dbfs"]) for a in assets} == {
        "choir_pad_soft.wav": (-20.6, -3.1),
        "gospel_stab_short.wav": (-15.4, -4.2),
    }


def test_bundle_build_with_an_unknown_asset_writes_nothing(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    dest = tmp_path / "refused"
    args = _build_args(demo_data, dest, "--sampler-manifest", demo_data / "sampler_s3_manifest.json")
    args += ["--asset", f"kick_room.wav={demo_data / 'demo_bundle' / 'assets' / 'kick_room.wav'}"]
    result = cli(*args)
    assert result.code == 2 and "kick_room.wav" in result.err and "not in the sampler manifest" in result.err
    assert not dest.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".refused")]


def test_import_with_sampler_manifest_enforces_parity(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    before = list((cli.store / "objects").iterdir())
    result = cli("import", demo_data / "demo_bundle", "--sampler-manifest", demo_data / "sampler_s3_manifest.json")
    assert result.code == 2 and "sampler_assets['kick_room.wav']" in result.err
    assert list((cli.store / "objects").iterdir()) == before
    cli.ok("import", demo_data / "second_project", "--sampler-manifest", demo_data / "sampler_s3_manifest.json")


def test_handoff_prints_the_notes_table_with_real_digests(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    stress = tmp_path / "stress.json"
    stress.write_text(cli.ok("stress-autosave", "--project-id", "scratch", "--iterations", "12").out)
    text = cli.ok("handoff", "demo-project", "--stress-summary", stress).out
    assert "| Asset | Measured loudness (LUFS) | Method | Manifest loudness (LUFS) | Sample peak (dBFS) |" in text
    for asset, (lufs, peak) in NOTE_TABLE.items():
        digest = sha256_file(demo_data / "demo_bundle" / "assets" / asset)[:16]
        row = re.search(rf"\| `{re.escape(asset)}` \| (\S+) \| bs1770 \| (\S+) \| (\S+) \| `{digest}` \|", text)
        measured, manifest, shown_peak = row.groups()
        assert re.fullmatch(r"-\d+\.\d\d", measured) and re.fullmatch(r"-\d+\.\d\d", shown_peak)
        assert abs(float(measured) - lufs) <= 0.1 and float(manifest) == lufs and abs(float(shown_peak) - peak) <= 0.1
    assert "QA findings (" not in text
    assert "casstore" in text and "| pruned | 7 |" in text and "- [ ] " in text
    pack = json.loads(cli.ok("handoff", "demo-project", "--json").out)  # runs the harness itself
    assert pack["stress"]["pruned"] == 7 and pack["commands"]["import"].startswith("casstore ")
    out = tmp_path / "README.md"
    cli.ok("handoff", "demo-project", "--out", out, "--stress-summary", stress)
    assert out.read_text() == text


def test_copy_asset_takes_a_255_byte_name_and_the_users_umask(tmp_path: Path) -> None:
    name = "é" * 10 + "k" * 231 + ".wav"
    assert len(name.encode()) == 255
    take = tmp_path / "take.wav"
    take.write_bytes(b"RIFF a take with a long name")
    manifest = tmp_path / "sampler.json"
    manifest.write_text(json.dumps({"sampler_assets": [{"asset_name": name, "sha256": sha256_file(take)}]}))
    old = os.umask(0o022)
    try:
        record = SamplerManifestIndex.load(manifest).copy_asset(take, tmp_path / "bundle", asset_name=name)
    finally:
        os.umask(old)
    copied = tmp_path / "bundle" / "assets" / name
    assert record.relative_path == f"assets/{name}" and copied.read_bytes() == take.read_bytes()
    assert stat.S_IMODE(copied.stat().st_mode) == 0o644
    assert sorted(p.name for p in copied.parent.iterdir()) == [name]
