"""Generate a drum-machine project laid out unlike the choir demo (deterministic, no network).

The layout real drum-kit bundles use: each pattern holds ``tracks`` identified by
``instrument``, each with a sparse ``steps`` list such as
``{"step": 12, "note": "C-4", "velocity": 110}``; the mixer snapshot's ``channels`` are
identified by ``instrument`` too. Nothing here carries a ``name`` or ``id`` the diff could
lean on. Writes, under the output directory:

- ``drum_bundle/``: revision 1 (four short synthetic one-shots made with the stdlib ``wave``);
- ``drum_bundle_rev2/``: known edits, listed in ``drum_rev2_changes.json``: in pattern p04
  the snare's step 12 velocity 110 → 88, a kick step 2 added, a hat step 10 removed; a clap
  track added to p01; the chorus snapshot's snare gain_db -3.0 → -3.5; ``updated_at``;
- ``drum_bundle_rev3/``: revision 2 with only the manifest's entry order changed (every
  other file byte for byte the same), listed in ``drum_rev3_changes.json``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import shutil
import struct
import sys
import wave
from pathlib import Path

SEED = 1212
RATE = 44100
KIT = {  # one-shot: (seconds, base frequency Hz, noise share, decay per second)
    "gm_kick.wav": (0.30, 55.0, 0.05, 14.0),
    "gm_snare_hard.wav": (0.25, 190.0, 0.6, 18.0),
    "gm_hat_closed.wav": (0.12, 7000.0, 0.9, 40.0),
    "gm_clap.wav": (0.35, 1200.0, 0.8, 12.0),
}
PROJECT = {
    "id": "drum-machine",
    "name": "Drum Machine",
    "bpm": 128.0,
    "swing": 0.0,
    "created_at": "2025-12-01T00:00:00+00:00",
    "updated_at": "2025-12-01T00:00:00+00:00",
}


def one_shot(rng: random.Random, seconds: float, freq: float, noise: float, decay: float) -> bytes:
    """A decaying tone plus noise as 16-bit mono PCM frames."""
    frames = []
    for n in range(int(seconds * RATE)):
        t = n / RATE
        tone = math.sin(2 * math.pi * freq * t * (1.0 - 0.3 * t))
        sample = math.exp(-decay * t) * ((1 - noise) * tone + noise * rng.uniform(-1, 1))
        frames.append(int(max(-1.0, min(1.0, 0.8 * sample)) * 32767))
    return struct.pack(f"<{len(frames)}h", *frames)


def write_wav(path: Path, frames: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)


def dump(path: Path, value: object) -> None:
    """Write JSON as the drum app does (indent=2, its own key order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def track(instrument: str, steps: dict[int, tuple[str, int]]) -> dict:
    return {
        "instrument": instrument,
        "mute": False,
        "steps": [{"step": s, "note": note, "velocity": vel} for s, (note, vel) in sorted(steps.items())],
    }


def patterns() -> list[dict]:
    p01 = {
        "pattern_id": "p01",
        "length_steps": 16,
        "tracks": [
            track("gm_kick.wav", {0: ("C-4", 120), 8: ("C-4", 110)}),
            track("gm_snare_hard.wav", {4: ("D-4", 100), 12: ("D-4", 104)}),
            track("gm_hat_closed.wav", {s: ("F#4", 70 + s) for s in range(0, 16, 2)}),
        ],
    }
    p04 = {
        "pattern_id": "p04",
        "length_steps": 32,
        "tracks": [
            track("gm_kick.wav", {0: ("C-4", 127), 5: ("C-4", 96), 16: ("C-4", 120), 27: ("C-4", 100)}),
            track("gm_snare_hard.wav", {4: ("D-4", 100), 12: ("D-4", 110), 20: ("D-4", 100), 28: ("E-4", 90)}),
            track("gm_hat_closed.wav", {s: ("F#4", 64 + (s % 3) * 16) for s in range(2, 32, 4)}),
        ],
    }
    return [p01, p04]


def mixer() -> dict:
    return {
        "name": "chorus",
        "channels": [
            {"instrument": "gm_kick.wav", "gain_db": -1.0, "pan": 0.0, "mute": False},
            {"instrument": "gm_snare_hard.wav", "gain_db": -3.0, "pan": 0.1, "mute": False},
            {"instrument": "gm_hat_closed.wav", "gain_db": -9.0, "pan": -0.3, "mute": False},
            {"instrument": "gm_clap.wav", "gain_db": -6.0, "pan": 0.2, "mute": True},
        ],
        "master": {"gain_db": 0.0},
    }


def write_bundle(root: Path, project: dict, pats: list[dict], snap: dict, samples: dict[str, bytes]) -> dict:
    """Write a bundle directory; return its manifest (not yet written, so a caller may reorder it)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    entries = []
    for pat in pats:
        rel = f"patterns/{pat['pattern_id']}.json"
        dump(root / rel, pat)
        steps = sum(len(t["steps"]) for t in pat["tracks"])
        entries.append(
            {
                "pattern_id": pat["pattern_id"],
                "path": rel,
                "sha256": sha256_of(root / rel),
                "length_steps": pat["length_steps"],
                "step_count": steps,
            }
        )
    dump(root / "mixer/chorus.json", snap)
    digest = sha256_of(root / "mixer/chorus.json")
    snapshots = [{"name": snap["name"], "path": "mixer/chorus.json", "sha256": digest, "snapshot_type": "bus"}]
    assets = []
    for name, frames in samples.items():
        rel = f"assets/{name}"
        write_wav(root / rel, frames)
        assets.append(
            {
                "asset_name": name,
                "relative_path": rel,
                "sha256": sha256_of(root / rel),
                "lufs_lu": None,
                "source_uri": f"file:///kits/gm/{name}",
            }
        )
    return {
        "manifest_version": "1.0.0",
        "project": project,
        "patterns": entries,
        "mixer_snapshots": snapshots,
        "sampler_assets": assets,
    }


def _step(pattern: str, instrument: str, step: int) -> list[list]:
    return [["pattern", pattern], ["track", instrument], ["step", step]]


def main(out: Path) -> None:
    """Write the three revisions and their change records under ``out``."""
    rng = random.Random(SEED)
    samples = {name: one_shot(rng, *spec) for name, spec in KIT.items()}
    pats, snap = patterns(), mixer()
    manifest = write_bundle(out / "drum_bundle", PROJECT, pats, snap, samples)
    dump(out / "drum_bundle" / "project_manifest.json", manifest)

    pats2, snap2 = copy.deepcopy(pats), copy.deepcopy(snap)
    p01, p04 = pats2
    kick, snare, hat = p04["tracks"]
    snare["steps"][1]["velocity"] = 88  # step 12
    kick["steps"].insert(1, {"step": 2, "note": "C-4", "velocity": 100})
    removed_hat = next(s for s in hat["steps"] if s["step"] == 10)
    hat["steps"].remove(removed_hat)
    clap = track("gm_clap.wav", {4: ("C-4", 90), 12: ("C-4", 90)})
    p01["tracks"].append(clap)
    snap2["channels"][1]["gain_db"] = -3.5
    project2 = {**PROJECT, "updated_at": "2025-12-02T09:00:00+00:00"}
    manifest2 = write_bundle(out / "drum_bundle_rev2", project2, pats2, snap2, samples)
    dump(out / "drum_bundle_rev2" / "project_manifest.json", manifest2)
    updated = ["2025-12-01T00:00:00+00:00", "2025-12-02T09:00:00+00:00"]
    counts = [manifest["patterns"][0]["step_count"], manifest2["patterns"][0]["step_count"]]
    changes2 = [
        {"section": "project", "change": "modified", "subject": "project",
         "changes": [
             {"field": "updated_at", "old": updated[0], "new": updated[1], "kind": "modified", "identity": []},
         ]},
        {"section": "pattern", "change": "modified", "subject": "p01",
         "changes": [{"field": "tracks[gm_clap.wav]", "old": None, "new": clap, "kind": "added",
                      "identity": [["pattern", "p01"], ["track", "gm_clap.wav"]]},
                     {"field": "step_count", "old": counts[0], "new": counts[1], "kind": "modified",
                      "identity": [["pattern", "p01"]]}]},
        {"section": "pattern", "change": "modified", "subject": "p04",
         "changes": [
             {"field": "tracks[gm_hat_closed.wav].steps[10]", "old": removed_hat, "new": None, "kind": "removed",
              "identity": _step("p04", "gm_hat_closed.wav", 10)},
             {"field": "tracks[gm_kick.wav].steps[2]", "old": None, "new": kick["steps"][1], "kind": "added",
              "identity": _step("p04", "gm_kick.wav", 2)},
             {"field": "tracks[gm_snare_hard.wav].steps[12].velocity", "old": 110, "new": 88, "kind": "modified",
              "identity": _step("p04", "gm_snare_hard.wav", 12)},
         ]},
        {"section": "mixer", "change": "modified", "subject": "chorus",
         "changes": [{"field": "channels[gm_snare_hard.wav].gain_db", "old": -3.0, "new": -3.5, "kind": "modified",
                      "identity": [["mixer", "chorus"], ["channel", "gm_snare_hard.wav"]]}]},
    ]  # fmt: skip
    dump(out / "drum_rev2_changes.json", changes2)

    manifest3 = write_bundle(out / "drum_bundle_rev3", project2, pats2, snap2, samples)
    manifest3["sampler_assets"].reverse()
    manifest3["patterns"].reverse()
    dump(out / "drum_bundle_rev3" / "project_manifest.json", manifest3)
    asset_names = [a["asset_name"] for a in manifest2["sampler_assets"]]
    changes3 = [
        {"section": "manifest", "change": "modified", "subject": "project_manifest.json",
         "changes": [
             {"field": "patterns", "old": ["p01", "p04"], "new": ["p04", "p01"], "kind": "reordered", "identity": []},
             {"field": "sampler_assets", "old": asset_names, "new": asset_names[::-1], "kind": "reordered",
              "identity": []},
         ]},
    ]  # fmt: skip
    dump(out / "drum_rev3_changes.json", changes3)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "out"))
