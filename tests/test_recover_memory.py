"""Memory guard (issue 17): what ``recover``'s listing and the viewer's recovery offer hold per file.

At 100,000 files both peaked at ~140 MiB: the head's manifest was held parsed (~40 MiB)
while each recovery point was read and diffed against it. As tests/test_checkout_memory.py
does for checkout, this measures traced memory (tracemalloc's peak, never wall time) of
each on a 1,000- and a 5,000-file bundle with an autosave that changed one pattern; the
difference divided by the 4,000 extra files is what each file costs.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from store_probes import bundle_store

from casstore import record_autosave
from casstore.storage.store import Store
from casstore.workdir.recover import list_recovery_points
from casstore.workdir.versions import safe_recovery_offer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import scale_build  # noqa: E402

# Bytes of traced memory per file, in a fresh interpreter. Measured: main 736 for both (the
# head's manifest parsed beside both tree tables); with the head held as a digest per entry
# (casstore/diff/narrow.py) ~198 for both (two tree tables of shared paths, the digests).
BUDGET = 400
SMALL, LARGE = 1_000, 5_000


def _peak(work: Callable[[], object]) -> int:
    """Traced peak bytes of ``work``."""
    gc.collect()
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _store(scratch: Path, files: int) -> Store:
    """A bundle of ``files`` files imported as ``p0``, and an autosave of it with one pattern changed."""
    store, work = bundle_store(scratch / str(files), files, "recover")
    scale_build.edit(work, 7)
    with scale_build.fast_writes():
        record_autosave(store, work, "p0")
    return store


def _costs(scratch: Path) -> dict[str, float]:
    """Traced bytes per file of the listing and the offer between SMALL and LARGE files."""
    stores = {files: _store(scratch, files) for files in (200, SMALL, LARGE)}
    for store in stores.values():  # each store's first reads (lazy caches, imports) out of the figures
        assert [p.summary for p in list_recovery_points(store, "p0")] == ["vs head: pattern p0007 modified"]
    costs = {}
    for name, work in (("listing", list_recovery_points), ("offer", safe_recovery_offer)):
        small = _peak(lambda work=work: work(stores[SMALL], "p0"))
        large = _peak(lambda work=work: work(stores[LARGE], "p0"))
        costs[name] = (large - small) / (LARGE - SMALL)
    return costs


def test_the_listing_and_the_offer_hold_little_memory_per_file(tmp_path: Path) -> None:
    # In a fresh interpreter, its intern table grown first (see below): not what earlier tests left.
    run = subprocess.run(
        [sys.executable, __file__, str(tmp_path)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    costs = {name: float(value) for name, value in (line.split() for line in run.stdout.splitlines())}
    print(costs)
    for name, per_file in costs.items():
        assert per_file <= BUDGET, f"{name} holds {per_file:.0f} bytes per file (budget {BUDGET})"
        assert per_file > 50, costs  # the guard measures something: a bigger bundle costs more


if __name__ == "__main__":
    # The trees' paths are interned (recover holds two tables of the same paths): the
    # interpreter's table of interned strings grows, a block of MiBs, whenever it first holds
    # more than ever before, at a point set by everything else the process interned. Grown
    # here first, so no measurement resizes it.
    _table_room = [sys.intern(f"casstore-room-{n}") for n in range(400_000)]
    # Manifests are streamed a chunk at a time; a smaller chunk so that the cost per file
    # shows at these sizes (a 1 MiB chunk holds a 5,000-entry manifest whole).
    from casstore.model import manifest_stream

    manifest_stream._CHUNK = 1 << 14
    for name, per_file in _costs(Path(sys.argv[1])).items():
        print(f"{name} {per_file:.1f}")
