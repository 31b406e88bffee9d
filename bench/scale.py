"""The ``scale`` preset: how each command's time and peak memory grow with the store.

Four axes, each at three sizes: one project's history (commits: imports plus the autosave
ring), the number of projects sharing samples, the files in one bundle, and the bytes in
the store. Stores are built fast through the library (``scale_build.py``); every
operation is measured as a real CLI subprocess under GNU time (median of ``--runs``, peak
RSS of the child). The exponent is the log-log slope between the two largest sizes.

Sizes are small by default (a run takes a few minutes); ``CASSTORE_SCALE=full`` uses the
issue's sizes (10,000 commits, 5,000 projects, 100,000 files, 10 GB), and
``CASSTORE_SCALE_<AXIS>=a,b,c`` (HISTORY, PROJECTS, FILES, BYTES) sets one axis.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import scale_build  # noqa: E402
from run import Sample, timed  # noqa: E402
from workload import Preset, write_workload  # noqa: E402

SIZES = {
    "default": {
        "history": [250, 1_000, 2_500],
        "projects": [10, 100, 1_000],
        "files": [2_000, 10_000, 20_000],
        "bytes": [32 << 20, 128 << 20, 512 << 20],
    },
    "full": {
        "history": [1_000, 5_000, 10_000],
        "projects": [100, 1_000, 5_000],
        "files": [10_000, 50_000, 100_000],
        "bytes": [1 << 30, 4 << 30, 10 << 30],
    },
}
UNITS = {"history": "commits", "projects": "projects", "files": "files", "bytes": "bytes"}
# What each operation should cost against each axis (N commits, P projects, F files, S bytes).
EXPECTED = {
    "history": {
        "import small change": "O(1)",
        "log -n 1": "O(1)",
        "status": "O(1)",
        "autosave unchanged": "O(1)",
        "recover listing": "O(1)",
        "fsck": "O(N)",
        "gc": "O(N)",
        "viewer load": "O(N)",
    },
    "projects": {
        "import small change": "O(1)",
        "log -n 1": "O(1)",
        "status": "O(1)",
        "autosave unchanged": "O(1)",
        "recover listing": "O(1)",
        "viewer load": "O(1)",
    },
    "files": {
        "import small change": "O(F)",
        "log -n 1": "O(1)",
        "status": "O(F)",
        "autosave unchanged": "O(F)",
        "recover listing": "O(F)",
        "fsck": "O(F)",
        "gc": "O(F)",
        "viewer load": "O(F)",
    },
    "bytes": {"import small change": "O(1)", "log -n 1": "O(1)", "fsck": "O(S)", "gc": "O(S)"},
}


class Bench:
    """One store and working directory of one axis, and the commands to time on it."""

    def __init__(self, scratch: Path, runs: int) -> None:
        self.scratch, self.runs = scratch, runs
        self.store = scale_build.new_store(scratch / "store")
        self.cli = [str(ROOT / ".venv" / "bin" / "casstore"), "--store", str(self.store.root)]
        self.env = {"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "KIVY_HOME": str(scratch / "kivy")}
        self.results: dict[str, dict[int, Sample]] = {}

    def measure(self, name: str, size: int, argv: list[str], before: Callable[[int], None] | None = None) -> None:
        """Time ``argv`` ``runs`` times (``before(run)`` untimed ahead of each); keep the median run."""
        samples = []
        for run in range(self.runs):
            if before is not None:
                before(run)
            samples.append(timed(argv, env=self.env))
        middle = statistics.median(s.seconds for s in samples)
        cpu = statistics.median(s.cpu for s in samples)  # the work done: a loaded machine inflates it less
        self.results.setdefault(name, {})[size] = Sample(middle, max(s.rss_mib for s in samples), cpu)

    def age(self, directory: Path) -> None:
        """Date every file a minute back: out of the stat cache's racy window, as a tablet's files are."""
        self.age_files(path for path in directory.rglob("*") if path.name != ".casstore-checkout.json")

    def age_files(self, paths: Iterable[Path]) -> None:
        """Date ``paths`` a minute back (their ctime moves to now: the stat cache re-hashes them, and only them)."""
        past = time.time() - 60
        for path in paths:
            os.utime(path, (past, past))

    def project_ops(self, size: int, project: str, work: Path, ops: dict[str, str]) -> None:
        """Time the one-project commands of ``ops`` on ``project`` whose bundle is ``work``."""
        cli = self.cli
        if "import small change" in ops:
            step = iter(range(10**6, 10**7))
            # Aging a file moves its ctime, which the stat cache compares: age everything once and
            # import untimed, so each measured import finds only the files its edit touched changed.
            self.age(work)
            scale_build.run([*cli, "import", str(work), "--project", project])

            def change(_run: int) -> None:
                self.age_files(scale_build.edit(work, next(step)))

            self.measure("import small change", size, [*cli, "import", str(work), "--project", project], change)
        if "log -n 1" in ops:
            self.measure("log -n 1", size, [*cli, "log", "-n", "1", project])
        if "status" in ops:
            checkout = self.scratch / f"checkout-{size}"
            scale_build.run([*cli, "checkout", project, str(checkout)])
            self.age(checkout)
            scale_build.run([*cli, "status", str(checkout)])
            self.measure("status", size, [*cli, "status", str(checkout)])
            shutil.rmtree(checkout)
        if "autosave unchanged" in ops:
            argv = [*cli, "autosave", str(work), "--project", project]
            self.age(work)
            scale_build.run(argv)
            self.measure("autosave unchanged", size, argv)
        if "recover listing" in ops:
            self.measure("recover listing", size, [*cli, "recover", project])
        if "fsck" in ops:
            self.measure("fsck", size, [*cli, "fsck"])
        if "gc" in ops:
            self.measure("gc", size, [*cli, "gc"])
        if "viewer load" in ops:
            code = (
                "from casstore.gui.viewmodels import TrackerMixerRoot; "
                f"vm = TrackerMixerRoot({str(self.store.root)!r}, {project!r}, None); vm.load(); "
                "assert vm.history and not vm.problem, vm.problem"
            )
            self.measure("viewer load", size, [str(ROOT / ".venv" / "bin" / "python"), "-c", code])


def axis_history(bench: Bench, sizes: list[int]) -> None:
    """One project with ever more commits: every other an import, the rest autosaves (the ring prunes them)."""
    work = scale_build.bundle(bench.scratch / "work")
    built = 0
    for size in sizes:
        with scale_build.fast_writes():
            scale_build.history(bench.store, work, size - built, project="scale")
        built = size
        bench.project_ops(size, "scale", work, EXPECTED["history"])
        print(f"history {size}: done", file=sys.stderr)


def axis_projects(bench: Bench, sizes: list[int]) -> None:
    """Ever more projects sharing one set of samples; project p0 is measured."""
    work = scale_build.bundle(bench.scratch / "work")
    built = 0
    for size in sizes:
        with scale_build.fast_writes():
            scale_build.projects(bench.store, work, size - built, start=built)
            if built == 0:
                scale_build.history(bench.store, work, 20, project="p0")
        built = size
        bench.project_ops(size, "p0", work, EXPECTED["projects"])
        print(f"projects {size}: done", file=sys.stderr)


def axis_files(bench: Bench, sizes: list[int]) -> None:
    """One bundle of ever more files (patterns and mixer snapshots), each size a new store."""
    for size in sizes:
        scratch = bench.scratch / f"files-{size}"
        one = Bench(scratch, bench.runs)
        preset = Preset(samples=4, sample_bytes=50_000, patterns=size * 3 // 4, snapshots=size // 4)
        work, rev2 = write_workload(scratch / "work", "scale", preset=preset)
        shutil.rmtree(rev2)
        with scale_build.fast_writes():
            scale_build.projects(one.store, work, 1)
        one.project_ops(size, "p0", work, EXPECTED["files"])
        bench.results.update({k: {**bench.results.get(k, {}), **v} for k, v in one.results.items()})
        shutil.rmtree(scratch)
        print(f"files {size}: done", file=sys.stderr)


def axis_bytes(bench: Bench, sizes: list[int]) -> None:
    """One store grown to ever more bytes of audio (new samples each save); a small project is measured."""
    work = scale_build.bundle(bench.scratch / "work")
    with scale_build.fast_writes():
        scale_build.projects(bench.store, work, 1)
    stored = 0
    for size in sizes:
        while stored < size:
            chunk = min(size - stored, 256 << 20)
            samples = max(1, chunk // (8 << 20))
            preset = Preset(samples=samples, sample_bytes=chunk // samples, patterns=8, snapshots=1)
            big, rev2 = write_workload(bench.scratch / "big", f"big{stored}", seed=stored, preset=preset)
            shutil.rmtree(rev2)
            with scale_build.fast_writes():
                scale_build.projects(bench.store, big, 1, start=1 + stored // (1 << 20))
            shutil.rmtree(big)
            stored += chunk
        bench.project_ops(size, "p0", work, EXPECTED["bytes"])
        print(f"bytes {size >> 20} MiB: done", file=sys.stderr)


AXES = {"history": axis_history, "projects": axis_projects, "files": axis_files, "bytes": axis_bytes}


def exponent(points: dict[int, Sample], value: Callable[[Sample], float]) -> str:
    """Log-log slope between the two largest sizes, or a dash when it cannot be had."""
    (small, a), (large, b) = sorted(points.items())[-2:]
    if value(a) <= 0 or value(b) <= 0:
        return "—"
    return f"{math.log(value(b) / value(a)) / math.log(large / small):.2f}"


def _wall(sample: Sample) -> float:
    return sample.seconds


def _cpu(sample: Sample) -> float:
    return sample.cpu


def _rss(sample: Sample) -> float:
    return sample.rss_mib


def label(axis: str, size: int) -> str:
    """A size as the table shows it."""
    return f"{size >> 20:,} MiB" if axis == "bytes" else f"{size:,}"


def table(axis: str, results: dict[str, dict[int, Sample]]) -> str:
    """One axis as Markdown: operation × size, time and peak memory, expected O(), exponents."""
    sizes = sorted({size for points in results.values() for size in points})
    head = " · ".join(label(axis, s) for s in sizes)
    lines = [
        f"### {UNITS[axis]}",
        "",
        f"| operation | {head} {UNITS[axis]}: wall s / CPU s / peak MiB | expected | exponent: wall, CPU, memory |",
        "| --- | --- | --- | --- |",
    ]
    for name, expected in EXPECTED[axis].items():
        points = results.get(name, {})
        cells = " · ".join(
            f"{points[s].seconds:.2f} / {points[s].cpu:.2f} / {points[s].rss_mib:.0f}" for s in sizes if s in points
        )
        exponents = "—"
        if len(points) > 1:
            exponents = ", ".join(exponent(points, pick) for pick in (_wall, _cpu, _rss))
        lines.append(f"| {name} | {cells} | {expected} | {exponents} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Build each axis's stores, time the commands, write bench/results/scale.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--axes", default="history,projects,files,bytes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    scale = "full" if os.environ.get("CASSTORE_SCALE") == "full" else "default"
    python = ROOT / ".venv" / "bin" / "python"
    scale_build.run([str(python), "-m", "compileall", "-q", str(ROOT / "casstore"), str(ROOT / "porcelain")])
    sections = []
    for axis in args.axes.split(","):
        override = os.environ.get(f"CASSTORE_SCALE_{axis.upper()}")
        sizes = [int(s) for s in override.split(",")] if override else SIZES[scale][axis]
        scratch = Path(tempfile.mkdtemp(prefix=f"casstore-scale-{axis}-"))
        try:
            bench = Bench(scratch, args.runs)
            AXES[axis](bench, sizes)
            sections.append(table(axis, bench.results))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print(sections[-1])
    text = f"# Scale ({scale} sizes, median of {args.runs})\n\n" + "\n".join(sections)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
