"""Autosaves, pruning, recovery, the stress harness and crash reports."""

from __future__ import annotations

import itertools
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casstore.clock import format_iso
from casstore.history.autosaves import AutosaveItem, ordered_autosaves, prune_autosaves, select_pruned
from casstore.history.commits import new_commit
from casstore.history.fsck import fsck
from casstore.storage.store import Store
from casstore.workdir.autosave import AutosaveResult
from casstore.workdir.watch import Watcher
from conftest import ROOT, Cli

STRESS_ITERATIONS = int(os.environ.get("CASSTORE_STRESS_ITERATIONS", "1000"))
CONCURRENT_ROUNDS = int(os.environ.get("CASSTORE_STRESS_CONCURRENT", "25"))
KILL_RUNS = int(os.environ.get("CASSTORE_KILL_RUNS", "20"))
MARKER = ".casstore-checkout.json"


def _same(a: Path, b: Path) -> bool:
    return subprocess.run(["diff", "-r", "-x", MARKER, str(a), str(b)], capture_output=True).returncode == 0


def _autosave_refs(store_path: Path, project: str) -> dict[str, str]:
    return Store.open(store_path).refs.list(project, "autosave")


def test_stress_harness_twelve_iterations(cli: Cli) -> None:
    summary = json.loads(
        cli.ok(
            "stress-autosave",
            "--project-id",
            "demo",
            "--iterations",
            "12",
            "--interval-seconds",
            "0.5",
            "--asset-count",
            "5",
        ).out
    )
    assert summary["autosaves_written"] == 12 and summary["pruned"] == 7
    refs = _autosave_refs(cli.store, "demo")
    assert len(refs) == 5 and sorted(r.rsplit("/", 1)[1] for r in refs) == sorted(summary["retained"])
    latest = summary["latest_prompt"]
    assert latest["ref"].endswith(summary["retained"][-1]) and latest["asset_count"] == 5
    assert latest["prompt"] == f"Autosaved demo at {summary['retained'][-1][:15]}"
    points = json.loads(cli.ok("recover", "demo", "--json").out)
    assert [p["ref"].rsplit("/", 1)[1] for p in points] == list(reversed(summary["retained"]))
    assert points[0]["prompt"] == latest["prompt"] and points[0]["manifest_sha256"] == latest["manifest_sha256"]
    assert cli("fsck").code == 0


@pytest.mark.slow
def test_stress_harness_many_iterations_keeps_the_store_bounded(cli: Cli) -> None:
    summary = json.loads(
        cli.ok(
            "stress-autosave",
            "--project-id",
            "long",
            "--iterations",
            str(STRESS_ITERATIONS),
            "--interval-seconds",
            "0.5",
        ).out
    )
    assert len(_autosave_refs(cli.store, "long")) == 5
    assert summary["pruned"] == summary["autosaves_written"] - 5
    # Every autosave adds a commit; everything else repeats and is stored once.
    assert summary["objects_stored"] - summary["autosaves_written"] < 400
    print(f"{STRESS_ITERATIONS} iterations in {summary['wall_seconds']} s")


def _mutate(work: Path, tag: str) -> bytes:
    verse = work / "patterns" / "verse.json"
    content = verse.read_bytes().split(b"\n// ")[0] + f"\n// {tag}\n".encode()
    verse.write_bytes(content)
    return content


@pytest.mark.slow
def test_four_concurrent_autosave_processes(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    expected: dict[str, bytes] = {}
    errors: list[str] = []

    def writer(proc: int) -> None:
        work = tmp_path / f"w{proc}"
        shutil.copytree(demo_data / "demo_bundle", work)
        for round_ in range(CONCURRENT_ROUNDS):
            tag = f"p{proc}-{round_}"
            expected[tag] = _mutate(work, tag)
            result = cli("autosave", work, "--project", "demo-project", "--mutation-id", tag, "--json")
            if result.code != 0:
                errors.append(result.err)

    threads = [threading.Thread(target=writer, args=(p,)) for p in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    refs = _autosave_refs(cli.store, "demo-project")
    assert len(refs) == 5
    for ref in refs:
        tag = ref.rsplit("-", 2)[-2] + "-" + ref.rsplit("-", 1)[-1].split(".")[0]
        out = tmp_path / f"export-{tag}"
        cli.ok("export", ref, out)
        assert (out / "patterns" / "verse.json").read_bytes() == expected[tag]
        (out / "patterns" / "verse.json").write_bytes(
            (demo_data / "demo_bundle" / "patterns" / "verse.json").read_bytes()
        )
        assert _same(demo_data / "demo_bundle", out)
    assert cli("fsck").code == 0


@pytest.mark.slow
def test_sigkill_during_autosave_and_pruning(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    keep = 3
    work = tmp_path / "work"
    shutil.copytree(demo_data / "demo_bundle", work)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "porcelain", "--store", str(cli.store), "autosave", str(work), "--keep", str(keep)]
    for index in range(keep):
        _mutate(work, f"seed{index}")
        subprocess.run([*argv, "--mutation-id", f"seed{index}"], env=env, check=True, capture_output=True)
    started = time.monotonic()
    _mutate(work, "timing")
    subprocess.run([*argv, "--mutation-id", "timing"], env=env, check=True, capture_output=True)
    duration = time.monotonic() - started
    rng = random.Random(11)
    store = Store.open(cli.store)
    for run in range(KILL_RUNS):
        before = store.refs.list("demo-project", "autosave")
        oldest = ordered_autosaves(store, "demo-project")[0][0]
        _mutate(work, f"kill{run}")
        proc = subprocess.Popen(
            [*argv, "--mutation-id", f"kill{run}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.3, 1.1) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        report = fsck(store)
        assert report.ok, [f.as_json() for f in report.findings if f.is_error]
        after = store.refs.list("demo-project", "autosave")
        assert len(after) <= keep, f"run {run}: {sorted(after)}"
        lost = set(before) - set(after)
        assert lost <= {oldest}, f"run {run}: lost {lost}"


def test_checkpoints_before_import_checkout_and_recover(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    second = json.loads(cli.ok("import", demo_data / "demo_bundle_rev2", "--json").out)
    assert second["checkpoint"].endswith("-import")
    cli.ok("export", second["checkpoint"], tmp_path / "before-import")
    assert _same(demo_data / "demo_bundle", tmp_path / "before-import")

    work = tmp_path / "work"
    cli.ok("checkout", "demo-project", work)
    edited = _mutate(work, "unsaved")
    cli.ok("autosave", work, "--mutation-id", "a1")
    _mutate(work, "unsaved again")
    forced = json.loads(cli.ok("checkout", "demo-project~1", work, "--force", "--json").out)
    cli.ok("export", forced["checkpoint"], tmp_path / "before-checkout")
    assert (tmp_path / "before-checkout" / "patterns" / "verse.json").read_bytes().endswith(b"// unsaved again\n")

    _mutate(work, "before recover")
    restored = json.loads(cli.ok("recover", "demo-project", "--restore", "latest", "--into", work, "--json").out)
    assert restored["restored"].endswith("-a1") and restored["checkpoint"].endswith("-recover")
    assert (work / "patterns" / "verse.json").read_bytes() == edited
    cli.ok("export", restored["checkpoint"], tmp_path / "before-recover")
    assert (tmp_path / "before-recover" / "patterns" / "verse.json").read_bytes().endswith(b"// before recover\n")
    kinds = {p["kind"] for p in json.loads(cli.ok("recover", "demo-project", "--json").out)}
    assert kinds == {"autosave", "checkpoint"}


def test_a_restored_autosave_outlives_the_autosave_ring(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    """The issue's repro: restore, plain checkout of the head, three autosaves: what was restored survives."""
    cli.ok("import", demo_data / "demo_bundle")
    work = tmp_path / "work"
    cli.ok("checkout", "demo-project", work)
    chosen = _mutate(work, "the take the musician wants back")
    cli.ok("autosave", work, "--mutation-id", "chosen", "--keep", "3")
    shutil.rmtree(work)  # the crash: the working directory is gone, only the autosave has it

    restored = json.loads(cli.ok("recover", "demo-project", "--restore", "latest", "--into", work, "--json").out)
    assert (work / "patterns" / "verse.json").read_bytes() == chosen
    plain = json.loads(cli.ok("checkout", "demo-project", work, "--json").out)
    assert plain["checkpoint"] is None  # the restored files are in the store, so checkout saves nothing
    for n in range(3):
        _mutate(work, f"later edit {n}")
        cli.ok("autosave", work, "--mutation-id", f"later{n}", "--keep", "3")
    assert not any(ref.endswith("-chosen") for ref in _autosave_refs(cli.store, "demo-project"))
    cli.ok("gc", "--grace", "0")

    points = json.loads(cli.ok("recover", "demo-project", "--json").out)
    holding = []
    for n, point in enumerate(points):
        out = tmp_path / f"point{n}"
        cli.ok("export", point["ref"], out)
        if (out / "patterns" / "verse.json").read_bytes() == chosen:
            holding.append(point)
    assert len(holding) == 1, "recover must still list what the musician restored"
    assert holding[0]["ref"] == restored["kept"]
    assert holding[0]["kind"] == "checkpoint" and holding[0]["ref"].endswith("-restored")
    assert restored["restored"] in holding[0]["prompt"]
    listing = cli.ok("recover", "demo-project").out
    assert f"restored {restored['restored']}" in listing
    assert cli.ok("fsck").code == 0


def test_restoring_the_same_point_twice_keeps_one_checkpoint(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    work = tmp_path / "work"
    cli.ok("checkout", "demo-project", work)
    _mutate(work, "keep me")
    cli.ok("autosave", work, "--mutation-id", "m1")
    first = json.loads(cli.ok("recover", "demo-project", "--restore", "latest", "--into", work, "--json").out)
    again = json.loads(cli.ok("recover", "demo-project", "--restore", "latest", "--into", work, "--json").out)
    assert first["kept"] == again["kept"]
    kept = [p for p in json.loads(cli.ok("recover", "demo-project", "--json").out) if p["ref"].endswith("-restored")]
    assert len(kept) == 1


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        (None, "has no project_manifest.json"),
        (b"{ broken", "project_manifest.json: invalid JSON"),
        (b"[1, 2]", "project_manifest.json: the manifest must be a JSON object"),
    ],
)
def test_show_an_autosave_without_a_usable_manifest(
    cli: Cli, tmp_path: Path, manifest: bytes | None, problem: str
) -> None:
    work = tmp_path / "sketch"
    (work / "patterns").mkdir(parents=True)
    (work / "patterns" / "idea.json").write_text('{"steps": []}\n')
    if manifest is not None:
        (work / "project_manifest.json").write_bytes(manifest)
    cli.ok("autosave", work, "--project", "sketch")
    shown = cli("show", "sketch/autosave/latest")
    assert shown.code == 0, shown.err
    assert problem in shown.out and "patterns/idea.json" in shown.out and "error" not in shown.err
    record = json.loads(cli.ok("show", "sketch/autosave/latest", "--json").out)
    assert record["kind"] == "autosave" and record["manifest"] is None and problem in record["manifest_error"]
    assert "patterns/idea.json" in {e["path"] for e in record["entries"]}


def test_show_an_autosave_with_a_partly_readable_manifest(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(demo_data / "demo_bundle", work)
    manifest = json.loads((work / "project_manifest.json").read_text())
    manifest["patterns"].append("not an entry")
    (work / "project_manifest.json").write_text(json.dumps(manifest))
    cli.ok("autosave", work)
    shown = cli("show", "demo-project/autosave/latest")
    assert shown.code == 0, shown.err
    assert "verse" in shown.out and "choir_pad_soft.wav" in shown.out
    index = len(manifest["patterns"]) - 1
    assert f"project_manifest.json: patterns[{index}]: not an object, left out" in shown.err


def test_show_and_the_viewer_render_a_damaged_manifest_the_same_way(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    from casstore.api import revision_lines

    work = tmp_path / "work"
    shutil.copytree(demo_data / "demo_bundle", work)
    manifest = json.loads((work / "project_manifest.json").read_text())
    # Entries a strict reader refuses: no id, a path that is not text, a level that is not a number.
    manifest["patterns"].append({"path": ["not", "a", "path"], "length_steps": "many"})
    manifest["mixer_snapshots"].append({"snapshot_type": None})
    manifest["sampler_assets"][0]["lufs_lu"] = "loud"
    (work / "project_manifest.json").write_text(json.dumps(manifest))
    cli.ok("autosave", work)
    shown = cli("show", "demo-project/autosave/latest")
    assert shown.code == 0 and "Traceback" not in shown.err, shown.err
    assert "patterns[" in shown.err and "no pattern_id, path and sha256 to follow" in shown.err
    store = Store.open(cli.store)
    viewer = revision_lines(store, store.refs.list("demo-project", "autosave").popitem()[1])
    assert viewer[0][1] and "autosave" in viewer[0][0]
    # One rendering: every line the viewer draws that is not a sample's level is a line of `show`.
    printed = shown.out.splitlines()
    drawn = [text for text, _heading in viewer[1:]]
    assert [t for t in drawn if "(manifest" not in t] == [t for t in printed[4:] if "measured" not in t]
    assert "  None                 many steps, None filled  ['not', 'a', 'path']" in drawn


def test_the_viewer_shows_the_files_of_an_autosave_without_a_manifest(cli: Cli, tmp_path: Path) -> None:
    from casstore.api import revision_lines

    work = tmp_path / "sketch"
    (work / "patterns").mkdir(parents=True)
    (work / "patterns" / "idea.json").write_text('{"steps": []}\n')
    cli.ok("autosave", work, "--project", "sketch")
    store = Store.open(cli.store)
    commit = store.refs.read(next(iter(store.refs.list("sketch", "autosave"))))
    assert commit is not None
    lines = revision_lines(store, commit)
    assert ("Project sketch — this autosave has no project_manifest.json", True) in lines
    assert any(text.startswith("  patterns/idea.json  ") for text, _heading in lines)


def test_autosave_never_refuses_and_reports_mismatches(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(demo_data / "demo_bundle", work)
    _mutate(work, "drift")
    (work / "assets" / "kick_room.wav").unlink()
    result = json.loads(cli.ok("autosave", work, "--json").out)
    problems = {m["path"]: m["problem"] for m in result["manifest_mismatches"]}
    assert "SHA-256 differs" in problems["patterns/verse.json"]
    assert problems["assets/kick_room.wav"] == "listed file is missing"
    assert result["ref"].startswith("demo-project/autosave/") and "-auto-" in result["ref"]
    again = json.loads(cli.ok("autosave", work, "--json").out)
    assert again["unchanged"] is True and again["objects"]["new"] == 0
    (work / "project_manifest.json").write_text("{ broken")
    broken = json.loads(cli.ok("autosave", work, "--project", "demo-project", "--json").out)
    assert broken["unchanged"] is False and "invalid JSON" in broken["manifest_error"]


def test_watch_saves_an_edit_once_it_settles_and_idle_costs_nothing(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(demo_data / "demo_bundle", work)
    store = Store.open(cli.store)
    now = [0.0]
    saved: list[tuple[float, AutosaveResult]] = []
    # What happens at each moment of the fake clock: an edit at 3 s, then nothing until 20 s.
    script = {3.0: lambda: _mutate(work, "watched edit")}

    def sleep(seconds: float) -> None:
        now[0] = round(now[0] + seconds, 3)
        if now[0] in script:
            script.pop(now[0])()

    watcher = Watcher(
        store,
        work,
        None,
        5,
        interval=2.0,
        debounce=0.3,
        on_autosave=lambda result: saved.append((now[0], result)),
        poll=0.25,
        clock=lambda: now[0],
        sleep=sleep,
    )
    objects_after_edit: list[int] = []

    def should_stop() -> bool:
        if len(saved) == 2 and not objects_after_edit:
            objects_after_edit.append(len(list(store.objects.iter_ids())))
        return now[0] >= 20.0

    watcher.run(should_stop)
    changed = [(when, result) for when, result in saved if not result.unchanged]
    assert len(changed) == 2, "the first autosave, then the edit: and nothing while idle"
    assert changed[1][1].ref != changed[0][1].ref
    # The edit at 3.0 s settled after the 0.3 s debounce: saved at the first poll past 3.3 s.
    assert changed[0][0] == 0.0 and 3.3 <= changed[1][0] < 3.6
    assert len(list(store.objects.iter_ids())) == objects_after_edit[0]
    assert len(_autosave_refs(cli.store, "demo-project")) == 2


def test_watch_saves_a_long_burst_every_interval_and_once_more_when_it_settles(
    cli: Cli, demo_data: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    shutil.copytree(demo_data / "demo_bundle", work)
    store = Store.open(cli.store)
    now = [0.0]
    times: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] = round(now[0] + seconds, 3)
        if 3.0 <= now[0] <= 9.0:  # the musician keeps editing, every poll, for six seconds
            _mutate(work, f"edit at {now[0]}")

    def on_autosave(result: AutosaveResult) -> None:
        if not result.unchanged:
            times.append(now[0])

    watcher = Watcher(
        store, work, None, 50, interval=2.0, debounce=0.3, on_autosave=on_autosave, clock=lambda: now[0], sleep=sleep
    )
    watcher.run(lambda: now[0] >= 15.0)
    assert times[0] == 0.0
    during = times[1:-1]
    assert during and during[0] >= 5.0, "not before an interval of editing has passed"
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(during)), times
    assert 9.3 <= times[-1] < 9.6, "once more when the burst settled"


def test_watch_runs_as_a_command_and_stops_cleanly_on_sigterm(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(demo_data / "demo_bundle", work)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "porcelain", "--store", str(cli.store), "autosave", str(work)]
    proc = subprocess.Popen(
        [*argv, "--watch", "--interval", "2", "--debounce", "0.3", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        first = json.loads(lines.get(timeout=60))  # generous: only how soon it starts, never how it times
        assert first["unchanged"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, proc.stderr.read()
    assert cli("fsck").code == 0
    assert len(_autosave_refs(cli.store, "demo-project")) >= 1


def test_crash_report_round_trip(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    cli.ok("import", demo_data / "demo_bundle", "--into", work)
    for tag in ("one", "two"):
        _mutate(work, tag)
        cli.ok("autosave", work, "--mutation-id", tag)
    report = tmp_path / "crash.zip"
    cli.ok("crash-report", "demo-project", "--out", report)
    fresh = Cli(tmp_path / "fresh", tmp_path)
    fresh.ok("init", tmp_path / "fresh")
    imported = json.loads(fresh.ok("import", report, "--json").out)
    assert imported["crash_report"] is True and len(imported["refs"]) == 2
    here = [p["ref"] for p in json.loads(cli.ok("recover", "demo-project", "--json").out)]
    there = [p["ref"] for p in json.loads(fresh.ok("recover", "demo-project", "--json").out)]
    assert here == there
    fresh.ok("recover", "demo-project", "--restore", "latest", "--into", tmp_path / "replay")
    assert _same(work, tmp_path / "replay")
    assert fresh("fsck").code == 0
    again = json.loads(fresh.ok("import", report, "--json").out)
    assert again["refs"] == {} and again["objects"]["new"] == 0


def test_tampered_crash_report_is_refused(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    import zipfile

    work = tmp_path / "work"
    cli.ok("import", demo_data / "demo_bundle", "--into", work)
    _mutate(work, "x")
    cli.ok("autosave", work)
    report = tmp_path / "crash.zip"
    cli.ok("crash-report", "demo-project", "--out", report)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(report) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("objects/") and len(data) > 1000:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(info, data)
    fresh = Cli(tmp_path / "fresh", tmp_path)
    fresh.ok("init", tmp_path / "fresh")
    result = fresh("import", bad)
    assert result.code == 2 and "does not match its id" in result.err
    assert list(Store.open(tmp_path / "fresh").objects.iter_ids()) == []


stamps = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@given(
    moments=st.lists(stamps, min_size=0, max_size=30, unique=True),
    mutations=st.lists(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True), min_size=30, max_size=30),
    keep=st.integers(1, 8),
)
def test_prune_rule_keeps_exactly_the_newest_by_time(moments: list[datetime], mutations: list[str], keep: int) -> None:
    items = [
        AutosaveItem(f"{m.strftime('%Y%m%d-%H%M%S')}-{mutations[i]}", format_iso(m, precise=True))
        for i, m in enumerate(moments)
    ]
    pruned = select_pruned(items, keep)
    kept = [i for i in items if i not in pruned]
    assert len(kept) == min(keep, len(items))
    newest = sorted(items, key=lambda i: i.created_at)[-keep:] if items else []
    assert sorted(kept, key=lambda i: i.created_at) == newest


@settings(max_examples=20)
@given(count=st.integers(0, 9), keep=st.integers(1, 6), seed=st.integers(0, 1000))
def test_pruning_never_touches_other_refs(
    tmp_path_factory: pytest.TempPathFactory, count: int, keep: int, seed: int
) -> None:
    store = Store.init(tmp_path_factory.mktemp("prune") / "store")
    blob = store.objects.put_bytes(b"tree-less commit target").oid
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    others = {}
    for name in ("demo/heads/main", "demo/tags/v1", "demo/checkpoints/20260101-000000-import", "other/autosave/x"):
        commit = new_commit(blob, [], name.split("/")[0], "save", name)
        others[name] = store.objects.put_bytes(commit.encode()).oid
        store.refs.compare_and_swap(name, None, others[name], "test", "2026-01-01T00:00:00Z")
    times = sorted(start + timedelta(milliseconds=rng.randrange(10**7)) for _ in range(count))
    for index, moment in enumerate(times):
        commit = new_commit(blob, [], "demo", "autosave", "a", f"m{index}", created_at=format_iso(moment, precise=True))
        oid = store.objects.put_bytes(commit.encode()).oid
        store.refs.compare_and_swap(f"demo/autosave/{moment.strftime('%Y%m%d-%H%M%S')}-m{index}", None, oid, "t", "x")
    prune_autosaves(store, "demo", keep, "2026-01-02T00:00:00Z")
    left = store.refs.list("demo", "autosave")
    assert len(left) == min(keep, count)
    assert sorted(int(r.rsplit("-m", 1)[1]) for r in left) == list(range(count))[max(0, count - keep) :]
    for name, oid in others.items():
        assert store.refs.read(name) == oid
