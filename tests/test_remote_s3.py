"""Push, fetch and clone against real S3 servers on 127.0.0.1: races on SeaweedFS, faults through a proxy on moto.

Every server is started by tests/s3_servers.py, bound to the loopback address; every loop
here is bounded in count.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from remote_helpers import make_store, save

from casstore.actions import import_bundle
from casstore.bundles.exporter import export_revision
from casstore.history.commits import read_commit
from casstore.history.revisions import resolve
from casstore.remote.fetch import clone, fetch
from casstore.remote.push import push
from casstore.remote.remotes import FetchFirst, RemoteSpec, add_remote, list_remotes, ls_remote, open_remote
from casstore.storage.backend import Backend
from casstore.storage.backend_s3 import S3Backend, UnsafeRemote
from casstore.storage.backend_s3_client import RemoteError
from casstore.storage.store import Store
from s3_servers import (  # noqa: F401 - fixtures
    FaultProxy,
    S3Server,
    fixture_aws_test_env,
    fixture_moto_server,
    fixture_seaweedfs_server,
    unique_prefix,
)

PUSHERS = 8
COMMITS_EACH = 5
ATTEMPTS_PER_COMMIT = 40  # bound on fetch-first retries of one commit
RESET_TIME = "2026-01-01T00:00:00Z"


def no_wait(_seconds: float) -> None:
    """The pause between retries of a 409, taken at once (tests never wait on the clock)."""


def connector(**options: object) -> Callable[[RemoteSpec], Backend]:
    def connect(spec: RemoteSpec) -> Backend:
        return S3Backend(spec.url, spec.endpoint, spec.region, sleep=no_wait, retry_backoff=0.001, **options)  # type: ignore[arg-type]

    return connect


@pytest.fixture()
def proxy(moto_server: S3Server) -> Iterator[FaultProxy]:
    with FaultProxy(moto_server.endpoint) as running:
        yield running


def _history(store: Store, head: str) -> set[str]:
    seen, pending = {head}, [head]
    while pending:
        for parent in read_commit(store, pending.pop()).parents:
            if parent not in seen:
                seen.add(parent)
                pending.append(parent)
    return seen


def test_eight_pushers_five_commits_each_lose_no_acknowledged_commit(
    seaweedfs_server: S3Server, tmp_path: Path
) -> None:
    url = seaweedfs_server.url(unique_prefix("race"))
    connect = connector()
    seed = make_store(tmp_path / "seed")
    add_remote(seed, "origin", url, seaweedfs_server.endpoint, connect=connect)
    save(seed, "song", "the first take")
    push(seed, open_remote(seed, None, connect))

    acknowledged: list[str] = []
    refused, raced = [0], [0]
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(PUSHERS)

    def pusher(number: int) -> None:
        try:
            store = clone(url, tmp_path / f"pusher{number}", seaweedfs_server.endpoint, connect=connect).store
            remote = open_remote(store, None, connect)
            start.wait(timeout=60)
            for commit in range(COMMITS_EACH):
                for attempt in range(ATTEMPTS_PER_COMMIT):
                    oid = save(store, "song", f"pusher {number} commit {commit} attempt {attempt}")
                    try:
                        push(store, remote, ["song/heads/main"])
                    except FetchFirst as exc:
                        with lock:
                            refused[0] += 1
                            raced[0] += "while this push ran" in str(exc)  # lost at the compare-and-swap
                        # Someone else pushed first: take theirs and make this commit again on top.
                        fetch(store, remote)
                        theirs = store.refs.read("song/remotes/origin.main")
                        store.refs.compare_and_swap(
                            "song/heads/main", oid, theirs, "test: reset", "2026-01-01T00:00:00Z"
                        )
                        continue
                    with lock:
                        acknowledged.append(oid)
                    break
                else:
                    raise AssertionError(f"pusher {number}: commit {commit} not pushed in {ATTEMPTS_PER_COMMIT} tries")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            with lock:
                failures.append(f"pusher {number}: {type(exc).__name__}: {exc}")

    began = time.monotonic()
    threads = [threading.Thread(target=pusher, args=(number,)) for number in range(PUSHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.monotonic() - began
    assert not failures, failures
    assert len(acknowledged) == PUSHERS * COMMITS_EACH

    checker = clone(url, tmp_path / "checker", seaweedfs_server.endpoint, connect=connect).store
    history = _history(checker, str(checker.refs.read("song/heads/main")))
    lost = [oid for oid in acknowledged if oid not in history]
    print(
        f"\n{PUSHERS} pushers x {COMMITS_EACH} commits: {len(acknowledged)} acknowledged, {len(lost)} lost, "
        f"{refused[0]} fetch-first refusals ({raced[0]} lost at the compare-and-swap), {elapsed:.1f} s"
    )
    assert lost == []
    assert len(history) == 1 + PUSHERS * COMMITS_EACH  # the seed plus every acknowledged commit, nothing else


def test_clone_from_seaweedfs_exports_byte_for_byte(
    seaweedfs_server: S3Server, tmp_path: Path, demo_data: Path
) -> None:
    url = seaweedfs_server.url(unique_prefix("clone"))
    source = make_store(tmp_path / "source")
    add_remote(source, "origin", url, seaweedfs_server.endpoint, connect=connector())
    import_bundle(source, demo_data / "demo_bundle")
    import_bundle(source, demo_data / "demo_bundle_rev2")
    import_bundle(source, demo_data / "second_project")
    pushed = push(source, open_remote(source, None, connector()))
    copy = clone(url, tmp_path / "copy", seaweedfs_server.endpoint, connect=connector())
    assert copy.fetched.objects_received == pushed.objects_sent
    assert copy.refs == {ref: oid for ref, oid in source.refs.list().items() if "/heads/" in ref}
    for rev in ("demo-project", "demo-project~1", "second-project"):
        a, b = tmp_path / f"a-{rev}", tmp_path / f"b-{rev}"
        export_revision(source, resolve(source, rev), a)
        export_revision(copy.store, resolve(copy.store, rev), b)
        files = sorted(path.relative_to(a) for path in a.rglob("*") if path.is_file())
        assert files and files == sorted(path.relative_to(b) for path in b.rglob("*") if path.is_file())
        assert all((a / name).read_bytes() == (b / name).read_bytes() for name in files)


# Faults -------------------------------------------------------------------------------------------


def test_a_push_survives_injected_409_and_503_answers(proxy: FaultProxy, tmp_path: Path) -> None:
    url = f"s3://casstore-test/{unique_prefix('faults')}"
    store = make_store(tmp_path / "s")
    add_remote(store, "origin", url, proxy.endpoint, connect=connector())
    head = save(store, "song", "v1")
    plan = proxy.plan
    plan.fail("PUT", "/packs/", 503)  # the pack upload: obstore retries it
    plan.fail("PUT", "/refs/song/heads/main", 409, times=2)  # a conditional write in flight: casstore retries
    plan.fail("PUT", "/logs/song/heads/main", 503, forward_first=True)  # done, but the answer is lost
    result = push(store, open_remote(store, None, connector()))
    assert [(u.ref, u.status) for u in result.updates] == [("song/heads/main", "created")]
    assert [status for _method, _path, status in plan.injected] == [503, 409, 409, 503]
    assert ls_remote(open_remote(store, None, connector())) == {"song/heads/main": head}

    plan.fail("GET", "/packs/", 503)
    copy = clone(url, tmp_path / "copy", proxy.endpoint, connect=connector())
    assert copy.store.refs.read("song/heads/main") == head


def test_a_server_that_keeps_failing_gives_one_line_and_moves_no_ref(proxy: FaultProxy, tmp_path: Path) -> None:
    url = f"s3://casstore-test/{unique_prefix('down')}"
    store = make_store(tmp_path / "s")
    add_remote(store, "origin", url, proxy.endpoint, connect=connector())
    save(store, "song", "v1")
    proxy.plan.fail("PUT", "/packs/", 503, times=20)
    with pytest.raises(RemoteError) as failed:
        push(store, open_remote(store, None, connector()))
    message = str(failed.value)
    assert "\n" not in message and url in message and "503" in message
    proxy.plan.failures.clear()
    assert ls_remote(open_remote(store, None, connector())) == {}


def test_remote_add_refuses_a_server_that_ignores_conditional_writes(proxy: FaultProxy, tmp_path: Path) -> None:
    store = make_store(tmp_path / "s")
    proxy.plan.ignore_conditions = True
    before = (store.root / "casstore.json").read_bytes()
    with pytest.raises(UnsafeRemote, match="ignores conditional writes"):
        add_remote(
            store, "origin", f"s3://casstore-test/{unique_prefix('unsafe')}", proxy.endpoint, connect=connector()
        )
    assert (store.root / "casstore.json").read_bytes() == before and list_remotes(store) == []


# The command line -----------------------------------------------------------------------------------


def test_the_commands_end_to_end(moto_server: S3Server, tmp_path: Path, demo_data: Path) -> None:
    from conftest import Cli

    url = moto_server.url(unique_prefix("cli"))
    ana = Cli(tmp_path / "ana", tmp_path)
    ana.ok("init", tmp_path / "ana")
    added = json.loads(ana.ok("remote", "add", "origin", url, "--endpoint", moto_server.endpoint, "--json").out)
    assert added == {"name": "origin", "url": url, "endpoint": moto_server.endpoint, "region": None}
    assert ana.ok("remote", "list").out.startswith(f"origin\t{url} endpoint=")
    ana.ok("import", demo_data / "demo_bundle")
    pushed = json.loads(ana.ok("push", "--json").out)
    assert pushed["objects_sent"] > 0 and [u["status"] for u in pushed["updates"]] == ["created"]
    listed = json.loads(ana.ok("ls-remote", "--json").out)["refs"]
    assert list(listed) == ["demo-project/heads/main"]

    bo = Cli(tmp_path / "bo", tmp_path)
    cloned = json.loads(
        bo("clone", url, tmp_path / "bo", "--endpoint", moto_server.endpoint, "--json", store=False).out
    )
    assert cloned["refs"] == listed and cloned["objects_received"] == pushed["objects_sent"]

    ana.ok("import", demo_data / "demo_bundle_rev2")
    ana.ok("push")
    bo.ok("import", demo_data / "second_project")  # another project: no conflict
    pulled = json.loads(bo.ok("pull", "--json").out)
    assert [(b["ref"], b["status"]) for b in pulled["branches"]] == [("demo-project/heads/main", "fast-forward")]

    ana.ok("import", demo_data / "drum_bundle", "--project", "demo-project")
    ana.ok("push", "origin", "demo-project")
    bo.ok("import", demo_data / "drum_bundle_rev2", "--project", "demo-project")
    refused = bo("push")
    assert refused.code == 1 and refused.err.startswith("casstore: error: ") and "fetch first" in refused.err
    assert refused.err.count("\n") == 1 and "Traceback" not in refused.err
    diverged = bo("pull")
    assert diverged.code == 1 and "diverged" in diverged.err
    bad = bo("push", "nowhere-project")
    assert bad.code == 2 and "no project or ref" in bad.err
    unknown = bo("fetch", "upstream")
    assert unknown.code == 2 and "no remote named 'upstream'" in unknown.err
    assert bo.ok("remote", "remove", "origin").out.startswith("removed remote origin")
