"""Generate the loudness edge-case clips and a bundle of them, deterministically (fixed seed).

Writes, under ``<out>/``:

- ``loudness_clips/``: the clips on their own: shorter than one 400 ms gating block
  (0.12 s hat, 0.25 s FLAC snare, 0.40 s minus one sample), exactly one block (0.40 s),
  a 0.46 s decaying kick (one whole block; pyloudnorm counts two), and a 0.70 s tail
  in two lengths: 0.70 s (four whole blocks) and one sample short (three);
- ``loudness_bundle/``: a project holding those clips whose manifest carries the values
  an outside tool wrote (pyloudnorm for clips of 400 ms or more, the level over the clip's
  own length for shorter ones), as a real kit's manifest may;
- ``sampler_loudness_manifest.json``: the canonical sampler manifest with the same values.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile

SEED = 20260112
HAT, SNARE, EDGE_SHORT, BLOCK, KICK, TAIL, TAIL_SHORT = (
    "hat_0.12s.wav",
    "snare_0.25s.flac",
    "click_0.40s_minus_1.wav",
    "tone_0.40s.wav",
    "kick_0.46s.wav",
    "tail_0.70s.wav",
    "tail_0.70s_minus_1.wav",
)


def _kick(rate: int, frames: int) -> np.ndarray:
    """A pitch-swept sine with a fast decay: a drum one-shot."""
    t = np.arange(frames) / rate
    sweep = 2 * np.pi * np.cumsum(50 + 120 * np.exp(-t * 30)) / rate
    return 0.9 * np.exp(-t * 9) * np.sin(sweep)


def _noise_burst(rng: np.random.Generator, rate: int, frames: int, decay: float, level: float) -> np.ndarray:
    t = np.arange(frames) / rate
    return level * np.exp(-t * decay) * rng.uniform(-1, 1, frames)


def _snare(rng: np.random.Generator, rate: int, frames: int) -> np.ndarray:
    """A noise burst over a short 190 Hz body."""
    t = np.arange(frames) / rate
    return _noise_burst(rng, rate, frames, 14.0, 0.6) + 0.4 * np.exp(-t * 20) * np.sin(2 * np.pi * 190 * t)


def _tail(rng: np.random.Generator, rate: int, frames: int) -> np.ndarray:
    """A stereo hit with a long ring: its last 100 ms is quieter but inside the relative gate."""
    t = np.arange(frames) / rate
    ring = np.exp(-t * 3.5)
    left = 0.7 * ring * np.sin(2 * np.pi * 196 * t) + 0.05 * ring * rng.uniform(-1, 1, frames)
    right = 0.7 * ring * np.sin(2 * np.pi * 196.8 * t) + 0.05 * ring * rng.uniform(-1, 1, frames)
    return np.stack([left, right], axis=1)


def clips() -> dict[str, tuple[np.ndarray, int, str, str]]:
    """Return ``{name: (samples, rate, subtype, format)}`` for every clip."""
    rng = np.random.default_rng(SEED)
    tail = _tail(rng, 48000, 33600)
    tone_t = np.arange(19200) / 48000
    return {
        HAT: (_noise_burst(rng, 48000, 5760, 40.0, 0.5), 48000, "PCM_16", "WAV"),
        SNARE: (_snare(rng, 44100, 11025), 44100, "PCM_16", "FLAC"),
        EDGE_SHORT: (_noise_burst(rng, 48000, 19199, 25.0, 0.4), 48000, "PCM_24", "WAV"),
        BLOCK: (0.25 * np.sin(2 * np.pi * 440 * tone_t), 48000, "PCM_24", "WAV"),
        KICK: (_kick(48000, 22080), 48000, "PCM_16", "WAV"),
        TAIL: (tail, 48000, "PCM_24", "WAV"),
        TAIL_SHORT: (tail[:-1], 48000, "PCM_24", "WAV"),
    }


def outside_lufs(samples: np.ndarray, rate: int) -> float:
    """What an outside tool wrote in the manifest: pyloudnorm, or the level over a short clip's own length."""
    data = samples if samples.ndim == 2 else samples[:, None]
    if len(data) >= 0.4 * rate:
        return round(float(pyloudnorm.Meter(rate).integrated_loudness(data)), 2)
    meter = pyloudnorm.Meter(rate)
    weighted = data.copy()
    for filt in meter._filters.values():
        for ch in range(data.shape[1]):
            weighted[:, ch] = filt.apply_filter(weighted[:, ch])
    weights = [1.0, 1.0, 1.0, 1.41, 1.41][: data.shape[1]]
    power = sum(w * float(np.mean(weighted[:, ch] ** 2)) for ch, w in enumerate(weights))
    return round(-0.691 + 10 * math.log10(power), 2)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(out: Path) -> None:
    """Write the clips, the bundle and the sampler manifest under ``out``."""
    clip_dir = out / "loudness_clips"
    bundle = out / "loudness_bundle"
    for folder in (clip_dir, bundle):
        if folder.exists():
            shutil.rmtree(folder)
    (bundle / "assets").mkdir(parents=True)
    clip_dir.mkdir(parents=True)
    assets = []
    for name, (samples, rate, subtype, fmt) in clips().items():
        soundfile.write(str(clip_dir / name), samples, rate, subtype=subtype, format=fmt)
        shutil.copyfile(clip_dir / name, bundle / "assets" / name)
        stored, _ = soundfile.read(str(clip_dir / name), always_2d=True)
        peak = float(np.max(np.abs(stored)))
        assets.append(
            {
                "asset_name": name,
                "relative_path": f"assets/{name}",
                "sha256": _sha(clip_dir / name),
                "lufs_lu": outside_lufs(stored, rate),
                "peak_dbfs": round(20 * math.log10(peak), 2),
                "source_uri": f"s3://nagakang-audio-assets/drums/{name}",
            }
        )
    project = {
        "id": "loudness-kit",
        "name": "Loudness Kit",
        "bpm": 124.0,
        "swing": 0.0,
        "created_at": "2026-01-12T00:00:00+00:00",
        "updated_at": "2026-01-12T00:00:00+00:00",
    }
    manifest = {
        "manifest_version": "1.0.0",
        "project": project,
        "patterns": [],
        "mixer_snapshots": [],
        "sampler_assets": assets,
    }
    (bundle / "project_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    sampler = {
        "manifest_version": "1.0.0",
        "collection": "drum hits",
        "sampler_assets": [{k: v for k, v in a.items() if k != "relative_path"} for a in assets],
    }
    (out / "sampler_loudness_manifest.json").write_text(json.dumps(sampler, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "out"))
