"""The autosave stress harness: mutate a working copy, advance a synthetic clock, autosave, repeat."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from casstore.defaults import AUTOSAVE_KEEP
from casstore.model.paths import MANIFEST_NAME
from casstore.storage.store import Store
from casstore.workdir.autosave import AutosaveResult, autosave
from casstore.workdir.recover import list_recovery_points

VARIANTS = 8  # mutations cycle through this many states, so identical content is stored once


@dataclass
class StressSummary:
    """The harness's figures, as QA files them next to their bundle notes."""

    project: str
    iterations: int
    interval_seconds: float
    autosaves_written: int = 0
    unchanged_skips: int = 0
    pruned: int = 0
    retained: list[str] = field(default_factory=list)
    checkpoints: int = 0
    objects_stored: int = 0
    bytes_stored: int = 0
    latest_prompt: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """Return the summary as a JSON object."""
        return {
            "project": self.project,
            "iterations": self.iterations,
            "interval_seconds": self.interval_seconds,
            "autosaves_written": self.autosaves_written,
            "unchanged_skips": self.unchanged_skips,
            "pruned": self.pruned,
            "retained": self.retained,
            "checkpoints": self.checkpoints,
            "objects_stored": self.objects_stored,
            "bytes_stored": self.bytes_stored,
            "latest_prompt": self.latest_prompt,
            "wall_seconds": round(self.wall_seconds, 3),
        }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=64)
def _wav(frames: int, seed: int) -> bytes:
    body = b"".join(struct.pack("<h", ((i * 37 + seed * 101) % 2000) - 1000) for i in range(frames))
    header = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 44100, 88200, 2, 16)
    return header + b"data" + struct.pack("<I", len(body)) + body


def prepare_working_copy(root: Path, project: str, manifest: Path | None, asset_count: int) -> None:
    """Lay out the working copy: a copy of the bundle beside ``manifest``, or a generated one."""
    if manifest is not None:
        shutil.copytree(manifest.parent, root, ignore=shutil.ignore_patterns(".casstore*"))
        data = json.loads((root / MANIFEST_NAME).read_text())
    else:
        root.mkdir(parents=True)
        data = {
            "manifest_version": "1.0.0",
            "project": {
                "id": project,
                "name": project,
                "bpm": 120.0,
                "swing": 0.0,
                "created_at": "2025-11-25T00:00:00+00:00",
                "updated_at": "2025-11-25T00:00:00+00:00",
            },
            "patterns": [],
            "mixer_snapshots": [],
            "sampler_assets": [],
        }
    data["project"]["id"] = project
    if not data["patterns"]:
        pattern = {"pattern_id": "stress", "length_steps": 16, "steps": [{"step": 0, "note": "C-4", "velocity": 100}]}
        (root / "patterns").mkdir(exist_ok=True)
        (root / "patterns" / "stress.json").write_text(json.dumps(pattern, indent=2))
        data["patterns"].append(
            {"pattern_id": "stress", "path": "patterns/stress.json", "sha256": "", "length_steps": 16, "step_count": 1}
        )
    if not data["mixer_snapshots"]:
        snapshot = {"name": "Stress Mix", "channels": [{"name": "lead", "gain_db": 0.0}]}
        (root / "mixer").mkdir(exist_ok=True)
        (root / "mixer" / "stress_mix.json").write_text(json.dumps(snapshot, indent=2))
        data["mixer_snapshots"].append(
            {"name": "Stress Mix", "path": "mixer/stress_mix.json", "sha256": "", "snapshot_type": "master"}
        )
    (root / "assets").mkdir(exist_ok=True)
    index = 0
    while len(data["sampler_assets"]) < asset_count:
        name = f"stress_layer_{index:02d}.wav"
        index += 1
        if any(a["asset_name"] == name for a in data["sampler_assets"]):
            continue
        (root / "assets" / name).write_bytes(_wav(4410, index))
        data["sampler_assets"].append(
            {"asset_name": name, "relative_path": f"assets/{name}", "sha256": "", "lufs_lu": None, "source_uri": None}
        )
    _write_manifest(root, data)


def _write_manifest(root: Path, data: dict[str, Any]) -> None:
    for record in data["patterns"] + data["mixer_snapshots"]:
        record["sha256"] = _sha(root / record["path"])
    for record in data["sampler_assets"]:
        record["sha256"] = _sha(root / record["relative_path"])
    (root / MANIFEST_NAME).write_text(json.dumps(data, indent=2) + "\n")


def mutate(root: Path, iteration: int) -> None:
    """Change the working copy as a musician would: a step, a mixer value, every few rounds a sample."""
    data = json.loads((root / MANIFEST_NAME).read_text())
    pattern_path = root / data["patterns"][0]["path"]
    pattern = json.loads(pattern_path.read_text())
    steps = pattern.setdefault("steps", [])
    if not steps:
        steps.append({"step": 0, "note": "C-4", "velocity": 100})
    steps[0]["velocity"] = 60 + (iteration % VARIANTS) * 5
    pattern_path.write_text(json.dumps(pattern, indent=2))
    snapshot_path = root / data["mixer_snapshots"][0]["path"]
    snapshot = json.loads(snapshot_path.read_text())
    channels = snapshot.setdefault("channels", [{"name": "lead", "gain_db": 0.0}])
    channels[0]["gain_db"] = -0.5 * ((iteration * 3) % VARIANTS)
    snapshot_path.write_text(json.dumps(snapshot, indent=2))
    if iteration % 4 == 3 and data["sampler_assets"]:
        asset = data["sampler_assets"][iteration % len(data["sampler_assets"])]
        (root / asset["relative_path"]).write_bytes(_wav(4410, 1000 + iteration % VARIANTS))
    data["project"]["updated_at"] = f"2025-11-25T00:00:{iteration % VARIANTS:02d}+00:00"
    _write_manifest(root, data)


def run_stress(
    store: Store,
    project: str,
    workdir: Path,
    iterations: int,
    interval_seconds: float,
    manifest: Path | None = None,
    asset_count: int | None = None,
    keep: int = AUTOSAVE_KEEP,
    start: datetime | None = None,
) -> StressSummary:
    """Run the harness on a synthetic clock (no sleeping) and return its summary."""
    started = time.monotonic()
    count = asset_count if asset_count is not None else (0 if manifest else 3)
    prepare_working_copy(workdir, project, manifest, count)
    clock = start or datetime.now(UTC).replace(microsecond=0)
    summary = StressSummary(project, iterations, interval_seconds)
    last: AutosaveResult | None = None
    for iteration in range(iterations):
        clock += timedelta(seconds=interval_seconds)
        mutate(workdir, iteration)
        last = autosave(store, workdir, project, f"stress{iteration}", keep, now=clock)
        if last.unchanged:
            summary.unchanged_skips += 1
        else:
            summary.autosaves_written += 1
        summary.pruned += len(last.pruned)
        summary.objects_stored += last.new_objects
        summary.bytes_stored += last.new_bytes
    summary.retained = [ref.rsplit("/", 1)[1] for ref in (last.retained if last else [])]
    summary.checkpoints = len(store.refs.list(project, "checkpoints"))
    points = [p for p in list_recovery_points(store, project) if p.kind == "autosave"]
    if points:
        newest = points[0]
        summary.latest_prompt = {
            "prompt": newest.prompt,
            "ref": newest.ref,
            "manifest_sha256": newest.manifest_sha256,
            "asset_count": len(newest.sampler_assets),
            "sampler_assets": list(newest.sampler_assets),
        }
    summary.wall_seconds = time.monotonic() - started
    return summary
