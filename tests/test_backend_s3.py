"""What the S3 backend adds to the contract: its layout, the probe, retries, big files, errors a user reads.

The contract suite (tests/test_backend_contract.py) runs on moto and SeaweedFS; these tests
cover what only an object store has. Every server is on 127.0.0.1 (tests/s3_servers.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from casstore.errors import RefConflict, UsageError
from casstore.storage.backend import StoredFileMissing
from casstore.storage.backend_s3 import RemoteError, S3Backend, UnsafeRemote, parse_s3_url, probe
from s3_servers import (  # noqa: F401 - fixtures
    HOST,
    FaultProxy,
    S3Server,
    fixture_aws_test_env,
    fixture_moto_server,
    fixture_seaweedfs_server,
    free_ports,
    unique_prefix,
)

ROOT = Path(__file__).resolve().parent.parent


class Pauses:
    """A sleep that records the pauses asked for instead of waiting."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


def make_backend(server: S3Server | FaultProxy, label: str, **options: object) -> S3Backend:
    url = f"s3://casstore-test/{unique_prefix(label)}"
    options.setdefault("sleep", Pauses())
    options.setdefault("retry_backoff", 0.001)
    return S3Backend(url, endpoint=server.endpoint, **options)  # type: ignore[arg-type]


@pytest.fixture()
def proxy(moto_server: S3Server) -> Iterator[FaultProxy]:
    with FaultProxy(moto_server.endpoint) as running:
        yield running


def oid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Layout ----------------------------------------------------------------------------------------


def test_a_ref_is_a_json_body_whose_generation_survives_a_delete(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "layout", by="ana@studio")
    first = backend.compare_and_swap("demo/heads/main", None, oid("a"), b"create\n")
    second = backend.compare_and_swap("demo/heads/main", first, oid("b"), b"move\n")
    body = json.loads(backend.get("refs/demo/heads/main"))
    assert {k: body[k] for k in ("commit", "gen", "prev", "by")} == {
        "commit": oid("b"),
        "gen": 2,
        "prev": oid("a"),
        "by": "ana@studio",
    }
    assert body["at"].endswith("Z")
    backend.compare_and_swap("demo/heads/main", second, None, b"delete\n")
    assert json.loads(backend.get("refs/demo/heads/main"))["commit"] is None  # kept, so gen goes on
    assert backend.list_refs() == {}
    backend.compare_and_swap("demo/heads/main", None, oid("c"), b"again\n")
    assert json.loads(backend.get("refs/demo/heads/main"))["gen"] == 4
    assert backend.list("logs/") == [f"logs/demo/heads/main/{gen:012d}" for gen in (1, 2, 3, 4)]
    assert backend.read_log("demo/heads/main") == b"create\nmove\ndelete\nagain\n"


def test_an_old_version_never_matches_again_even_for_the_same_commit(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "aba")
    v1 = backend.compare_and_swap("demo/heads/main", None, oid("a"), b"1\n")
    v2 = backend.compare_and_swap("demo/heads/main", v1, oid("b"), b"2\n")
    v3 = backend.compare_and_swap("demo/heads/main", v2, oid("a"), b"3\n")  # back to the first commit
    assert v3 != v1
    with pytest.raises(RefConflict):
        backend.compare_and_swap("demo/heads/main", v1, oid("c"), b"stale\n")


def test_expiring_a_reflog_never_loses_a_move_logged_meanwhile(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "expire-log")
    version = None
    for n in range(4):
        version = backend.compare_and_swap("demo/heads/main", version, oid(str(n)), f"line {n}\n".encode())
    pushed: list[str | None] = []

    def expired(line: bytes) -> bool:
        if not pushed:  # a push moves the ref while gc expires its reflog
            pushed.append(backend.compare_and_swap("demo/heads/main", version, oid("4"), b"line 4\n"))
        return line in (b"line 0", b"line 1")

    assert backend.expire_log("demo/heads/main", expired) == 2
    assert backend.read_log("demo/heads/main") == b"line 2\nline 3\nline 4\n"
    assert backend.expire_log("demo/heads/main", lambda _line: True) == 3
    assert backend.read_log("demo/heads/main") == b"" and backend.list_logs() == []
    backend.compare_and_swap("demo/heads/main", pushed[0], oid("5"), b"line 5\n")  # the next entry, as ever
    assert backend.read_log("demo/heads/main") == b"line 5\n"


def test_a_released_lease_stays_as_an_expired_body_the_next_holder_takes_over(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "lease")
    backend.acquire("gc", 60, "gc on host a").release()
    body = json.loads(backend.get("locks/gc.lease"))
    assert body["owner"] == "gc on host a" and body["expires"] == 0
    lease = backend.acquire("gc", 60, "gc on host b")
    assert json.loads(backend.get("locks/gc.lease"))["owner"] == "gc on host b"
    lease.release()


# Big files, streaming ----------------------------------------------------------------------------


def test_a_staged_file_past_the_single_put_limit_goes_up_in_parts(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "multipart", single_put_limit=64 << 10)
    content = os.urandom(200 << 10)
    staged = backend.stage("pack")
    for start in range(0, len(content), 8192):
        staged.write(content[start : start + 8192])
    assert backend.list("packs/") == []  # nothing remote before publish
    assert staged.publish("packs/pack-big.pack") is True
    assert backend.get("packs/pack-big.pack") == content
    again = backend.stage("pack")
    again.write(content)
    assert again.publish("packs/pack-big.pack") is False


def test_a_large_object_is_read_in_blocks_and_a_delete_mid_read_is_a_named_error(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "reader", read_block=4096)
    content = os.urandom(50_000)
    backend.put_if_absent("packs/p.pack", content)
    with backend.open_reader("packs/p.pack") as reader:
        assert reader.read(10) == content[:10]
        reader.seek(30_000)
        assert reader.read(5000) == content[30_000:35_000]
        reader.seek(-100, os.SEEK_END)
        assert reader.read() == content[-100:]
        reader.seek(0)
        assert reader.read() == content
        reader.seek(10_000)
        backend.delete("packs/p.pack")
        with pytest.raises(StoredFileMissing, match=re.escape("packs/p.pack")):
            reader.read(4096 * 3)


def test_a_replaced_object_is_not_mixed_into_an_open_reader(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "reader-replaced", read_block=1024)
    backend.put("cache/index", b"a" * 5000)
    with backend.open_reader("cache/index") as reader:
        assert reader.read(1024) == b"a" * 1024
        backend.put("cache/index", b"b" * 5000)
        with pytest.raises(StoredFileMissing):
            reader.read(1024)


def test_an_empty_file_reads_as_empty(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "empty")
    backend.put_if_absent("objects/e3/b0c4", b"")
    assert backend.open_reader("objects/e3/b0c4").read() == b""
    assert backend.get_range("objects/e3/b0c4", 0, 10) == b""
    assert backend.stat("objects/e3/b0c4").size == 0


# The probe ---------------------------------------------------------------------------------------


def test_the_probe_accepts_servers_that_honour_conditional_writes(
    moto_server: S3Server, seaweedfs_server: S3Server
) -> None:
    for server in (moto_server, seaweedfs_server):
        backend = make_backend(server, "probe")
        probe(backend)
        assert backend.list("") == []  # the probe cleans up after itself


def test_the_probe_refuses_a_server_that_ignores_conditional_writes(proxy: FaultProxy) -> None:
    proxy.plan.ignore_conditions = True
    backend = make_backend(proxy, "probe-unsafe")
    with pytest.raises(UnsafeRemote, match=r"ignores conditional writes \(If-None-Match\): refs could be lost"):
        probe(backend)
    assert backend.list("") == []


def test_without_conditional_writes_racing_updates_would_be_lost(proxy: FaultProxy) -> None:
    # Why the probe exists: the same compare-and-swap on a server that drops If-Match.
    proxy.plan.ignore_conditions = True
    url = f"s3://casstore-test/{unique_prefix('unsafe-cas')}"
    backend, other = (S3Backend(url, endpoint=proxy.endpoint) for _ in range(2))
    base = backend.compare_and_swap("demo/heads/main", None, oid("base"), b"base\n")
    assert other.read_ref("demo/heads/main") == (oid("base"), base)  # both read the same version
    backend.compare_and_swap("demo/heads/main", base, oid("mine"), b"mine\n")
    other.compare_and_swap("demo/heads/main", base, oid("theirs"), b"theirs\n")  # should have conflicted
    assert backend.read_ref("demo/heads/main")[0] == oid("theirs")  # "mine" was acknowledged, then lost


# Retries and errors ------------------------------------------------------------------------------


def test_a_409_is_retried_with_jitter_and_succeeds(proxy: FaultProxy) -> None:
    pauses = Pauses()
    backend = make_backend(proxy, "conflict", sleep=pauses)
    proxy.plan.fail("PUT", "objects/ab", 409, times=2)
    assert backend.put_if_absent("objects/ab/cd", b"kick") is True
    assert len(pauses.asked) == 2 and all(0 <= pause <= 2.0 for pause in pauses.asked)
    assert backend.get("objects/ab/cd") == b"kick"


def test_endless_409s_give_up_after_a_bounded_number_of_tries(proxy: FaultProxy) -> None:
    backend = make_backend(proxy, "conflict-forever")
    proxy.plan.fail("PUT", "objects/ab", 409, times=50)
    with pytest.raises(RemoteError, match="put objects/ab/cd failed") as caught:
        backend.put_if_absent("objects/ab/cd", b"kick")
    assert "\n" not in str(caught.value)
    assert len(proxy.plan.injected) == 6


def test_a_503_is_retried_by_the_client(proxy: FaultProxy) -> None:
    backend = make_backend(proxy, "unavailable")
    proxy.plan.fail("PUT", "objects/ab", 503, times=2)
    proxy.plan.fail("GET", "objects/ab", 500)
    assert backend.put_if_absent("objects/ab/cd", b"snare") is True
    assert backend.get("objects/ab/cd") == b"snare"
    assert len(proxy.plan.injected) == 3


def test_a_ref_move_whose_answer_was_lost_is_recognised_as_done(proxy: FaultProxy) -> None:
    # The server moved the ref, the 200 never arrived, the client retried and got 412: not a conflict.
    backend = make_backend(proxy, "lost-answer")
    first = backend.compare_and_swap("demo/heads/main", None, oid("a"), b"create\n")
    proxy.plan.fail("PUT", "refs/demo/heads/main", 503, forward_first=True)
    second = backend.compare_and_swap("demo/heads/main", first, oid("b"), b"move\n")
    assert backend.read_ref("demo/heads/main") == (oid("b"), second)
    assert backend.read_log("demo/heads/main") == b"create\nmove\n"


def test_an_unreachable_server_is_one_line_naming_the_remote(aws_test_env: None) -> None:
    (port,) = free_ports(1)  # nothing listens there
    backend = S3Backend("s3://casstore-test/nowhere", endpoint=f"http://{HOST}:{port}", retry_backoff=0.001)
    with pytest.raises(RemoteError, match=r"^s3://casstore-test/nowhere: get refs/demo/heads/main failed") as caught:
        backend.read_ref("demo/heads/main")
    assert "\n" not in str(caught.value)


def test_wrong_credentials_are_refused_without_printing_them(
    seaweedfs_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-f00d")
    backend = make_backend(seaweedfs_server, "denied")
    with pytest.raises(RemoteError) as caught:
        backend.put_if_absent("objects/ab/cd", b"x")
    message = str(caught.value)
    assert "AWS_SECRET_ACCESS_KEY" in message and "not-the-secret-f00d" not in message
    assert "casstore-test-secret" not in message


def test_the_endpoint_given_wins_over_one_in_the_environment(
    moto_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    (port,) = free_ports(1)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{HOST}:{port}")  # obstore would prefer it to `endpoint`
    backend = make_backend(moto_server, "endpoint")
    assert backend.put_if_absent("objects/ab/cd", b"hat") is True
    assert backend.get("objects/ab/cd") == b"hat"


def test_a_missing_bucket_is_named(moto_server: S3Server) -> None:
    backend = S3Backend("s3://no-such-bucket-here/x", endpoint=moto_server.endpoint, retry_backoff=0.001)
    with pytest.raises(RemoteError, match="is there a bucket no-such-bucket-here"):
        backend.put_if_absent("objects/ab/cd", b"x")
    with pytest.raises(RemoteError, match="is there a bucket no-such-bucket-here"):
        backend.list("objects/")


def test_a_damaged_lease_body_is_taken_over(moto_server: S3Server) -> None:
    backend = make_backend(moto_server, "damaged-lease")
    backend.put("locks/gc.lease", b"{half a")
    backend.acquire("gc", 60, "gc on host a").release()


@pytest.mark.parametrize("url", ["https://bucket/x", "s3://", "s3://Upper_Case/x", "s3://ab/x"])
def test_a_bad_url_is_a_usage_error_naming_it(url: str) -> None:
    with pytest.raises(UsageError, match=r"^" + re.escape(url)):
        parse_s3_url(url)


def test_the_url_gives_bucket_and_prefix() -> None:
    assert parse_s3_url("s3://studio-projects/team/a/") == ("studio-projects", "team/a")
    assert parse_s3_url("s3://studio-projects") == ("studio-projects", "")


def test_importing_casstore_does_not_import_obstore() -> None:
    code = "import sys, casstore, casstore.storage.backend_s3, casstore.storage.store; print('obstore' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"


# Races on a real server --------------------------------------------------------------------------


def test_eight_writers_five_updates_each_lose_no_acknowledged_update_on_seaweedfs(seaweedfs_server: S3Server) -> None:
    url = seaweedfs_server.url(unique_prefix("race"))
    name = "race/heads/main"
    setup = S3Backend(url, endpoint=seaweedfs_server.endpoint)
    setup.compare_and_swap(name, None, oid("start"), b"start\n")
    acknowledged: list[str] = []
    lock = threading.Lock()
    conflicts = [0]

    def writer(number: int) -> None:
        backend = S3Backend(url, endpoint=seaweedfs_server.endpoint, by=f"writer-{number}")  # one client each
        for update in range(5):
            value = oid(f"{number}-{update}")
            for _attempt in range(400):  # bounded: 8 writers need far fewer
                _current, version = backend.read_ref(name)
                try:
                    backend.compare_and_swap(name, version, value, f"{value}\n".encode())
                except RefConflict:
                    with lock:
                        conflicts[0] += 1
                    continue
                with lock:
                    acknowledged.append(value)
                break

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(acknowledged) == 40
    # Each acknowledged update is one generation of the ref: the reflog is the chain of every one.
    logged = setup.read_log(name).decode().split()
    assert logged[0] == "start" and sorted(logged[1:]) == sorted(acknowledged)
    body = json.loads(setup.get(f"refs/{name}"))
    assert body["gen"] == 41 and body["commit"] == logged[-1]
    assert conflicts[0] > 0  # the race was real
