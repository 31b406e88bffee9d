"""Time casstore against git (sha256), restic and borg, and against the floors, on one workload.

Every phase runs in a fresh scratch directory, ``--runs`` times (median and spread
reported), with wall seconds and peak RSS from GNU time. Results: a Markdown file in
``bench/results/`` with seconds, ratios to the sha256sum floor, store sizes and the
issue's targets. Tools that are not installed are reported as such (``bench/setup.sh``
installs them from Debian).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from workload import write_workload  # noqa: E402

PHASES = [
    "store rev1",
    "store rev2",
    "full check",
    "restore rev1",
    "no-op",
    "autosave unchanged",
    "status unchanged",
    "gc (FLAC compaction)",
    "restore rev1 compacted",
]


@dataclass
class Sample:
    """One timed command: wall seconds and peak RSS in MiB."""

    seconds: float
    rss_mib: float
    cpu: float = 0.0  # user + system seconds: the work done, which a loaded machine does not inflate as much


@dataclass
class Result:
    """All samples of one tool's phase, and store sizes."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    sizes: dict[str, list[int]] = field(default_factory=dict)
    note: str = ""

    def add(self, phase: str, sample: Sample) -> None:
        """Record one sample of ``phase``."""
        self.samples.setdefault(phase, []).append(sample)

    def median(self, phase: str) -> float | None:
        """Return the median seconds of ``phase``."""
        values = [s.seconds for s in self.samples.get(phase, [])]
        return statistics.median(values) if values else None

    def spread(self, phase: str) -> float:
        """Return max - min seconds of ``phase``."""
        values = [s.seconds for s in self.samples.get(phase, [])]
        return (max(values) - min(values)) if values else 0.0

    def cpu(self, phase: str) -> float | None:
        """Return the median CPU seconds (user + system) of ``phase``."""
        values = [s.cpu for s in self.samples.get(phase, [])]
        return statistics.median(values) if values else None

    def rss(self, phase: str) -> float | None:
        """Return the highest peak RSS of ``phase``."""
        values = [s.rss_mib for s in self.samples.get(phase, [])]
        return max(values) if values else None


def timed(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Sample:
    """Run ``argv`` under GNU time, the disk settled first; fail loudly if it fails."""
    # Untimed: what earlier steps left dirty in the page cache (the workload just generated,
    # git's objects, which it never fsyncs) is written back now, not on the next phase's time.
    os.sync()
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        full = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", report.name, *argv]
        done = subprocess.run(full, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-800:]}")
        seconds, kib, user, system = report.read().split()[-4:]
    return Sample(float(seconds), int(kib) / 1024, float(user) + float(system))


def du(path: Path) -> int:
    """Bytes a directory takes on disk."""
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def same_tree(a: Path, b: Path) -> None:
    """Refuse a restore that is not byte for byte."""
    done = subprocess.run(["diff", "-r", "-q", "-x", ".casstore-checkout.json", str(a), str(b)], capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"restore of {a} differs: {done.stdout[:400]!r}")


def bench_casstore(rev1: Path, rev2: Path, scratch: Path, result: Result, root: Path = ROOT) -> None:
    """Time every phase with the casstore of checkout ``root`` (its own ``.venv``)."""
    # Byte-compile casstore first, as pip does when it installs a package: with
    # PYTHONDONTWRITEBYTECODE set (as on some CI machines) every command would otherwise
    # compile its modules from source again, ~25 ms a run that no user pays.
    python = root / ".venv" / "bin" / "python"
    sources = [str(root / name) for name in ("casstore", "porcelain", "gui") if (root / name).is_dir()]
    subprocess.run([str(python), "-m", "compileall", "-q", *sources], check=True)
    store = scratch / "store"
    cli = [str(root / ".venv" / "bin" / "casstore"), "--store", str(store)]
    subprocess.run([*cli, "init"], check=True, capture_output=True)
    result.add("store rev1", timed([*cli, "import", str(rev1), "-m", "rev1"]))
    result.sizes.setdefault("after rev1", []).append(du(store))
    result.add("store rev2", timed([*cli, "import", str(rev2), "-m", "rev2"]))
    result.sizes.setdefault("after rev2", []).append(du(store))
    result.add("full check", timed([*cli, "fsck"]))
    project = "bench-" + rev1.parent.name.split("-")[-1]
    result.add("restore rev1", timed([*cli, "export", f"{project}~1", str(scratch / "restored")]))
    same_tree(rev1, scratch / "restored")
    result.add("no-op", timed([*cli, "refs"]))
    work = scratch / "work"
    shutil.copytree(rev1, work)
    subprocess.run([*cli, "autosave", str(work), "--project", project], check=True, capture_output=True)
    past = time.time() - 60  # out of the stat cache's racy window, as a tablet's files would be
    for path in work.rglob("*"):
        os.utime(path, (past, past))
    subprocess.run([*cli, "autosave", str(work), "--project", project], check=True, capture_output=True)
    result.add("autosave unchanged", timed([*cli, "autosave", str(work), "--project", project]))
    subprocess.run([*cli, "checkout", f"{project}~1", str(scratch / "co")], check=True, capture_output=True)
    for path in (scratch / "co").rglob("*"):
        if path.name != ".casstore-checkout.json":
            os.utime(path, (past, past))
    subprocess.run([*cli, "status", str(scratch / "co")], check=True, capture_output=True)
    result.add("status unchanged", timed([*cli, "status", str(scratch / "co")]))
    # Issue 17: gc compacts PCM WAVs with FLAC; a restore from the compacted store, byte for byte.
    result.add("gc (FLAC compaction)", timed([*cli, "gc", "--grace", "0s"]))
    result.sizes.setdefault("after gc", []).append(du(store))
    result.add("restore rev1 compacted", timed([*cli, "export", f"{project}~1", str(scratch / "compacted")]))
    same_tree(rev1, scratch / "compacted")


def bench_git(rev1: Path, rev2: Path, scratch: Path, result: Result) -> None:
    repo = scratch / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", "--object-format=sha256", str(repo)], check=True)
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    for label, tree in (("rev1", rev1), ("rev2", rev2)):
        git = f"git --git-dir={repo} --work-tree={tree}"
        script = f"{git} add -A && {git} commit -qm {label}"
        result.add(f"store {label}", timed(["sh", "-c", script], env=env))
        result.sizes.setdefault(f"after {label}", []).append(du(repo))
    result.add("full check", timed(["git", f"--git-dir={repo}", "fsck", "--full", "--no-progress"]))
    dest = scratch / "restored"
    index = scratch / "restore.idx"
    script = (
        f"GIT_INDEX_FILE={index} git --git-dir={repo} read-tree HEAD~1 && "
        f"mkdir -p {dest} && GIT_INDEX_FILE={index} git --git-dir={repo} --work-tree={dest} checkout-index -a"
    )
    result.add("restore rev1", timed(["sh", "-c", script]))
    same_tree(rev1, dest)
    result.add("no-op", timed(["git", f"--git-dir={repo}", "rev-parse", "HEAD"]))
    status = f"git --git-dir={repo} --work-tree={rev2} status --porcelain"
    subprocess.run(["sh", "-c", status], check=True, capture_output=True)
    result.add("status unchanged", timed(["sh", "-c", status]))


def bench_restic(rev1: Path, rev2: Path, scratch: Path, result: Result) -> None:
    repo = scratch / "restic"
    env = {"RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo), "XDG_CACHE_HOME": str(scratch / "cache")}
    subprocess.run(["restic", "init", "--quiet"], env={**os.environ, **env}, check=True, capture_output=True)
    for label, tree in (("rev1", rev1), ("rev2", rev2)):
        result.add(f"store {label}", timed(["restic", "backup", "--quiet", "--tag", label, "."], cwd=tree, env=env))
        result.sizes.setdefault(f"after {label}", []).append(du(repo))
    result.add("full check", timed(["restic", "check", "--read-data", "--quiet"], env=env))
    dest = scratch / "restored"
    result.add(
        "restore rev1",
        timed(["restic", "restore", "latest", "--tag", "rev1", "--target", str(dest), "--quiet"], env=env),
    )
    same_tree(rev1, dest)
    result.add("no-op", timed(["restic", "snapshots", "--quiet"], env=env))


def bench_borg(rev1: Path, rev2: Path, scratch: Path, result: Result) -> None:
    repo = scratch / "borg"
    env = {"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_BASE_DIR": str(scratch / "borgbase")}
    subprocess.run(
        ["borg", "init", "-e", "none", str(repo)], env={**os.environ, **env}, check=True, capture_output=True
    )
    for label, tree in (("rev1", rev1), ("rev2", rev2)):
        result.add(f"store {label}", timed(["borg", "create", f"{repo}::{label}", "."], cwd=tree, env=env))
        result.sizes.setdefault(f"after {label}", []).append(du(repo))
    result.add("full check", timed(["borg", "check", "--verify-data", str(repo)], env=env))
    dest = scratch / "restored"
    dest.mkdir()
    result.add("restore rev1", timed(["borg", "extract", f"{repo}::rev1"], cwd=dest, env=env))
    same_tree(rev1, dest)
    result.add("no-op", timed(["borg", "list", str(repo)], env=env))


def bench_floors(rev1: Path, rev2: Path, scratch: Path, result: Result) -> None:
    result.add("sha256sum", timed(["sh", "-c", f"find {rev1} -type f -print0 | xargs -0 sha256sum > /dev/null"]))
    hashing = (
        "import hashlib, sys, pathlib\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).rglob('*')):\n"
        "    if p.is_file():\n"
        "        h = hashlib.sha256()\n"
        "        with open(p, 'rb') as f:\n"
        "            while b := f.read(1 << 20): h.update(b)\n"
    )
    result.add("hashlib", timed([sys.executable, "-c", hashing, str(rev1)]))
    result.add("cp -r", timed(["cp", "-r", str(rev1), str(scratch / "copy")]))
    # What a restore that keeps every file durable cannot beat: the copy, then one syncfs (git's
    # checkout-index fsyncs nothing, so its restore stops at the page cache).
    durable = scratch / "durable-copy"
    result.add("cp -r, sync -f", timed(["sh", "-c", f"cp -r {rev1} {durable} && sync -f {durable}"]))
    result.add("zstd -3 assets", timed(["sh", "-c", f"cat {rev1}/assets/* | zstd -3 -q -c > /dev/null"]))


TOOLS: dict[str, tuple[str | None, Callable[[Path, Path, Path, Result], None]]] = {
    "casstore": (None, bench_casstore),
    "git": ("git", bench_git),
    "restic": ("restic", bench_restic),
    "borg": ("borg", bench_borg),
    "floor": ("sha256sum", bench_floors),
}


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def comparison(preset: str, runs: int, baseline: str, now: Result, before: Result) -> str:
    """Render the before/after table of two casstore checkouts measured in one interleaved run."""
    lines = [
        f"# casstore before and after: {preset} preset, median of {runs} interleaved runs",
        "",
        f"Baseline: {baseline}; {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "Wall seconds (median ± spread) and CPU seconds (user + system, median): on a machine",
        "other work shares, wall time swings with the load while CPU time still measures the work.",
        "",
        "| phase | wall before | wall after | change | CPU before | CPU after | change | peak RSS (MiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def change(old: float | None, new: float | None) -> str:
        return f"{(new - old) / old * 100:+.1f}%" if old and new is not None else "n/a"

    for phase in PHASES:
        old, new = before.median(phase), now.median(phase)
        old_cpu, new_cpu = before.cpu(phase), now.cpu(phase)
        lines.append(
            f"| {phase} | {fmt(old, 3)} ± {before.spread(phase):.3f} | {fmt(new, 3)} ± {now.spread(phase):.3f} "
            f"| {change(old, new)} | {fmt(old_cpu, 3)} | {fmt(new_cpu, 3)} | {change(old_cpu, new_cpu)} "
            f"| {fmt(before.rss(phase), 1)} / {fmt(now.rss(phase), 1)} |"
        )
    for key in ("after rev1", "after rev2", "after gc"):
        old_size = statistics.median(before.sizes[key]) / 1e6 if before.sizes.get(key) else None
        new_size = statistics.median(now.sizes[key]) / 1e6 if now.sizes.get(key) else None
        lines.append(f"| store size {key} (MB) | {fmt(old_size, 1)} | {fmt(new_size, 1)} | | | | | |")
    # Issue 17's must-show 3 asks a restore from a compacted store to take at most 1.2x the
    # restore of its day: this checkout after gc against the baseline's restore, same run.
    old, new = before.median("restore rev1"), now.median("restore rev1 compacted")
    old_cpu, new_cpu = before.cpu("restore rev1"), now.cpu("restore rev1 compacted")
    if old and new is not None and old_cpu and new_cpu is not None:
        lines += [
            "",
            f"Restore from the compacted store (after) against the baseline's restore of rev1 (before): "
            f"{new / old:.2f}x wall, {new_cpu / old_cpu:.2f}x CPU.",
        ]
    return "\n".join(lines) + "\n"


def compare(args: argparse.Namespace, rev1: Path, rev2: Path, base: Path) -> None:
    """Run this checkout and ``--baseline`` alternately, so drift in the machine's load hits both alike."""
    now, before = Result(), Result()
    for index in range(args.runs):
        for label, root, result in (("now", ROOT, now), ("before", args.baseline, before)):
            scratch = base / f"{label}-{index}"
            scratch.mkdir()
            bench_casstore(rev1, rev2, scratch, result, root)
            shutil.rmtree(scratch, ignore_errors=True)
        print(f"run {index + 1} of {args.runs}: done", file=sys.stderr)
    label = subprocess.run(
        ["git", "-C", str(args.baseline), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    ).stdout.strip()
    text = comparison(args.preset, args.runs, label or str(args.baseline), now, before)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"compare-{args.preset}.md").write_text(text)
    print(text)


def report(preset: str, runs: int, size: int, files: int, results: dict[str, Result]) -> str:
    """Render the Markdown results."""
    cs, borg, git = results["casstore"], results.get("borg"), results.get("git")
    floors = results.get("floor")  # absent when --tools leaves the floors out
    floor = floors.median("sha256sum") if floors else None
    lines = [
        f"# Benchmark: {preset} preset",
        "",
        f"{size / 1e6:.1f} MB in {files} files (rev1); median of {runs} runs (± spread = max − min); "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; page cache warm.",
        "",
        "## Seconds",
        "",
        "| phase | " + " | ".join(t for t in results if t != "floor") + " |",
        "| --- |" + " --- |" * len([t for t in results if t != "floor"]),
    ]
    for phase in PHASES:
        cells = []
        for tool, result in results.items():
            if tool == "floor":
                continue
            median = result.median(phase)
            cells.append("n/a" if median is None else f"{median:.3f} ± {result.spread(phase):.3f}")
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    if floors:
        lines += ["", "Floors over the same rev1 bytes:", "", "| floor | seconds |", "| --- | --- |"]
        for phase, samples in floors.samples.items():
            lines.append(f"| {phase} | {statistics.median(s.seconds for s in samples):.3f} |")
    lines += [
        "",
        "## Ratio to the sha256sum floor",
        "",
        "| phase | " + " | ".join(t for t in results if t != "floor") + " |",
        "| --- |" + " --- |" * len([t for t in results if t != "floor"]),
    ]
    for phase in PHASES[:4]:
        cells = [
            fmt(r.median(phase) / floor if r.median(phase) and floor else None)
            for t, r in results.items()
            if t != "floor"
        ]
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Peak RSS (MiB) and store size (MB)",
        "",
        "| tool | peak RSS, any phase | size after rev1 | size after rev2 | after rev2 + gc |",
        "| --- | --- | --- | --- | --- |",
    ]
    for tool, result in results.items():
        if tool == "floor":
            continue
        peak = max((result.rss(p) or 0) for p in PHASES)
        sizes = [
            statistics.median(result.sizes[k]) / 1e6 if result.sizes.get(k) else None
            for k in ("after rev1", "after rev2", "after gc")
        ]
        lines.append(f"| {tool} | {peak:.1f} | {fmt(sizes[0], 1)} | {fmt(sizes[1], 1)} | {fmt(sizes[2], 1)} |")
    lines += ["", "## Targets (issues 8 and 17)", "", "| target | measured | met |", "| --- | --- | --- |"]

    def target(name: str, measured: float | None, limit: float | None, unit: str = "s") -> None:
        if measured is None or limit is None:
            lines.append(f"| {name} | {fmt(measured, 3)} {unit} (limit n/a) | n/a |")
            return
        lines.append(
            f"| {name} | {measured:.3f} {unit} vs {limit:.3f} {unit} | {'yes' if measured <= limit else 'NO'} |"
        )

    target("(a) store rev1 ≤ ½ borg", cs.median("store rev1"), borg.median("store rev1") / 2 if borg else None)
    target("(b) store rev2 ≤ git", cs.median("store rev2"), git.median("store rev2") if git else None)
    target("(c) full check ≤ sha256sum floor", cs.median("full check"), floor)
    target("(d) restore ≤ ½ git", cs.median("restore rev1"), git.median("restore rev1") / 2 if git else None)
    target("(e) no-op < 0.15 s", cs.median("no-op"), 0.15)
    target(
        "store size after rev2 ≤ borg",
        statistics.median(cs.sizes["after rev2"]) / 1e6,
        statistics.median(borg.sizes["after rev2"]) / 1e6 if borg else None,
        "MB",
    )
    if cs.sizes.get("after gc"):
        target(
            "(issue 17) store size after rev2 + gc ≤ 0.55× borg",
            statistics.median(cs.sizes["after gc"]) / 1e6,
            statistics.median(borg.sizes["after rev2"]) / 1e6 * 0.55 if borg else None,
            "MB",
        )
        restore = cs.median("restore rev1")
        compacted = cs.median("restore rev1 compacted")
        target("(issue 17) compacted restore ≤ 1.2× restore", compacted, restore and restore * 1.2)
    target("peak RSS < 100 MiB", max((cs.rss(p) or 0) for p in PHASES), 100, "MiB")
    target("autosave unchanged < 0.2 s", cs.median("autosave unchanged"), 0.2)
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="medium", choices=["small", "medium", "large", "scale"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="casstore,git,restic,borg,floor")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (with its own .venv): time it against this one instead"
    )
    args = parser.parse_args()
    if args.preset == "scale":  # growth with the store's size: its own stores and table (bench/scale.py)
        import scale

        scale.main(["--runs", str(args.runs), "--out", str(args.out)])
        return
    base = Path(tempfile.mkdtemp(prefix=f"casstore-bench-{args.preset}-"))
    try:
        rev1, rev2 = write_workload(base / f"workload-{args.preset}", args.preset)
        size = sum(p.stat().st_size for p in rev1.rglob("*") if p.is_file())
        files = sum(1 for p in rev1.rglob("*") if p.is_file())
        if args.baseline is not None:
            compare(args, rev1, rev2, base)
            return
        results: dict[str, Result] = {}
        for tool in args.tools.split(","):
            needed, run = TOOLS[tool]
            result = results.setdefault(tool, Result())
            if needed and shutil.which(needed) is None:
                result.note = f"{needed} not installed (bench/setup.sh)"
                continue
            for index in range(args.runs):
                scratch = base / f"{tool}-{index}"
                scratch.mkdir()
                run(rev1, rev2, scratch, result)
                shutil.rmtree(scratch, ignore_errors=True)
            print(f"{tool}: done", file=sys.stderr)
        text = report(args.preset, args.runs, size, files, results)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.preset}.md").write_text(text)
        print(text)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
