"""Deterministic benchmark workloads: tracker bundles that are mostly audio, and a lightly edited rev2.

Presets (sizes approximate): small ~3 MB / ~70 files, medium ~110 MB / ~500 files,
large ~1 GB / ~2,000 files. Samples are 16- and 24-bit stereo PCM WAV synthesised to
compress as real recordings do, under zstd and under FLAC alike (see ``_wav``); patterns
and mixer snapshots are JSON.
rev2 changes a few patterns, one mixer snapshot, trims one sample and adds one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Preset:
    """How big a workload is."""

    samples: int
    sample_bytes: int
    patterns: int
    snapshots: int


PRESETS = {
    "small": Preset(samples=12, sample_bytes=240_000, patterns=40, snapshots=16),
    "medium": Preset(samples=120, sample_bytes=880_000, patterns=280, snapshots=100),
    "large": Preset(samples=500, sample_bytes=2_000_000, patterns=1100, snapshots=400),
}


RATE = 48_000
# Noise floors (dBFS) of the synthesised takes: a 16-bit recorder's and a 24-bit studio chain's.
FLOOR_DB = {16: -70.0, 24: -96.0}


def _voice(gen: np.random.Generator, frames: int, kind: str) -> np.ndarray:
    """One channel of a drum loop (pitched, decaying hits with a noise burst) or a swelling pad."""
    if kind == "drum":
        out = np.zeros(frames, dtype=np.float32)
        hits = int(gen.integers(1, 9))
        every = frames // hits
        for hit in range(hits):
            decay = float(gen.uniform(4, 18))
            # Computed only until the hit is ~80 dB down: 25 MB/s of audio instead of 3.
            n = min(frames - hit * every, int(RATE * 10 / decay))
            t = np.arange(n, dtype=np.float32) / RATE
            phase = (2 * np.pi / RATE) * np.cumsum(float(gen.uniform(45, 220)) * (1 + 2.5 * np.exp(-t * 40)))
            body = np.sin(phase) * np.exp(-t * decay)
            burst = gen.standard_normal(n, dtype=np.float32) * np.exp(-t * float(gen.uniform(25, 80)))
            level = float(gen.uniform(0.4, 0.9))
            out[hit * every : hit * every + n] += (body + burst * float(gen.uniform(0.1, 0.6))) * level
        return out
    t = np.arange(frames, dtype=np.float32) / RATE
    vibrato = 1 + 0.004 * np.sin(2 * np.pi * float(gen.uniform(4, 6)) * t)
    base = (2 * np.pi / RATE) * np.cumsum(float(gen.uniform(90, 440)) * vibrato)
    out = np.zeros(frames, dtype=np.float32)
    for k in range(1, 6):
        out += np.sin(base * k + float(gen.uniform(0, 6.3))) * float(gen.uniform(0.2, 1.0) / k)
    swell = np.minimum(1, t / float(gen.uniform(0.05, 0.6))) * np.exp(-t * float(gen.uniform(0.1, 1.0)))
    return out * swell


def _wav(rng: random.Random, size: int, bits: int) -> bytes:
    """A stereo take shaped like a recording: drum loop or pad, correlated channels, a noise floor.

    Calibrated against real samples (issue 17 measured 50 drum and choir WAVs: zstd-1 keeps
    0.79 of them, FLAC 0.40-0.46; bench/corpus.py's Debian corpus: 0.73 and 0.37): these keep
    about 0.82 under zstd-1 and 0.44 under FLAC (bench/README.md, "The medium preset's
    samples"). Earlier presets filled the low bytes with uniform noise: zstd-1 kept the same
    0.73, but no lossless audio coder could go below ~0.6, which no recording looks like.
    """
    block = 2 * bits // 8
    frames = max(1, (size - 44) // block)
    gen = np.random.default_rng(rng.getrandbits(64))
    kind = "drum" if rng.random() < 0.6 else "pad"
    left = _voice(gen, frames, kind)
    right = 0.8 * np.roll(left, int(gen.integers(0, 30))) + 0.2 * _voice(gen, frames, kind)
    pcm = np.stack([left, right], axis=1)
    pcm *= 0.9 / max(1e-9, float(np.abs(pcm).max()))
    pcm += gen.standard_normal(pcm.shape, dtype=np.float32) * 10 ** (FLOOR_DB[bits] / 20)
    full = float(1 << (bits - 1)) - 1
    ints = np.clip(np.rint(pcm.astype(np.float64) * full), -full - 1, full).astype("<i4")
    body = ints.astype("<i2").tobytes() if bits == 16 else ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, RATE, RATE * block, block, bits)
    return header + b"data" + struct.pack("<I", len(body)) + body


def _pattern(rng: random.Random, pattern_id: str) -> dict:
    length = rng.choice([16, 32, 64])
    steps = sorted(rng.sample(range(length), rng.randrange(4, length)))
    return {
        "pattern_id": pattern_id,
        "length_steps": length,
        "steps": [
            {
                "step": s,
                "track": rng.randrange(8),
                "note": rng.choice(["C-4", "D#4", "G-4"]),
                "velocity": rng.randrange(128),
            }
            for s in steps
        ],
    }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_workload(root: Path, preset_name: str, seed: int = 7, preset: Preset | None = None) -> tuple[Path, Path]:
    """Write ``root/rev1`` and ``root/rev2`` for a preset (or a custom ``preset`` so named); return both paths."""
    preset = preset or PRESETS[preset_name]
    rng = random.Random(seed)
    rev1 = root / "rev1"
    if rev1.exists():
        shutil.rmtree(rev1)
    (rev1 / "assets").mkdir(parents=True)
    (rev1 / "patterns").mkdir()
    (rev1 / "mixer").mkdir()
    manifest: dict = {
        "manifest_version": "1.0.0",
        "project": {
            "id": f"bench-{preset_name}",
            "name": "Bench",
            "bpm": 120.0,
            "swing": 0.0,
            "created_at": "2026-01-01T00:00:00+00:00",
            "updated_at": "2026-01-01T00:00:00+00:00",
        },
        "patterns": [],
        "mixer_snapshots": [],
        "sampler_assets": [],
    }
    for index in range(preset.patterns):
        path = rev1 / "patterns" / f"p{index:04d}.json"
        path.write_text(json.dumps(_pattern(rng, f"p{index:04d}"), indent=2))
        manifest["patterns"].append(
            {
                "pattern_id": f"p{index:04d}",
                "path": f"patterns/{path.name}",
                "sha256": _sha(path),
                "length_steps": 64,
                "step_count": 8,
            }
        )
    for index in range(preset.snapshots):
        path = rev1 / "mixer" / f"m{index:03d}.json"
        snap = {
            "name": f"Mix {index}",
            "channels": [{"name": f"ch{c}", "gain_db": -rng.randrange(30) / 2} for c in range(16)],
        }
        path.write_text(json.dumps(snap, indent=2))
        manifest["mixer_snapshots"].append(
            {"name": f"Mix {index}", "path": f"mixer/{path.name}", "sha256": _sha(path), "snapshot_type": "master"}
        )
    for index in range(preset.samples):
        path = rev1 / "assets" / f"s{index:03d}.wav"
        size = int(preset.sample_bytes * rng.uniform(0.5, 1.5))
        path.write_bytes(_wav(rng, size, 24 if index % 3 == 0 else 16))
        manifest["sampler_assets"].append(
            {
                "asset_name": path.name,
                "relative_path": f"assets/{path.name}",
                "sha256": _sha(path),
                "lufs_lu": None,
                "source_uri": None,
            }
        )
    (rev1 / "project_manifest.json").write_text(json.dumps(manifest, indent=2))

    rev2 = root / "rev2"
    if rev2.exists():
        shutil.rmtree(rev2)
    shutil.copytree(rev1, rev2)
    for index in range(5):
        path = rev2 / "patterns" / f"p{index:04d}.json"
        pattern = json.loads(path.read_text())
        pattern["steps"][0]["velocity"] = (pattern["steps"][0]["velocity"] + 1) % 128
        path.write_text(json.dumps(pattern, indent=2))
    snapshot = rev2 / "mixer" / "m000.json"
    snap = json.loads(snapshot.read_text())
    snap["channels"][0]["gain_db"] -= 1.5
    snapshot.write_text(json.dumps(snap, indent=2))
    trimmed = rev2 / "assets" / "s000.wav"
    data = trimmed.read_bytes()
    trimmed.write_bytes(data[: len(data) * 9 // 10])
    added = rev2 / "assets" / "s_new.wav"
    added.write_bytes(_wav(rng, preset.sample_bytes, 16))
    manifest2 = json.loads((rev2 / "project_manifest.json").read_text())
    for record in manifest2["patterns"] + manifest2["mixer_snapshots"]:
        record["sha256"] = _sha(rev2 / record["path"])
    for record in manifest2["sampler_assets"]:
        record["sha256"] = _sha(rev2 / record["relative_path"])
    manifest2["sampler_assets"].append(
        {
            "asset_name": "s_new.wav",
            "relative_path": "assets/s_new.wav",
            "sha256": _sha(added),
            "lufs_lu": None,
            "source_uri": None,
        }
    )
    (rev2 / "project_manifest.json").write_text(json.dumps(manifest2, indent=2))
    return rev1, rev2


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    first, second = write_workload(args.out, args.preset)
    size = sum(p.stat().st_size for p in first.rglob("*") if p.is_file())
    count = sum(1 for p in first.rglob("*") if p.is_file())
    print(f"{args.preset}: {first} ({size / 1e6:.1f} MB, {count} files), {second}")
