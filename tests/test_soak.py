"""A concurrency soak: importers, autosavers, a gc loop and a long-lived reader on one store, round after round.

docs/format.md promises that any number of imports and autosaves may run alongside gc. Each
round starts every actor at once as real CLI processes, records every command's exit status
and stderr, and then checks the store: fsck passes, no ref a successful command reported is
lost, and every ref exports. ``CASSTORE_SOAK_ROUNDS`` scales it (``make soak`` runs 20).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from casstore import importer
from casstore.bundles.exporter import export_revision
from casstore.errors import CasstoreError
from casstore.history.commits import read_commit
from casstore.importer import import_bundle
from casstore.storage.object_store import PACK_MIN_OBJECTS
from casstore.storage.store import Store
from conftest import Cli, Result, dirs_equal

ROUNDS = int(os.environ.get("CASSTORE_SOAK_ROUNDS", "2"))
IMPORTERS = 3
AUTOSAVERS = 2
AUTOSAVES_PER_ROUND = 3
GC_PER_ROUND = 3
READS_PER_ROUND = 30
# Nothing the actors reuse is ever unreachable (heads only grow; pruned autosaves' edits are
# unique), so any grace is safe here; a short one lets the long soak really remove objects.
GRACE = "60s"
SHARED = "shared"


@dataclass
class Run:
    """One command an actor ran, as the soak accounts for it."""

    actor: str
    args: list[str]
    result: Result

    def describe(self) -> str:
        """Return the command and its error, for a failure message."""
        return f"[{self.actor}] casstore {' '.join(self.args)} -> {self.result.code}: {self.result.err.strip()}"


@dataclass
class Tally:
    """Every command and read of the soak, across rounds."""

    runs: list[Run] = field(default_factory=list)
    reads: int = 0
    read_failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, run: Run) -> None:
        """Keep one finished command."""
        with self.lock:
            self.runs.append(run)

    def failed(self) -> list[Run]:
        """Return the commands that did not exit 0."""
        return [run for run in self.runs if run.result.code != 0]


def _many_small_files_bundle(root: Path, seed: int, project: str) -> Path:
    """A bundle of more than 64 small new samples (so its import writes a pack) and two patterns."""
    rng = random.Random(seed)
    assets, patterns = [], []
    for index in range(PACK_MIN_OBJECTS + 4):
        rel = f"assets/s{index:03d}.wav"
        content = rng.randbytes(rng.randrange(200, 3_000))
        (root / "assets").mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
        assets.append({"asset_name": f"s{index:03d}.wav", "relative_path": rel, "sha256": _sha(content)})
    for index in range(2):
        rel = f"patterns/p{index}.json"
        content = json.dumps({"pattern_id": f"p{index}", "seed": seed}).encode()
        (root / "patterns").mkdir(exist_ok=True)
        (root / rel).write_bytes(content)
        patterns.append(
            {"pattern_id": f"p{index}", "path": rel, "sha256": _sha(content), "length_steps": 16, "step_count": 4}
        )
    stamp = "2026-01-01T00:00:00+00:00"
    manifest = {
        "manifest_version": "1.0.0",
        "project": {"id": project, "name": project, "bpm": 120.0, "swing": 0.0, "created_at": stamp},
        "patterns": patterns,
        "mixer_snapshots": [],
        "sampler_assets": assets,
    }
    manifest["project"]["updated_at"] = stamp
    (root / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_an_import_whose_branch_another_import_moved_meanwhile_commits_on_top_of_it(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.init(tmp_path / "store")
    first = import_bundle(store, demo_data / "demo_bundle", project="shared")
    other = _many_small_files_bundle(tmp_path / "other", seed=5, project="packed")
    moved: list[str] = []
    real_checkpoint = importer.checkpoint_commit

    def checkpoint_then_another_import(*args: object, **kwargs: object) -> str:
        if not moved:  # between this import's checkpoint and its ref move, another import lands
            moved.append("")
            moved[0] = import_bundle(store, other, project="shared").commit
        return real_checkpoint(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importer, "checkpoint_commit", checkpoint_then_another_import)
    done = import_bundle(store, demo_data / "demo_bundle_rev2", project="shared")
    head = read_commit(store, store.refs.read("shared/heads/main"))
    assert done.commit == store.refs.read("shared/heads/main") and done.created_commit
    assert list(head.parents) == [moved[0]] and list(read_commit(store, moved[0]).parents) == [first.commit]
    assert done.checkpoint is not None and store.refs.read(done.checkpoint) is not None
    export_revision(store, done.commit, tmp_path / "out")
    assert dirs_equal(demo_data / "demo_bundle_rev2", tmp_path / "out")


def _importer(cli: Cli, tally: Tally, index: int, bundles: list[Path]) -> Callable[[], None]:
    """Import each bundle into the importer's own project, then into the shared one."""

    def run() -> None:
        for bundle in bundles:
            for project in (f"imp{index}", SHARED):
                args = ["import", str(bundle), "--project", project, "--json"]
                tally.record(Run(f"import-{index}", args, cli(*args)))

    return run


def _autosaver(cli: Cli, tally: Tally, index: int, work: Path, round_no: int) -> Callable[[], None]:
    """Edit a pattern in the autosaver's checkout and autosave it, a few times."""

    def run() -> None:
        for step in range(AUTOSAVES_PER_ROUND):
            edit = {"pattern_id": "verse", "soak": [index, round_no, step]}
            (work / "patterns" / "verse.json").write_text(json.dumps(edit))
            args = ["autosave", str(work), "--mutation-id", f"a{index}-r{round_no}-{step}", "--json"]
            tally.record(Run(f"autosave-{index}", args, cli(*args)))

    return run


def _gc_loop(cli: Cli, tally: Tally) -> Callable[[], None]:
    def run() -> None:
        for _ in range(GC_PER_ROUND):
            args = ["gc", "--grace", GRACE, "--json"]
            tally.record(Run("gc", args, cli(*args)))

    return run


def _read_newest(reader: Store, tally: Tally, scratch: Path, turn: int) -> None:
    """Export the newest head of one project as the viewer would, from a store kept open all along."""
    try:
        heads = sorted(name for name in reader.refs.list() if "/heads/" in name)
        name = heads[turn % len(heads)]
        commit = reader.refs.read(name)
        if commit is None:
            return
        dest = scratch / f"read-{turn}"
        export_revision(reader, commit, dest)
        shutil.rmtree(dest)
    except (CasstoreError, OSError) as exc:
        tally.read_failures.append(f"reader: {type(exc).__name__}: {exc}")
    tally.reads += 1


def _ancestors(store: Store, commit: str) -> set[str]:
    seen, pending = set(), [commit]
    while pending:
        oid = pending.pop()
        if oid not in seen:
            seen.add(oid)
            pending.extend(read_commit(store, oid).parents)
    return seen


def _check_round(cli: Cli, runs: list[Run], pruned: set[str], scratch: Path) -> list[str]:
    """What is wrong with the store after a round: fsck findings, lost refs, refs that do not export."""
    problems = []
    fsck = cli("fsck", "--json")
    if fsck.code != 0:
        problems.append(f"fsck exited {fsck.code}: {fsck.out[-2000:]} {fsck.err}")
    store = Store.open(cli.store)
    refs = store.refs.list()
    history: dict[str, set[str]] = {}
    for run in runs:
        if run.result.code != 0:
            continue
        if run.args[0] == "import":
            done = json.loads(run.result.out)
            head = f"{done['project']}/heads/{done['branch']}"
            if head not in history:
                history[head] = _ancestors(store, refs[head]) if head in refs else set()
            if done["commit"] not in history[head]:
                problems.append(f"lost: {head} no longer reaches {done['commit']} that {run.describe()} made")
        elif run.args[0] == "autosave":
            done = json.loads(run.result.out)
            if refs.get(done["ref"]) != done["commit"] and done["ref"] not in pruned:
                problems.append(f"lost: autosave {done['ref']} ({done['commit']}) was never pruned but is gone")
    for name, commit in refs.items():
        dest = scratch / "check-export"
        try:
            export_revision(store, commit, dest)
        except CasstoreError as exc:
            problems.append(f"{name} does not export: {exc}")
        shutil.rmtree(dest, ignore_errors=True)
    return problems


@pytest.mark.slow
def test_importers_autosavers_gc_and_a_reader_run_together_without_a_failed_command(
    cli: Cli, demo_data: Path, tmp_path: Path
) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    works = []
    for index in range(AUTOSAVERS):
        work = tmp_path / f"work-{index}"
        cli.ok("checkout", "demo-project", work)
        works.append(work)
    reader = Store.open(cli.store)  # held open for the whole soak, as the viewer holds its store
    tally = Tally()
    pruned: set[str] = set()
    problems: list[str] = []
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for round_no in range(ROUNDS):
        start = len(tally.runs)
        round_dir = tmp_path / f"round-{round_no}"
        actors = []
        for index in range(IMPORTERS):
            # Every other round an importer brings a bundle of many new objects (a pack),
            # otherwise one of the demo revisions, which mostly reuses stored objects.
            if (round_no + index) % 2 == 0:
                bundle = _many_small_files_bundle(round_dir / f"bundle-{index}", 1000 * round_no + index, "packed")
            else:
                bundle = demo_data / ("demo_bundle" if (round_no // 2 + index) % 2 else "demo_bundle_rev2")
            actors.append(_importer(cli, tally, index, [bundle]))
        for index, work in enumerate(works):
            actors.append(_autosaver(cli, tally, index, work, round_no))
        actors.append(_gc_loop(cli, tally))
        threads = [threading.Thread(target=actor) for actor in actors]
        for thread in threads:
            thread.start()
        turn = 0
        while turn < READS_PER_ROUND and any(thread.is_alive() for thread in threads):
            _read_newest(reader, tally, scratch, turn)
            turn += 1
        for thread in threads:
            thread.join()
        round_runs = tally.runs[start:]
        for run in round_runs:
            if run.args[0] == "autosave" and run.result.code == 0:
                pruned.update(json.loads(run.result.out)["pruned"])
        for run in round_runs:
            if run.args[0] == "import" and run.result.code == 0 and "packed" in run.args[1]:
                done = json.loads(run.result.out)
                export_revision(reader, done["commit"], scratch / "same")
                if not dirs_equal(Path(run.args[1]), scratch / "same"):
                    problems.append(f"round {round_no}: {done['commit']} does not export byte for byte")
                shutil.rmtree(scratch / "same")
        problems += [f"round {round_no}: {p}" for p in _check_round(cli, round_runs, pruned, scratch)]
        shutil.rmtree(round_dir, ignore_errors=True)
    failed = tally.failed()
    by_kind: dict[str, int] = {}
    for run in tally.runs:
        by_kind[run.args[0]] = by_kind.get(run.args[0], 0) + 1
    gcs = [json.loads(run.result.out) for run in tally.runs if run.args[0] == "gc" and run.result.code == 0]
    print(
        f"\nsoak: gc replaced {sum(g['packs_replaced'] for g in gcs)} packs and removed "
        f"{sum(g['removed']['objects'] for g in gcs)} unreachable objects in {len(gcs)} runs"
    )
    print(
        f"soak: {ROUNDS} rounds, {len(tally.runs)} commands ({by_kind}), {len(failed)} failed; "
        f"{tally.reads} reads by a long-lived reader, {len(tally.read_failures)} failed; "
        f"{len(problems)} store problems"
    )
    assert not failed, "\n".join(run.describe() for run in failed)
    assert not tally.read_failures, "\n".join(tally.read_failures)
    assert not problems, "\n".join(problems)
