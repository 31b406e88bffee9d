"""A corpus of real, freely licensed samples from Debian packages, and casstore's store size on it against borg.

``bench/corpus.py fetch DIR`` downloads the packages below with ``apt-get download`` (no
install, no root needed), unpacks them with ``dpkg-deb -x`` and keeps their WAV and FLAC
files; ``bench/corpus.py run DIR`` builds a rev1 bundle of those samples (plus patterns
and mixer snapshots from bench/workload.py's generator) and a rev2 (five patterns edited,
one sample trimmed, one mixer snapshot changed), then measures casstore (import rev1, rev2,
gc) against borg, and the restore of rev1 before and after gc, byte for byte. The corpus is
not committed; ``SOURCES`` records where each file comes from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run import du, same_tree, timed  # noqa: E402
from workload import _pattern  # noqa: E402

# package, licence (from its debian/copyright), what the samples are.
SOURCES = [
    ("hydrogen-data", "GPL-2+", "Hydrogen's default drum kits (GMRockKit, TR808EmulationKit): WAV and FLAC"),
    ("alsa-utils", "GPL-2+", "ALSA's speaker-test voice samples (Front_Center.wav, …)"),
    ("lmms-common", "GPL-2+", "LMMS waveform and instrument samples"),
    ("supercollider-common", "GPL-3+", "SuperCollider's test sample (a11wlk01.wav)"),
]
AUDIO = (".wav", ".flac")


def fetch(dest: Path) -> list[dict[str, object]]:
    """Download and unpack every package of :data:`SOURCES` into ``dest``; return one row per package."""
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    rows = []
    for package, licence, what in SOURCES:
        if not list(debs.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
        (deb,) = debs.glob(f"{package}_*.deb")
        version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True)
        unpacked = dest / "unpacked" / package
        if not unpacked.exists():
            unpacked.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        files = sorted(p for p in unpacked.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO)
        rows.append(
            {
                "package": package,
                "version": version.stdout.strip(),
                "licence": licence,
                "what": what,
                "wav": sum(p.suffix.lower() == ".wav" for p in files),
                "flac": sum(p.suffix.lower() == ".flac" for p in files),
                "bytes": sum(p.stat().st_size for p in files),
            }
        )
    (dest / "sources.json").write_text(json.dumps(rows, indent=2))
    return rows


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_bundles(corpus: Path, out: Path) -> tuple[Path, Path]:
    """Write ``out/rev1`` (every corpus sample, 60 patterns, 20 mixer snapshots) and ``out/rev2``."""
    rng = random.Random(17)
    rev1 = out / "rev1"
    shutil.rmtree(out, ignore_errors=True)
    for sub in ("assets", "patterns", "mixer"):
        (rev1 / sub).mkdir(parents=True)
    manifest: dict = {
        "manifest_version": "1.0.0",
        "project": {"id": "corpus", "name": "Corpus", "bpm": 120.0, "swing": 0.0,
                    "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00"},
        "patterns": [], "mixer_snapshots": [], "sampler_assets": [],
    }  # fmt: skip
    seen: set[str] = set()
    for index, source in enumerate(sorted((corpus / "unpacked").rglob("*"))):
        if not source.is_file() or source.suffix.lower() not in AUDIO or source.stat().st_size == 0:
            continue
        name = f"{index:03d}_{source.name.replace(' ', '_')}"
        if _sha(source) in seen:
            continue  # the same sample shipped twice: a bundle lists each once
        seen.add(_sha(source))
        shutil.copyfile(source, rev1 / "assets" / name)
        manifest["sampler_assets"].append(
            {"asset_name": name, "relative_path": f"assets/{name}", "sha256": _sha(source),
             "lufs_lu": None, "source_uri": None}
        )  # fmt: skip
    for index in range(60):
        path = rev1 / "patterns" / f"p{index:04d}.json"
        path.write_text(json.dumps(_pattern(rng, f"p{index:04d}"), indent=2))
        manifest["patterns"].append(
            {"pattern_id": f"p{index:04d}", "path": f"patterns/{path.name}", "sha256": _sha(path),
             "length_steps": 64, "step_count": 8}
        )  # fmt: skip
    for index in range(20):
        path = rev1 / "mixer" / f"m{index:03d}.json"
        snap = {"name": f"Mix {index}", "channels": [{"name": f"ch{c}", "gain_db": -c / 2} for c in range(16)]}
        path.write_text(json.dumps(snap, indent=2))
        manifest["mixer_snapshots"].append(
            {"name": f"Mix {index}", "path": f"mixer/{path.name}", "sha256": _sha(path), "snapshot_type": "master"}
        )
    (rev1 / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    rev2 = out / "rev2"
    shutil.copytree(rev1, rev2)
    for index in range(5):
        path = rev2 / "patterns" / f"p{index:04d}.json"
        pattern = json.loads(path.read_text())
        pattern["steps"][0]["velocity"] = (pattern["steps"][0]["velocity"] + 1) % 128
        path.write_text(json.dumps(pattern, indent=2))
    snapshot = rev2 / "mixer" / "m000.json"
    snapshot.write_text(snapshot.read_text().replace('"gain_db": -0.0', '"gain_db": -1.5'))
    wavs = sorted((rev2 / "assets").glob("*.wav"), key=lambda p: p.stat().st_size)
    trimmed = wavs[len(wavs) // 2]
    data = trimmed.read_bytes()
    trimmed.write_bytes(data[: len(data) * 9 // 10])  # as bench/workload.py trims: the tail cut off
    for record in manifest["patterns"] + manifest["mixer_snapshots"]:
        record["sha256"] = _sha(rev2 / record["path"])
    for record in manifest["sampler_assets"]:
        record["sha256"] = _sha(rev2 / record["relative_path"])
    (rev2 / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    return rev1, rev2


def measure(rev1: Path, rev2: Path, runs: int) -> dict[str, float]:
    """Store sizes (casstore after rev2, after gc; borg after rev2) and restore seconds before and after gc."""
    figures: dict[str, list[float]] = {}
    cli = [str(ROOT / ".venv" / "bin" / "casstore")]
    for run in range(runs):
        scratch = Path(tempfile.mkdtemp(prefix="casstore-corpus-"))
        try:
            store = [*cli, "--store", str(scratch / "store")]
            subprocess.run([*store, "init"], check=True, capture_output=True)
            for rev in (rev1, rev2):
                subprocess.run([*store, "import", str(rev)], check=True, capture_output=True)
            figures.setdefault("casstore after rev2", []).append(du(scratch / "store"))
            restore = timed([*store, "export", "corpus~1", str(scratch / "before")])
            same_tree(rev1, scratch / "before")
            figures.setdefault("restore before gc", []).append(restore.seconds)
            figures.setdefault("restore before gc, CPU", []).append(restore.cpu)
            figures.setdefault("gc seconds", []).append(timed([*store, "gc", "--grace", "0s"]).seconds)
            figures.setdefault("casstore after rev2 + gc", []).append(du(scratch / "store"))
            restore = timed([*store, "export", "corpus~1", str(scratch / "after")])
            same_tree(rev1, scratch / "after")
            figures.setdefault("restore after gc", []).append(restore.seconds)
            figures.setdefault("restore after gc, CPU", []).append(restore.cpu)
            if run == 0 and shutil.which("borg"):
                repo = scratch / "borg"
                env = {"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_BASE_DIR": str(scratch / "bb")}
                timed(["borg", "init", "-e", "none", str(repo)], env=env)
                for label, tree in (("rev1", rev1), ("rev2", rev2)):
                    timed(["borg", "create", f"{repo}::{label}", "."], cwd=tree, env=env)
                figures.setdefault("borg after rev2", []).append(du(repo))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return {key: statistics.median(values) for key, values in figures.items()}


def report(rows: list[dict[str, object]], rev1: Path, figures: dict[str, float]) -> str:
    """Markdown: where the corpus comes from, then the figures."""
    size = sum(p.stat().st_size for p in rev1.rglob("*") if p.is_file())
    lines = ["| package | version | licence | WAV | FLAC | bytes | what |", "|" + " --- |" * 7]
    for row in rows:
        lines.append(
            f"| {row['package']} | {row['version']} | {row['licence']} | {row['wav']} | {row['flac']} "
            f"| {row['bytes']:,} | {row['what']} |"
        )
    lines += ["", f"rev1: {size / 1e6:.1f} MB; medians of the runs.", "", "| figure | value |", "| --- | --- |"]
    for key, value in figures.items():
        lines.append(f"| {key} | {value / 1e6:.2f} MB |" if "after" in key and "restore" not in key else
                     f"| {key} | {value:.3f} s |")  # fmt: skip
    if "borg after rev2" in figures:
        ratio = figures["casstore after rev2 + gc"] / figures["borg after rev2"]
        lines.append(f"| casstore (after gc) / borg | {ratio:.2f}× |")
    ratio = figures["restore after gc, CPU"] / figures["restore before gc, CPU"]
    lines.append(f"| restore CPU, after gc / before | {ratio:.2f}× |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Fetch the corpus, or measure on it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["fetch", "run"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = fetch(args.dir)
    if args.action == "fetch":
        print(json.dumps(rows, indent=2))
        return
    rev1, rev2 = build_bundles(args.dir, args.dir / "bundles")
    print(report(rows, rev1, measure(rev1, rev2, args.runs)))


if __name__ == "__main__":
    main()
