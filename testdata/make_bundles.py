"""Generate the demo tracker bundles deterministically (fixed seed, no network).

Writes, under the output directory (default ``testdata/out``):

- ``demo_bundle/``: revision 1 as the tracker app saves it: ``project_manifest.json``
  (schema 1.0.0, in the app's own key order, not casstore's canonical form),
  ``project.json``, ``patterns/<pattern_id>.json``, ``mixer/*.json`` and ``assets/*.wav``
  (the three choir layers plus a kick that revision 2 removes);
- ``demo_bundle_rev2/``: revision 2 with known changes: verse steps 12 and 20 edited,
  the verse snapshot's choir gain -3.0 -> -4.5 dB, ``gospel_stab_short.wav`` trimmed
  from 2.10 s to 1.89 s, ``strings_vs_choir_blend.wav`` renamed to
  ``strings_choir_blend.wav`` (same bytes), ``snare_room.wav`` added and
  ``kick_room.wav`` removed;
- ``second_project/``: another project sharing ``choir_pad_soft.wav`` with the demo;
- ``sampler_s3_manifest.json``: the canonical sampler manifest of the choir layers;
- ``demo_bundle.zip``: revision 1 zipped in a top-level folder, as testers mail it;
- ``drum_bundle*/``: a drum machine laid out differently (see ``make_drum_machine.py``);
- the loudness edge cases of ``make_loudness_clips.py`` (``loudness_clips/``, ``loudness_bundle/``).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
import zipfile
from pathlib import Path

import make_loudness_clips
import numpy as np
import pyloudnorm
import soundfile
from make_drum_machine import main as make_drum_machine

from casstore.audio.loudness import measure

SEED = 20251125
RATE = 44100
NOTES = ["C-4", "D-4", "D#4", "F-4", "G-4", "G#4", "A#4", "C-5"]
# The note's QA table: the choir layers are shaped to measure exactly this (LUFS, dBFS).
TARGETS = {
    "choir_pad_soft.wav": (-20.6, -3.1),
    "strings_vs_choir_blend.wav": (-16.4, -1.7),
    "gospel_stab_short.wav": (-15.4, -4.2),
}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def synth(rng: np.random.Generator, seconds: float, channels: int, freq: float, amplitude: float) -> np.ndarray:
    """A decaying chord with a little noise: real audio, not silence, and poorly compressible."""
    frames = int(seconds * RATE)
    t = np.arange(frames) / RATE
    env = np.exp(-1.2 * t / max(seconds, 0.1)) * np.minimum(1.0, t * 50)
    out = np.empty((frames, channels))
    for ch in range(channels):
        detune = 1.0 + 0.002 * ch
        tone = np.sin(2 * np.pi * freq * detune * t) + 0.5 * np.sin(2 * np.pi * freq * 1.5 * t)
        out[:, ch] = amplitude * env * 0.66 * tone + rng.uniform(-0.02, 0.02, frames)
    return out


def shape(audio: np.ndarray, lufs: float, peak_dbfs: float) -> np.ndarray:
    """Scale and limit ``audio`` until it measures ``lufs`` with a sample peak of ``peak_dbfs``."""
    meter = pyloudnorm.Meter(RATE)
    ceiling = 10 ** (peak_dbfs / 20)
    shaped = audio.copy()
    for _ in range(60):
        shaped *= 10 ** ((lufs - meter.integrated_loudness(shaped)) / 20)
        if np.max(np.abs(shaped)) <= ceiling * 0.999:
            break
        shaped = np.clip(shaped, -ceiling * 0.98, ceiling * 0.98)  # lower the crest factor
    # One sample at the target peak fixes the sample peak without moving the loudness.
    loudest = int(np.argmax(np.abs(shaped[:, 0])))
    shaped[loudest, 0] = math.copysign(ceiling, shaped[loudest, 0])
    return shaped


def write_wav(path: Path, audio: np.ndarray, bits: int) -> dict:
    """Write PCM WAV (16- or 24-bit) with soundfile and return its shape and sample peak."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, RATE, subtype=f"PCM_{bits}", format="WAV")
    stored, _ = soundfile.read(str(path), always_2d=True)
    peak = float(np.max(np.abs(stored)))
    return {
        "duration_s": round(len(audio) / RATE, 3),
        "sample_rate": RATE,
        "channels": audio.shape[1],
        "peak_dbfs": round(20 * math.log10(peak), 1) if peak else None,
    }


def measured_lufs(path: Path) -> float | None:
    """The asset's integrated loudness as casstore measures it, to 0.1 LU (None for silence)."""
    lufs = measure(path).lufs
    return None if lufs is None else round(lufs, 1)


def pattern(rng: random.Random, pattern_id: str, length: int, filled: int, instruments: list[str]) -> dict:
    steps = sorted(rng.sample(range(length), filled))
    return {
        "pattern_id": pattern_id,
        "length_steps": length,
        "tracks": instruments,
        "steps": [
            {
                "step": step,
                "track": rng.randrange(len(instruments)),
                "instrument": instruments[rng.randrange(len(instruments))],
                "note": rng.choice(NOTES),
                "velocity": rng.choice([64, 80, 90, 100, 110, 127]),
                "effect": rng.choice([None, "arp", "slide", "retrig"]),
            }
            for step in steps
        ],
    }


def mixer(name: str, channels: list[str], gains: list[float]) -> dict:
    return {
        "name": name,
        "channels": [
            {"name": ch, "gain_db": gain, "pan": round(-0.4 + 0.4 * i, 2), "mute": False, "sends": {"reverb": -18.0}}
            for i, (ch, gain) in enumerate(zip(channels, gains, strict=True))
        ],
        "master": {"gain_db": 0.0, "limiter": {"enabled": True, "ceiling_db": -0.3}},
    }


def dump_app_json(path: Path, value: object) -> None:
    """Write JSON the way the tracker app does (pydantic's indent=2, model field order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")


def write_bundle(root: Path, spec: dict) -> None:
    """Write a bundle directory and its manifest from ``spec``."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    patterns = []
    for pat in spec["patterns"]:
        rel = f"patterns/{pat['pattern_id']}.json"
        dump_app_json(root / rel, pat)
        patterns.append(
            {
                "pattern_id": pat["pattern_id"],
                "path": rel,
                "sha256": sha256_of(root / rel),
                "length_steps": pat["length_steps"],
                "step_count": len(pat["steps"]),
            }
        )
    snapshots = []
    for snap, rel, kind in spec["mixer"]:
        dump_app_json(root / rel, snap)
        snapshots.append({"name": snap["name"], "path": rel, "sha256": sha256_of(root / rel), "snapshot_type": kind})
    assets = []
    for name, (data, bits) in spec["assets"].items():
        rel = f"assets/{name}"
        write_wav(root / rel, data, bits)
        assets.append(
            {
                "asset_name": name,
                "relative_path": rel,
                "sha256": sha256_of(root / rel),
                "lufs_lu": measured_lufs(root / rel),
                "source_uri": f"s3://nagakang-audio-assets/choir/{name}",
            }
        )
    manifest = {
        "manifest_version": "1.0.0",
        "project": spec["project"],
        "patterns": patterns,
        "mixer_snapshots": snapshots,
        "sampler_assets": assets,
    }
    dump_app_json(root / "project_manifest.json", manifest)
    project = dict(spec["project"])
    project["pattern_order"] = [p["pattern_id"] for p in spec["patterns"]]
    dump_app_json(root / "project.json", project)


def _write_change_record(out: Path, step_changes: list[dict]) -> None:
    """Record what revision 2 changed, in diff's record terms, so a test can hold diff to it."""
    rev1, rev2 = out / "demo_bundle", out / "demo_bundle_rev2"
    updated = {"field": "updated_at", "old": "2025-11-25T00:00:00+00:00", "new": "2025-11-27T15:30:00+00:00"}
    gospel = "assets/gospel_stab_short.wav"
    records = [
        {"section": "project", "change": "modified", "subject": "project", "changes": [updated]},
        {"section": "pattern", "change": "modified", "subject": "verse", "changes": step_changes},
        {
            "section": "mixer",
            "change": "modified",
            "subject": "Verse Snapshot",
            "changes": [{"field": "channels[choir_pad_soft.wav].gain_db", "old": -3.0, "new": -4.5}],
        },
        {
            "section": "sample",
            "change": "modified",
            "subject": "gospel_stab_short.wav",
            "changes": [
                {"field": "size", "old": (rev1 / gospel).stat().st_size, "new": (rev2 / gospel).stat().st_size},
                {"field": "sha256", "old": sha256_of(rev1 / gospel), "new": sha256_of(rev2 / gospel)},
                {"field": "duration_s", "old": 2.1, "new": 1.89},
                {
                    "field": "lufs_lu",
                    "old": measured_lufs(rev1 / gospel),
                    "new": measured_lufs(rev2 / gospel),
                    "source": "manifest",
                    "unit": "LUFS",
                },
                {
                    "field": "lufs_measured",
                    "old": round(measure(rev1 / gospel).lufs, 2),
                    "new": round(measure(rev2 / gospel).lufs, 2),
                    "source": "measured",
                    "unit": "LUFS",
                    "old_method": "bs1770",
                    "new_method": "bs1770",
                },
            ],
        },
        {
            "section": "sample",
            "change": "renamed",
            "subject": "strings_choir_blend.wav",
            "old_path": "assets/strings_vs_choir_blend.wav",
            "changes": [
                {
                    "field": "source_uri",
                    "old": "s3://nagakang-audio-assets/choir/strings_vs_choir_blend.wav",
                    "new": "s3://nagakang-audio-assets/choir/strings_choir_blend.wav",
                }
            ],
        },
        {"section": "sample", "change": "added", "subject": "snare_room.wav"},
        {"section": "sample", "change": "removed", "subject": "kick_room.wav"},
        {"section": "file", "change": "modified", "subject": "project.json", "changes": [updated]},
    ]
    dump_app_json(out / "rev2_changes.json", records)


def main(out: Path) -> None:
    rng = random.Random(SEED)
    audio_rng = np.random.default_rng(SEED)
    out.mkdir(parents=True, exist_ok=True)
    choir = (shape(synth(audio_rng, 3.0, 2, 220.0, 0.35), *TARGETS["choir_pad_soft.wav"]), 16)
    strings = (shape(synth(audio_rng, 2.5, 2, 261.6, 0.6), *TARGETS["strings_vs_choir_blend.wav"]), 24)
    gospel = shape(synth(audio_rng, 2.1, 1, 329.6, 0.7), *TARGETS["gospel_stab_short.wav"])
    kick = (synth(audio_rng, 0.5, 1, 55.0, 0.9), 16)
    snare = (synth(audio_rng, 0.4, 1, 180.0, 0.8), 16)
    instruments = ["choir_pad_soft.wav", "strings_vs_choir_blend.wav", "gospel_stab_short.wav"]
    verse = pattern(rng, "verse", 64, 40, instruments)
    chorus = pattern(rng, "chorus", 32, 24, instruments)
    intro = pattern(rng, "intro", 16, 6, instruments[:1])
    project = {
        "id": "demo-project",
        "name": "Demo Project",
        "bpm": 120.0,
        "swing": 0.1,
        "created_at": "2025-11-25T00:00:00+00:00",
        "updated_at": "2025-11-25T00:00:00+00:00",
    }
    verse_mix = mixer("Verse Snapshot", instruments, [-3.0, -6.0, -2.5])
    chorus_mix = mixer("Chorus Snapshot", instruments, [-1.5, -4.0, -1.0])
    rev1 = {
        "project": project,
        "patterns": [verse, chorus, intro],
        "mixer": [
            (verse_mix, "mixer/verse_snapshot.json", "master"),
            (chorus_mix, "mixer/chorus_snapshot.json", "bus"),
        ],
        "assets": {
            "choir_pad_soft.wav": choir,
            "strings_vs_choir_blend.wav": strings,
            "gospel_stab_short.wav": (gospel, 16),
            "kick_room.wav": kick,
        },
    }
    write_bundle(out / "demo_bundle", rev1)

    verse2 = json.loads(json.dumps(verse))
    first, second_step = verse2["steps"][12], verse2["steps"][20]
    edits = [
        (first, "note", "D#4" if first["note"] != "D#4" else "C-5"),
        (first, "velocity", 90 if first["velocity"] != 90 else 100),
        (second_step, "velocity", 64 if second_step["velocity"] != 64 else 127),
    ]
    step_changes = []
    for step, key, value in edits:
        step_changes.append({"field": f"steps[{step['step']}].{key}", "old": step[key], "new": value})
        step[key] = value
    verse_mix2 = json.loads(json.dumps(verse_mix))
    verse_mix2["channels"][0]["gain_db"] = -4.5
    trimmed = gospel[: int(1.89 * RATE)]
    rev2 = {
        "project": {**project, "updated_at": "2025-11-27T15:30:00+00:00"},
        "patterns": [verse2, chorus, intro],
        "mixer": [
            (verse_mix2, "mixer/verse_snapshot.json", "master"),
            (chorus_mix, "mixer/chorus_snapshot.json", "bus"),
        ],
        "assets": {
            "choir_pad_soft.wav": choir,
            "strings_choir_blend.wav": strings,
            "gospel_stab_short.wav": (trimmed, 16),
            "snare_room.wav": snare,
        },
    }
    write_bundle(out / "demo_bundle_rev2", rev2)
    _write_change_record(out, step_changes)

    second = {
        "project": {**project, "id": "second-project", "name": "Second Project", "bpm": 96.0},
        "patterns": [pattern(rng, "loop", 16, 8, instruments[:1])],
        "mixer": [],
        "assets": {"choir_pad_soft.wav": choir},
    }
    write_bundle(out / "second_project", second)

    entries = []
    for name in instruments:
        path = out / "demo_bundle" / "assets" / name
        data, bits = rev1["assets"][name]
        facts = write_wav(out / "tmp.wav", data, bits)
        loudness = measure(path)
        entries.append(
            {
                "asset_name": name,
                "sha256": sha256_of(path),
                "lufs_lu": round(loudness.lufs, 1),
                "peak_dbfs": round(loudness.peak_dbfs, 1),
                "source_uri": f"s3://nagakang-audio-assets/choir/{name}",
                "duration_s": facts["duration_s"],
                "sample_rate": facts["sample_rate"],
                "channels": facts["channels"],
                "bit_depth": bits,
            }
        )
    (out / "tmp.wav").unlink()
    dump_app_json(
        out / "sampler_s3_manifest.json",
        {"manifest_version": "1.0.0", "collection": "choir layers", "sampler_assets": entries},
    )

    archive = out / "demo_bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((out / "demo_bundle").rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(
                    "demo_bundle/" + path.relative_to(out / "demo_bundle").as_posix(), (2025, 11, 25, 0, 0, 0)
                )
                zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    make_drum_machine(out)
    make_loudness_clips.main(out)
    print(f"wrote demo bundles to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "out"))
