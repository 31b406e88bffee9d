"""Push and clone of a preset to a local SeaweedFS, beside restic to the same server and the raw floor.

    .venv/bin/python bench/remote.py [--preset medium] [--runs 3]

Starts SeaweedFS on 127.0.0.1 (free ports, telemetry off; tests/s3_servers.py), then per
run, each tool on a fresh prefix of one bucket:

- casstore: ``push`` of a store holding revision 1 (import not timed), ``clone`` into a new store;
- restic: ``backup`` of revision 1's directory to ``s3:…`` (init not timed), ``restore latest``;
- floor: every file of revision 1 PUT and then GET with obstore, 8 requests in flight.

Prints a Markdown table of median wall seconds (with the spread) for bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]

from workload import write_workload  # noqa: E402

from s3_servers import BUCKET, CREDENTIALS, start_seaweedfs  # noqa: E402

CASSTORE = [sys.executable, "-m", "porcelain"]


def run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    """Run one command; fail loudly."""
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}… failed ({done.returncode}): {done.stderr.strip()[:500]}")


def timed(action: Callable[[], None]) -> float:
    """Return the wall seconds ``action`` took."""
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def bench_casstore(rev1: Path, scratch: Path, endpoint: str, env: dict[str, str]) -> tuple[float, float]:
    store, copy = scratch / "store", scratch / "clone"
    url = f"s3://{BUCKET}/cas-{uuid.uuid4().hex[:8]}"
    run([*CASSTORE, "init", str(store)], env)
    run([*CASSTORE, "--store", str(store), "import", str(rev1)], env)
    run([*CASSTORE, "--store", str(store), "remote", "add", "origin", url, "--endpoint", endpoint], env)
    push = timed(lambda: run([*CASSTORE, "--store", str(store), "push"], env))
    clone = timed(lambda: run([*CASSTORE, "clone", url, str(copy), "--endpoint", endpoint], env))
    return push, clone


def bench_restic(rev1: Path, scratch: Path, endpoint: str, env: dict[str, str]) -> tuple[float, float]:
    repo = f"s3:{endpoint}/{BUCKET}/restic-{uuid.uuid4().hex[:8]}"
    restic = {**env, "RESTIC_PASSWORD": "bench", "RESTIC_CACHE_DIR": str(scratch / "restic-cache")}
    run(["restic", "-r", repo, "init"], restic)
    backup = timed(lambda: run(["restic", "-r", repo, "backup", "-q", "."], restic, cwd=rev1))
    target = scratch / "restored"
    restore = timed(lambda: run(["restic", "-r", repo, "restore", "latest", "--target", str(target)], restic))
    return backup, restore


def bench_floor(rev1: Path, endpoint: str) -> tuple[float, float]:
    import obstore
    from obstore.store import S3Store

    prefix = f"floor-{uuid.uuid4().hex[:8]}"
    store = S3Store(BUCKET, prefix=prefix, config={"endpoint": endpoint}, client_options={"allow_http": True})
    files = [path for path in sorted(rev1.rglob("*")) if path.is_file()]
    keys = [path.relative_to(rev1).as_posix() for path in files]
    with ThreadPoolExecutor(8) as pool:
        pairs = list(zip(keys, files, strict=True))
        put = timed(lambda: list(pool.map(lambda pair: obstore.put(store, pair[0], pair[1].read_bytes()), pairs)))
        get = timed(lambda: list(pool.map(lambda key: bytes(obstore.get(store, key).bytes()), keys)))
    return put, get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("restic") is None:
        raise SystemExit("restic is not installed (bench/setup.sh installs it)")
    os.environ.update(CREDENTIALS)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "CASSTORE_DIR"):
        os.environ.pop(key, None)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="casstore-bench-remote-") as tmp:
        work = Path(tmp)
        rev1, _rev2 = write_workload(work / "data", args.preset)
        size = sum(path.stat().st_size for path in rev1.rglob("*") if path.is_file())
        server = start_seaweedfs(work / "seaweedfs")
        times: dict[str, list[float]] = {}
        try:
            for number in range(args.runs):
                scratch = work / f"run{number}"
                for tool, bench in (
                    ("casstore", lambda s: bench_casstore(rev1, s, server.endpoint, env)),
                    ("restic", lambda s: bench_restic(rev1, s, server.endpoint, env)),
                    ("floor", lambda _s: bench_floor(rev1, server.endpoint)),
                ):
                    (scratch / tool).mkdir(parents=True)
                    up, down = bench(scratch / tool)
                    times.setdefault(f"{tool} up", []).append(up)
                    times.setdefault(f"{tool} down", []).append(down)
                shutil.rmtree(scratch)
        finally:
            server.stop()

    def cell(key: str) -> str:
        values = times[key]
        return f"{statistics.median(values):.2f} ± {(max(values) - min(values)) / 2:.2f}"

    print(f"\n{args.preset} preset ({size / 1e6:.1f} MB), {args.runs} runs, SeaweedFS on 127.0.0.1")
    print("\n| phase | casstore | restic | floor (obstore, 8 in flight) |\n| --- | --- | --- | --- |")
    print(f"| upload (push / backup / PUT) | {cell('casstore up')} | {cell('restic up')} | {cell('floor up')} |")
    print(
        f"| download (clone / restore / GET) | {cell('casstore down')} | {cell('restic down')} | {cell('floor down')} |"
    )


if __name__ == "__main__":
    main()
