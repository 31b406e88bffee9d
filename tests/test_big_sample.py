"""A huge sample imports and exports in bounded memory (run with CASSTORE_BIG_SAMPLE_MB=1024)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

SIZE_MB = int(os.environ.get("CASSTORE_BIG_SAMPLE_MB", "0"))
LIMIT_MIB = 100


def _run_measured(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a command under /usr/bin/time-like accounting and return its peak RSS in MiB."""
    code = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(done.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return done, peak_kib / 1024


@pytest.mark.big
@pytest.mark.skipif(SIZE_MB <= 0, reason="set CASSTORE_BIG_SAMPLE_MB (e.g. 1024) to run")
def test_big_sample_round_trip_in_bounded_memory(tmp_path: Path) -> None:
    bundle = tmp_path / "big"
    (bundle / "assets").mkdir(parents=True)
    sample = bundle / "assets" / "long_take.wav"
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(sample, "wb") as out:
        for index in range(SIZE_MB):
            chunk = block[index % 97 :] + block[: index % 97]  # varied but cheap to make
            digest.update(chunk)
            out.write(chunk)
    manifest = {
        "manifest_version": "1.0.0",
        "project": {"id": "big", "name": "Big", "bpm": 90.0, "swing": 0.0, "created_at": "x", "updated_at": "x"},
        "sampler_assets": [
            {"asset_name": "long_take.wav", "relative_path": "assets/long_take.wav", "sha256": digest.hexdigest()}
        ],
    }
    (bundle / "project_manifest.json").write_text(json.dumps(manifest))
    cli = [sys.executable, "-m", "porcelain", "--store", str(tmp_path / "store")]
    subprocess.run([*cli, "init"], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    imported, import_peak = _run_measured([*cli, "import", str(bundle)])
    assert imported.returncode == 0, imported.stderr
    exported, export_peak = _run_measured([*cli, "export", "big", str(tmp_path / "out")])
    assert exported.returncode == 0, exported.stderr
    zipped, zip_peak = _run_measured([*cli, "export", "big", str(tmp_path / "out.zip"), "--zip"])
    assert zipped.returncode == 0, zipped.stderr
    checked, fsck_peak = _run_measured([*cli, "fsck"])
    assert checked.returncode == 0
    out = tmp_path / "out" / "assets" / "long_take.wav"
    assert subprocess.run(["cmp", str(sample), str(out)]).returncode == 0
    print(
        f"peak RSS MiB for {SIZE_MB} MiB: import {import_peak:.1f}, export {export_peak:.1f}, "
        f"zip {zip_peak:.1f}, fsck {fsck_peak:.1f}"
    )
    for peak in (import_peak, export_peak, zip_peak, fsck_peak):
        assert peak < LIMIT_MIB


@pytest.mark.big
@pytest.mark.skipif(not os.environ.get("CASSTORE_LONG_AUDIO"), reason="set CASSTORE_LONG_AUDIO=1 to run")
def test_ten_minute_sample_is_measured_in_bounded_memory(tmp_path: Path) -> None:
    import numpy as np
    import soundfile

    path = tmp_path / "ten_minutes.wav"
    rate, seconds = 48000, 600
    rng = np.random.default_rng(5)
    with soundfile.SoundFile(str(path), "w", rate, 2, "PCM_16") as out:
        for start in range(0, seconds, 10):
            t = (np.arange(rate * 10) + start * rate) / rate
            tone = 0.25 * np.sin(2 * np.pi * 330 * t)[:, None] + rng.normal(0, 0.01, (rate * 10, 2))
            out.write(tone)
    code = (
        "import sys; from pathlib import Path; from casstore.audio.loudness import measure; "
        "print(measure(Path(sys.argv[1])).as_json())"
    )
    done, peak = _run_measured([sys.executable, "-c", code, str(path)])
    assert done.returncode == 0, done.stderr
    print(f"10-minute 48 kHz stereo WAV measured at peak RSS {peak:.1f} MiB")
    assert peak < 200
