"""One contract, every backend (the pattern of restic's internal/backend/test): files, refs, reflogs, leases."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casstore.errors import RefConflict, RefLocked
from casstore.storage.backend import Backend, StoredFileMissing
from casstore.storage.backend_local import LocalBackend
from casstore.storage.backend_memory import MemoryBackend
from casstore.storage.store import Store
from s3_servers import (  # noqa: F401 - fixtures
    S3Server,
    fixture_aws_test_env,
    fixture_moto_server,
    fixture_seaweedfs_server,
    unique_prefix,
)


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["local", "memory", "s3", "s3-seaweedfs"])
def backend_and_clock(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Backend, FakeClock]]:
    clock = FakeClock()
    if request.param == "local":
        store = Store.init(tmp_path / "store")
        yield LocalBackend(store.root, clock=clock), clock
    elif request.param.startswith("s3"):  # moto or SeaweedFS on 127.0.0.1, a fresh prefix per test
        from casstore.storage.backend_s3 import S3Backend

        fixture = "seaweedfs_server" if request.param == "s3-seaweedfs" else "moto_server"
        server: S3Server = request.getfixturevalue(fixture)
        yield S3Backend(server.url(unique_prefix("contract")), endpoint=server.endpoint, clock=clock), clock
    else:
        yield MemoryBackend(clock=clock), clock


@pytest.fixture()
def backend(backend_and_clock: tuple[Backend, FakeClock]) -> Backend:
    return backend_and_clock[0]


def oid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def line(text: str) -> bytes:
    return f"{text}\n".encode()


# Files ---------------------------------------------------------------------------------------


def test_put_if_absent_stores_once_and_never_overwrites(backend: Backend) -> None:
    assert backend.put_if_absent("objects/ab/cdef", b"first") is True
    assert backend.put_if_absent("objects/ab/cdef", b"second") is False
    assert backend.get("objects/ab/cdef") == b"first"
    assert backend.has("objects/ab/cdef") and not backend.has("objects/ab/cdeg")


def test_a_missing_key_is_a_named_error(backend: Backend) -> None:
    for read in (lambda: backend.get("packs/nope.pack"), lambda: backend.stat("packs/nope.pack")):
        with pytest.raises(StoredFileMissing, match=re.escape("packs/nope.pack")):
            read()
    with pytest.raises(StoredFileMissing):
        backend.get_range("packs/nope.pack", 0, 10)


def test_a_staged_file_is_invisible_until_published_then_stored_once(backend: Backend) -> None:
    staged = backend.stage("obj")
    staged.write(b"kick ")
    staged.write(memoryview(b"drum"))
    assert staged.tell() == 9
    assert backend.list("objects/") == []
    assert staged.publish("objects/ki/ck") is True
    backend.sync()
    assert backend.get("objects/ki/ck") == b"kick drum"
    second = backend.stage("obj")
    second.write(b"other bytes")
    assert second.publish("objects/ki/ck") is False  # the first writer's content stays
    assert backend.get("objects/ki/ck") == b"kick drum"
    assert not [key for key in backend.list("") if key.startswith("tmp/")]  # no temp file left


def test_a_discarded_staged_file_leaves_nothing(backend: Backend) -> None:
    before = backend.list("")
    staged = backend.stage("pack")
    staged.write(b"half a pack")
    staged.discard()
    staged.discard()
    assert backend.list("") == before


def test_an_open_reader_streams_and_outlives_a_delete(backend: Backend) -> None:
    content = bytes(range(256)) * 64
    backend.put_if_absent("packs/pack-1.pack", content)
    with backend.open_reader("packs/pack-1.pack") as reader:
        assert reader.read(10) == content[:10]
        backend.delete("packs/pack-1.pack")  # a gc in another process
        reader.seek(1000)
        assert reader.read() == content[1000:]
    with pytest.raises(StoredFileMissing):
        backend.open_reader("packs/pack-1.pack")


def test_put_replaces_and_is_read_back(backend: Backend) -> None:
    backend.put("cache/dirs/abc", b"old")
    backend.put("cache/dirs/abc", b"new and longer")
    assert backend.get("cache/dirs/abc") == b"new and longer"
    assert backend.stat("cache/dirs/abc").size == len(b"new and longer")


def test_get_range_reads_inside_and_stops_at_the_end(backend: Backend) -> None:
    backend.put_if_absent("packs/p.pack", bytes(range(100)))
    assert backend.get_range("packs/p.pack", 10, 5) == bytes(range(10, 15))
    assert backend.get_range("packs/p.pack", 95, 50) == bytes(range(95, 100))
    assert backend.get_range("packs/p.pack", 200, 5) == b""


def test_list_gives_exactly_the_keys_under_a_prefix_sorted(backend: Backend) -> None:
    keys = ["objects/ab/0001", "objects/ab/0002", "objects/cd/0003", "packs/pack-1.idx", "packs/pack-1.pack"]
    for key in reversed(keys):
        backend.put_if_absent(key, key.encode())
    assert backend.list("objects/") == keys[:3]
    assert backend.list("objects/ab/") == keys[:2]
    assert backend.list("packs/pack-1.") == keys[3:]
    assert backend.list("nothing/") == []


def test_delete_is_idempotent_and_stat_tells_size_and_age(
    backend_and_clock: tuple[Backend, FakeClock],
) -> None:
    backend, clock = backend_and_clock
    backend.put_if_absent("objects/ab/0001", b"12345")
    written = backend.stat("objects/ab/0001")
    assert written.size == 5
    clock.now += 3600
    backend.touch("objects/ab/0001")
    assert backend.stat("objects/ab/0001").modified - written.modified == pytest.approx(3600, abs=2)
    backend.delete("objects/ab/0001")
    backend.delete("objects/ab/0001")
    assert not backend.has("objects/ab/0001")


@settings(max_examples=25, deadline=None)
@given(content=st.binary(max_size=4096), offset=st.integers(0, 5000), length=st.integers(0, 5000))
def test_any_content_round_trips_and_any_range_is_a_slice(content: bytes, offset: int, length: int) -> None:
    backend = MemoryBackend()
    backend.put_if_absent("k", content)
    assert backend.get("k") == content
    assert backend.get_range("k", offset, length) == content[offset : offset + length]


# Refs ----------------------------------------------------------------------------------------


def test_a_ref_is_created_moved_and_deleted_only_from_the_version_read(backend: Backend) -> None:
    name = "demo/heads/main"
    assert backend.read_ref(name) == (None, None)
    first = backend.compare_and_swap(name, None, oid("one"), line("create"))
    assert backend.read_ref(name) == (oid("one"), first)
    with pytest.raises(RefConflict):
        backend.compare_and_swap(name, None, oid("two"), line("create again"))
    second = backend.compare_and_swap(name, first, oid("two"), line("move"))
    with pytest.raises(RefConflict, match="moved while this command ran"):
        backend.compare_and_swap(name, first, oid("three"), line("stale"))
    assert backend.read_ref(name) == (oid("two"), second)
    assert backend.compare_and_swap(name, second, None, line("delete")) is None
    assert backend.read_ref(name) == (None, None)
    assert backend.read_log(name) == line("create") + line("move") + line("delete")


def test_list_refs_and_logs(backend: Backend) -> None:
    for name in ("demo/heads/main", "demo/tags/v1", "other/heads/main"):
        backend.compare_and_swap(name, None, oid(name), line(name))
    assert backend.list_refs() == {n: oid(n) for n in ("demo/heads/main", "demo/tags/v1", "other/heads/main")}
    assert list(backend.list_refs("demo/")) == ["demo/heads/main", "demo/tags/v1"]
    assert backend.list_logs() == ["demo/heads/main", "demo/tags/v1", "other/heads/main"]
    assert backend.read_log("nobody/heads/main") == b""


def test_racing_writers_lose_no_update(backend: Backend) -> None:
    name = "race/heads/main"
    values = [oid(str(n)) for n in range(161)]
    backend.compare_and_swap(name, None, values[0], line("start"))
    moved = []

    def writer() -> None:
        for _ in range(20):
            while True:
                value, version = backend.read_ref(name)
                nxt = values[values.index(value) + 1]
                try:
                    backend.compare_and_swap(name, version, nxt, line(nxt))
                except (RefConflict, RefLocked):
                    continue
                moved.append(nxt)
                break

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.read_ref(name)[0] == values[160]
    assert sorted(moved) == sorted(values[1:])
    assert backend.read_log(name).count(b"\n") == 161


# Leases --------------------------------------------------------------------------------------


def test_a_lease_excludes_others_until_released(backend: Backend) -> None:
    lease = backend.acquire("gc", 60, "gc on host a")
    with pytest.raises(RefLocked, match="gc on host a"):
        backend.acquire("gc", 60, "gc on host b")
    lease.release()
    backend.acquire("gc", 60, "gc on host b").release()


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_clobber_the_new(
    backend_and_clock: tuple[Backend, FakeClock],
) -> None:
    backend, clock = backend_and_clock
    old = backend.acquire("gc", 60, "slow gc")
    clock.now += 30
    old.refresh(60)  # held while refreshed
    clock.now += 59
    with pytest.raises(RefLocked):
        backend.acquire("gc", 60, "eager gc")
    clock.now += 2  # past the refreshed expiry
    new = backend.acquire("gc", 60, "second gc")
    with pytest.raises(RefLocked, match="lost"):
        old.refresh(60)
    old.release()  # must not remove the new holder's lease
    with pytest.raises(RefLocked, match="second gc"):
        backend.acquire("gc", 60, "third gc")
    new.release()
