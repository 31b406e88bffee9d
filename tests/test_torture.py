"""Every durable operation of every mutating command, failed (EIO, ENOSPC, EDQUOT, EROFS) or cut by a power loss.

After each crash point: fsck passes, every ref holds its old or its new value,
every revision a ref names exports byte for byte, and the same command run again
succeeds with no manual cleanup. ``make test`` tries every 7th point
(``CASSTORE_TORTURE_STRIDE``); ``make torture`` tries them all and prints the counts.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from torture import count_operations, points, run_point

from casstore.crashreport import import_crash_report, write_crash_report
from casstore.history.gc import gc
from casstore.history.revisions import resolve
from casstore.importer import import_bundle
from casstore.storage import parallel
from casstore.storage.refs import ref_name
from casstore.storage.store import Store
from casstore.workdir.autosave import autosave
from casstore.workdir.recover import restore
from casstore.workdir.worktree import checkout

# Every crash point / fuzz case: the slow tier (make quick leaves it out; make test runs it).
pytestmark = pytest.mark.slow

KINDS = ("error", "power")
PINNED = "2026-06-01T12:00:00Z"


@pytest.fixture(autouse=True)
def _deterministic(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One worker thread and a pinned clock: crash point N is the same operation in every run."""
    monkeypatch.setenv("CASSTORE_THREADS", "1")
    monkeypatch.setenv("CASSTORE_NOW", PINNED)
    # Checkout and restore make their files durable with one syncfs wherever it is sure (ext4,
    # XFS...): the model is tried on that path on any machine (test_write_paths tries the other).
    monkeypatch.setenv("CASSTORE_SYNCFS", "1")
    saved = dict(parallel._pools)
    parallel._pools.clear()
    yield
    parallel._pools.clear()
    parallel._pools.update(saved)


def _edit(work: Path, tag: str) -> None:
    verse = work / "patterns" / "verse.json"
    verse.write_bytes(verse.read_bytes().split(b"\n// ")[0] + f"\n// {tag}\n".encode())


Scenario = tuple[Callable[[Path, Path], None], Callable[[Path], object]]


def _scenarios(demo: Path, outside: Path) -> dict[str, Scenario]:
    def empty(case: Path, _demo: Path) -> None:
        Store.init(case / "store")

    def imported(case: Path, demo: Path) -> None:
        store = Store.init(case / "store")
        import_bundle(store, demo / "demo_bundle")

    def with_autosaves(case: Path, demo: Path) -> None:
        imported(case, demo)
        store = Store.open(case / "store")
        work = case / "work"
        checkout(store, store.refs.read(ref_name("demo-project", "heads", "main")) or "", work)
        for index in range(5):
            _edit(work, f"take {index}")
            os.environ["CASSTORE_NOW"] = f"2026-06-01T11:0{index}:00Z"
            autosave(store, work, mutation_id=f"m{index}", keep=5)
        os.environ["CASSTORE_NOW"] = PINNED
        _edit(work, "the take the test saves")

    def with_garbage(case: Path, demo: Path) -> None:
        imported(case, demo)
        store = Store.open(case / "store")
        import_bundle(store, demo / "demo_bundle_rev2", branch="draft")
        oid = store.refs.read(ref_name("demo-project", "heads", "draft"))
        store.refs.compare_and_swap(ref_name("demo-project", "heads", "draft"), oid, None, "test", PINNED)

    def checked_out_rev1(case: Path, demo: Path) -> None:
        imported(case, demo)
        store = Store.open(case / "store")
        import_bundle(store, demo / "demo_bundle_rev2")
        checkout(store, resolve(store, "demo-project~1"), case / "work")

    def head_of(case: Path) -> str:
        store = Store.open(case / "store")
        return resolve(store, "demo-project")

    report = outside / "crash.zip"
    if not report.exists():
        source = outside / "report-source"
        with_autosaves(source, demo)
        write_crash_report(Store.open(source / "store"), "demo-project", report)

    return {
        "import into a new project": (empty, lambda c: import_bundle(Store.open(c / "store"), demo / "demo_bundle")),
        "import over a head": (imported, lambda c: import_bundle(Store.open(c / "store"), demo / "demo_bundle_rev2")),
        "autosave with pruning": (with_autosaves, lambda c: autosave(Store.open(c / "store"), c / "work", keep=5)),
        "gc": (with_garbage, lambda c: gc(Store.open(c / "store"), timedelta(0))),
        "checkout": (checked_out_rev1, lambda c: checkout(Store.open(c / "store"), head_of(c), c / "work")),
        "recover --restore": (
            with_autosaves,
            lambda c: restore(Store.open(c / "store"), "demo-project", "latest", c / "work"),
        ),
        "crash-report import": (empty, lambda c: import_crash_report(Store.open(c / "store"), report)),
    }


SCENARIOS = (
    "import into a new project",
    "import over a head",
    "autosave with pruning",
    "gc",
    "checkout",
    "recover --restore",
    "crash-report import",
)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_crash_point_leaves_a_sound_store(
    scenario: str, kind: str, demo_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    prepare, command = _scenarios(demo_data, outside)[scenario]
    template = tmp_path_factory.mktemp("template")
    prepare(template, demo_data)
    scratch = tmp_path_factory.mktemp("scratch")
    operations, refs_before, refs_after = count_operations(template, command, scratch)
    total = len(operations)
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(Counter(operations).items()))
    assert {"create", "fsync", "rename"} <= set(operations)
    failures = []
    # For power cuts, one more point: right after the command finished.
    chosen = points(total) + ([total + 1] if kind == "power" else [])
    for point in chosen:
        outcome = run_point(template, command, kind, point, refs_before, refs_after, scratch)
        if outcome.problems:
            failures.append(f"point {point} ({outcome.op}): " + "; ".join(outcome.problems[:3]))
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"torture: {scenario}, {kind}: {len(chosen)} of {total} crash points ({kinds}), {len(failures)} failed")
    assert not failures, "\n".join(failures[:10])
