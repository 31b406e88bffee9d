"""Build the scale preset's ``files`` store at one size, to profile one command by hand.

``.venv/bin/python bench/files_store.py 100000 /tmp/f100k`` writes ``/tmp/f100k/work`` (one
bundle of that many patterns and mixer snapshots, plus four samples), imports it as project
``p0`` into ``/tmp/f100k/store``, checks it out to ``/tmp/f100k/checkout`` and takes one
autosave, as ``bench/scale.py --axes files`` does before it measures. Then, for example:
``/usr/bin/time -v .venv/bin/casstore --store /tmp/f100k/store status /tmp/f100k/checkout``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scale_build  # noqa: E402
from scale import Bench  # noqa: E402
from workload import Preset, write_workload  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Build the store, working directory and checkout of ``size`` files under ``scratch``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("size", type=int)
    parser.add_argument("scratch", type=Path)
    args = parser.parse_args(argv)
    bench = Bench(args.scratch, runs=1)
    preset = Preset(samples=4, sample_bytes=50_000, patterns=args.size * 3 // 4, snapshots=args.size // 4)
    work, rev2 = write_workload(args.scratch / "work-tmp", "scale", preset=preset)
    work = work.rename(args.scratch / "work")
    shutil.rmtree(rev2.parent)
    with scale_build.fast_writes():
        scale_build.projects(bench.store, work, 1)
    cli = bench.cli
    scale_build.run([*cli, "checkout", "p0", str(args.scratch / "checkout")])
    bench.age(args.scratch / "checkout")
    bench.age(work)
    scale_build.run([*cli, "autosave", str(work), "--project", "p0"])
    print(f"store {bench.store.root}\nwork {work}\ncheckout {args.scratch / 'checkout'}")


if __name__ == "__main__":
    main()
