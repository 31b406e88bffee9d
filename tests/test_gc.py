"""gc removes exactly the unreachable objects past the grace, packs the rest, and loses nothing reachable."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casstore.clock import format_iso
from casstore.errors import RefLocked
from casstore.history.branches import delete_ref
from casstore.history.fsck import fsck
from casstore.history.gc import GC_LEASE_SECONDS, gc
from casstore.history.reachability import reachable
from casstore.importer import import_bundle
from casstore.storage.backend_local import LocalBackend
from casstore.storage.store import Store
from conftest import Cli, dirs_equal, snapshot_tree


def _future(days: int) -> str:
    return format_iso(datetime.now(UTC) + timedelta(days=days))


def test_gc_after_deleting_a_branch(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    main = json.loads(cli.ok("import", demo_data / "demo_bundle", "--json").out)
    cli.ok("branch", "exp", "demo-project")
    exp = json.loads(cli.ok("import", demo_data / "demo_bundle_rev2", "--branch", "exp", "--json").out)
    assert exp["checkpoint"].startswith("demo-project/checkpoints/")  # exp's old head, kept by a checkpoint
    cli.ok("branch", "-d", "exp")
    store = Store.open(cli.store)
    keep = reachable(store, set(store.refs.list().values()))
    assert main["commit"] in keep
    only_exp = set(store.objects.iter_ids()) - keep
    assert exp["commit"] in only_exp and len(only_exp) == exp["objects"]["new"]

    # Within the grace, the deleted branch's reflog still protects its objects.
    first = json.loads(cli.ok("gc", "--json").out)
    assert first["removed"]["objects"] == 0
    # An unreachable object touched recently stays (a concurrent import may be about to use it).
    young = store.objects.put_bytes(b"written by an import still running").oid
    later = (datetime.now(UTC) + timedelta(days=20)).timestamp()
    os.utime(store.objects.path_for(young), (later, later))

    before = snapshot_tree(cli.store)
    dry = cli("gc", "--grace", "2w", "--dry-run", "--json", env={"CASSTORE_NOW": _future(30)})
    assert dry.code == 0 and set(json.loads(dry.out)["removed"]["ids"]) == only_exp
    assert snapshot_tree(cli.store) == before

    result = json.loads(cli("gc", "--grace", "2w", "--json", env={"CASSTORE_NOW": _future(30)}).out)
    assert set(result["removed"]["ids"]) == only_exp
    assert result["kept_unreachable_young"] == 1
    store = Store.open(cli.store)
    assert set(store.objects.iter_ids()) == keep | {young}
    assert list(store.objects.loose.iter_ids()) == [young]  # the rest now lives in a pack
    assert cli("fsck").code == 0
    out = tmp_path / "out"
    cli.ok("export", main["commit"], out)
    assert dirs_equal(demo_data / "demo_bundle", out)


def test_byte_flip_inside_a_pack_is_found_by_quick_and_full_fsck(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    cli.ok("gc")
    assert cli("fsck", "--quick").code == 0
    pack = next((cli.store / "packs").glob("*.pack"))
    raw = bytearray(pack.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    pack.chmod(0o644)
    pack.write_bytes(bytes(raw))
    quick = cli("fsck", "--quick", "--json")
    assert quick.code == 1
    assert any(pack.name in e["subject"] for e in json.loads(quick.out)["errors"])
    full = cli("fsck", "--json")
    assert full.code == 1
    kinds = {e["kind"] for e in json.loads(full.out)["errors"]}
    assert "corrupt" in kinds


def test_gc_is_idempotent_and_reads_work_from_packs(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    cli.ok("import", demo_data / "demo_bundle_rev2")
    cli.ok("gc")
    packs = sorted(p.name for p in (cli.store / "packs").iterdir())
    second = json.loads(cli.ok("gc", "--json").out)
    assert second["pack"] is None and sorted(p.name for p in (cli.store / "packs").iterdir()) == packs
    cli.ok("export", "demo-project~1", tmp_path / "rev1")
    assert dirs_equal(demo_data / "demo_bundle", tmp_path / "rev1")
    assert json.loads(cli.ok("log", "--json").out)[0]["commit"]
    # New imports after a gc dedupe against packed objects.
    again = json.loads(cli.ok("import", demo_data / "demo_bundle", "--json").out)
    assert again["bytes"]["new"] < 2000  # only the new commit


def test_bad_grace_is_a_usage_error(cli: Cli) -> None:
    result = cli("gc", "--grace", "fortnight")
    assert result.code == 2 and "invalid duration" in result.err


def _tiny_bundle(root: Path, seed: int) -> Path:
    content = hashlib.sha256(str(seed).encode()).digest() * (1 + seed % 5)
    (root / "patterns").mkdir(parents=True)
    (root / "patterns" / "p.json").write_bytes(content)
    manifest = {
        "manifest_version": "1.0.0",
        "project": {"id": "prop", "name": "P", "bpm": 1, "swing": 0, "created_at": "x", "updated_at": "x"},
        "patterns": [
            {
                "pattern_id": "p",
                "path": "patterns/p.json",
                "sha256": hashlib.sha256(content).hexdigest(),
                "length_steps": 1,
                "step_count": 1,
            }
        ],
    }
    (root / "project_manifest.json").write_text(json.dumps(manifest))
    return root


operations = st.lists(
    st.one_of(
        st.tuples(st.just("import"), st.integers(0, 8), st.sampled_from(["main", "a", "b"])),
        st.tuples(st.just("delete"), st.sampled_from(["a", "b"])),
        st.tuples(st.just("gc"), st.sampled_from([0, 3600, 10**6])),
    ),
    max_size=12,
)


@settings(max_examples=25)
@given(ops=operations)
def test_gc_never_removes_a_reachable_object(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple]) -> None:
    work = tmp_path_factory.mktemp("gcprop")
    store = Store.init(work / "store")
    for index, op in enumerate(ops):
        if op[0] == "import":
            import_bundle(store, _tiny_bundle(work / f"b{index}", op[1]), branch=op[2])
        elif op[0] == "delete" and store.refs.read(f"prop/heads/{op[1]}"):
            delete_ref(store, "heads", f"prop/{op[1]}")
        elif op[0] == "gc":
            wanted = reachable(store, set(store.refs.list().values()))
            gc(store, timedelta(seconds=op[1]))
            for oid in wanted:
                assert store.objects.has(oid)
            report = fsck(store)
            assert report.ok, [f.as_json() for f in report.findings if f.is_error]


def _store_with_garbage(cli: Cli, demo_data: Path) -> Store:
    """A store whose deleted branch left objects that gc with no grace would drop."""
    cli.ok("import", demo_data / "demo_bundle")
    cli.ok("branch", "exp", "demo-project")
    cli.ok("import", demo_data / "demo_bundle_rev2", "--branch", "exp")
    cli.ok("branch", "-d", "exp")
    return Store.open(cli.store)


def _objects_and_packs(store: Path) -> list[str]:
    return sorted(p.relative_to(store).as_posix() for d in ("objects", "packs") for p in (store / d).rglob("*"))


def test_a_second_gc_is_refused_while_the_first_holds_the_gc_lease(cli: Cli, demo_data: Path) -> None:
    store = _store_with_garbage(cli, demo_data)
    lease = store.backend.acquire("gc", 600, "casstore gc on the studio server")
    before = _objects_and_packs(cli.store)
    refused = cli("gc", "--grace", "1d", env={"CASSTORE_NOW": _future(30)})
    assert refused.code == 2 and refused.err.count("\n") == 1
    assert "gc is held by casstore gc on the studio server" in refused.err and "Traceback" not in refused.err
    assert _objects_and_packs(cli.store) == before
    lease.release()
    done = json.loads(cli("gc", "--grace", "1d", "--json", env={"CASSTORE_NOW": _future(30)}).out)
    assert done["removed"]["objects"] > 0 and done["pack"]
    assert not (cli.store / "locks" / "gc.lease").exists()  # given back when gc ended


def test_gc_refreshes_its_lease_while_it_runs(cli: Cli, demo_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store_with_garbage(cli, demo_data)
    monkeypatch.setenv("CASSTORE_NOW", _future(30))
    refreshed: list[float] = []
    real_acquire = store.backend.acquire

    def acquire(name: str, ttl: float, owner: str) -> object:
        lease = real_acquire(name, ttl, owner)
        real_refresh = lease.refresh

        def refresh(ttl: float) -> None:
            refreshed.append(ttl)
            real_refresh(ttl)

        lease.refresh = refresh  # type: ignore[method-assign]
        return lease

    monkeypatch.setattr(store.backend, "acquire", acquire)
    ticks = iter(range(0, 10**9, 60))  # every tick a minute later: a refresh every other tick
    report = gc(store, timedelta(days=1), clock=lambda: float(next(ticks)))
    assert report.removed and len(refreshed) >= 5 and set(refreshed) == {GC_LEASE_SECONDS}
    assert fsck(store).ok
    quiet = iter([0.0] * 10**6)  # no time passes: no refresh
    refreshed.clear()
    gc(store, timedelta(days=1), clock=lambda: next(quiet))
    assert refreshed == []


def test_a_gc_that_lost_its_lease_stops_before_deleting_anything(
    cli: Cli, demo_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_with_garbage(cli, demo_data)
    monkeypatch.setenv("CASSTORE_NOW", _future(30))
    now = [1_000_000.0]
    store = Store(cli.store, LocalBackend(cli.store, clock=lambda: now[0]))
    before = _objects_and_packs(cli.store)
    elapsed = iter(range(0, 10**9, 200))

    def stalled_clock() -> float:
        """gc stalls past its lease (a suspended laptop): the lease expires and another gc takes it over."""
        tick = float(next(elapsed))
        if tick == 400:
            now[0] += 2 * GC_LEASE_SECONDS
            LocalBackend(cli.store, clock=lambda: now[0]).acquire("gc", 600, "the other gc")
        return tick

    with pytest.raises(RefLocked, match="lease gc was lost"):
        gc(store, timedelta(days=1), clock=stalled_clock)
    assert _objects_and_packs(cli.store) == before
    now[0] += 2 * 600  # the other gc's lease ran out too; this time nothing stalls
    assert gc(store, timedelta(days=1), clock=lambda: 0.0).removed
    assert _objects_and_packs(cli.store) != before
