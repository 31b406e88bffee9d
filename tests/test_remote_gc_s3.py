"""Remote gc and ``fsck --remote`` on real S3 servers on 127.0.0.1: the push race on SeaweedFS, the commands on moto.

"A day later" is an injected time (``now`` in the library, ``CASSTORE_NOW`` for the
command line), never a wait; every server is started by tests/s3_servers.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from remote_helpers import make_store, save, unique_text

from casstore.clock import format_iso, utc_now
from casstore.history.fsck import fsck
from casstore.remote.fetch import clone
from casstore.remote.fsck import fsck_remote
from casstore.remote.gc import gc_remote
from casstore.remote.push import push
from casstore.remote.remotes import MARKS_PREFIX, Remote, RemoteSpec, add_remote, open_remote
from casstore.storage.backend import Backend
from casstore.storage.backend_s3 import S3Backend
from casstore.storage.packs import pack_files, pack_key
from casstore.storage.store import Store
from s3_servers import (  # noqa: F401 - fixtures
    S3Server,
    fixture_aws_test_env,
    fixture_moto_server,
    fixture_seaweedfs_server,
    unique_prefix,
)

GRACE = timedelta(hours=24)
LONG_AGO = "2020-01-01T00:00:00Z"


def no_wait(_seconds: float) -> None:
    """The pause between retries of a 409, taken at once."""


class PausingBackend(S3Backend):
    """An S3 backend that runs ``pause`` once right after a pack's index is up, ``kill`` once right before.

    ``pause`` runs before the push's swap; ``kill`` after the pack's bytes, before its index.
    """

    pause: Callable[[], None] | None = None
    kill: Callable[[], None] | None = None

    def put_if_absent(self, key: str, content: bytes) -> bool:
        if key.endswith(".idx") and self.kill is not None:
            kill, self.kill = self.kill, None
            kill()
        done = super().put_if_absent(key, content)
        if key.endswith(".idx") and self.pause is not None:
            pause, self.pause = self.pause, None
            pause()
        return done


def connect(spec: RemoteSpec) -> Backend:
    return PausingBackend(spec.url, spec.endpoint, spec.region, sleep=no_wait, retry_backoff=0.001)


def store_with_remote(server: S3Server, tmp_path: Path, prefix: str) -> tuple[Store, Remote, str]:
    """A new store ``ana`` whose remote ``origin`` is a fresh prefix on ``server``; its URL."""
    url = server.url(unique_prefix(prefix))
    ana = make_store(tmp_path / "ana")
    add_remote(ana, "origin", url, server.endpoint, connect=connect)
    return ana, open_remote(ana, None, connect), url


def later(hours: float) -> Callable[[], datetime]:
    moment = utc_now() + timedelta(hours=hours)
    return lambda: moment


def orphan_a_pack(store: Store, remote: Remote) -> tuple[str, str]:
    """Push a take, then force the branch onto an unrelated one (pushes dated long ago): one pack nothing reaches."""
    first = save(store, "song", unique_text("first take"))
    orphan = push(store, remote, clock=lambda: LONG_AGO).pack
    store.refs.compare_and_swap("song/heads/main", first, None, "test: drop", LONG_AGO)
    save(store, "song", unique_text("another song entirely"))
    push(store, remote, force=True, clock=lambda: LONG_AGO)
    assert orphan is not None
    return orphan, first


def test_gc_while_a_push_sits_between_its_upload_and_its_swap_on_seaweedfs(
    seaweedfs_server: S3Server, tmp_path: Path
) -> None:
    ana, remote, url = store_with_remote(seaweedfs_server, tmp_path, "gc-race")
    orphan, first = orphan_a_pack(ana, remote)
    ana.refs.compare_and_swap("song/heads/old", None, first, "test: keep", LONG_AGO)
    on_top = save(ana, "song", unique_text("on top of the first take"), branch="old")
    collector = open_remote(ana, None, connect)  # another client: the gc host
    ran: list[list[str]] = []

    def both_phases() -> None:  # a day, then two days, pass while the push waits to swap
        ran.append(gc_remote(collector, GRACE, now=later(25)).marked)
        ran.append(gc_remote(collector, GRACE, now=later(50)).deleted)

    assert isinstance(remote.backend, PausingBackend)
    remote.backend.pause = both_phases
    result = push(ana, remote, ["song/heads/old"])
    assert orphan in ran[0] and orphan in ran[1]  # the pack the push first relied on is gone …
    assert result.objects_sent == 3 + 6  # … so it sent all six objects again before its swap
    assert remote.refs.read("song/heads/old") == on_top
    assert fsck_remote(collector).ok
    copy = clone(url, tmp_path / "copy", seaweedfs_server.endpoint, connect=connect).store
    assert copy.refs.read("song/heads/old") == on_top and fsck(copy, quick=False).ok
    later_run = gc_remote(collector, GRACE, now=later(75))
    assert later_run.deleted == [] and later_run.marked == []  # everything left is reached


class Killed(BaseException):
    """The pushing process dies: nothing after this point of the push runs."""


def die() -> None:
    """Kill the pushing process here."""
    raise Killed


def test_gc_collects_the_pack_of_a_push_killed_before_its_index_on_seaweedfs(
    seaweedfs_server: S3Server, tmp_path: Path
) -> None:
    ana, remote, url = store_with_remote(seaweedfs_server, tmp_path, "gc-killed")
    save(ana, "song", unique_text("a take"))
    push(ana, remote)
    head = save(ana, "song", unique_text("the next take"))

    dying = open_remote(ana, None, connect)
    assert isinstance(dying.backend, PausingBackend)
    dying.backend.kill = die  # right after the pack's bytes are up, before its index
    with pytest.raises(Killed):
        push(ana, dying)
    (unfinished,) = [name for name, indexed in pack_files(remote.backend).items() if not indexed]  # never read
    assert remote.refs.read("song/heads/main") != head and len(remote.pack_names()) == 1
    young = gc_remote(remote, GRACE)  # it may be a push still uploading: left alone
    assert (young.unfinished, young.young, young.marked) == (1, 1, [])
    assert gc_remote(remote, GRACE, now=later(25)).marked == [unfinished]
    done = gc_remote(remote, GRACE, now=later(50))
    assert done.deleted == [unfinished] and done.deleted_bytes > 0
    assert all(pack_files(remote.backend).values()) and remote.backend.list(MARKS_PREFIX) == []
    assert remote.refs.reflog() == []  # the first push's entry is older than the grace: expired
    assert fsck_remote(remote).ok
    push(ana, remote)  # the musician pushes again: everything arrives, its move logged as ever
    assert [entry.new for entry in remote.refs.reflog()] == [head]
    copy = clone(url, tmp_path / "copy", seaweedfs_server.endpoint, connect=connect).store
    assert copy.refs.read("song/heads/main") == head and fsck(copy, quick=False).ok


def test_gc_and_fsck_remote_commands_on_moto(moto_server: S3Server, tmp_path: Path) -> None:
    from conftest import Cli

    store, remote, _url = store_with_remote(moto_server, tmp_path, "gc-cli")
    orphan, _first = orphan_a_pack(store, remote)
    cli = Cli(tmp_path / "ana", tmp_path)
    day = {"CASSTORE_NOW": format_iso(utc_now() + timedelta(hours=25))}
    two_days = {"CASSTORE_NOW": format_iso(utc_now() + timedelta(hours=50))}

    dry = json.loads(cli("gc", "--remote", "origin", "--dry-run", "--json", env=day).out)
    assert dry["grace_seconds"] == 24 * 3600  # the remote's default grace, not the store's two weeks
    assert dry["marked"] == [orphan] and remote.backend.list(MARKS_PREFIX) == []
    marked = cli("gc", "--remote", "origin", env=day)
    assert marked.code == 0 and "2 packs, 1 reachable; mark 1, unmark 0, delete 0" in marked.out
    # The two pushes' reflog entries are older than the grace: gone, last.
    assert dry["reflog_expired"] == 2 and "expire 2 reflog entries older than 24h" in marked.out
    assert remote.refs.reflog() == []

    lease = remote.backend.acquire("gc", 300, "casstore gc --remote (pid 7 on nas)")
    refused = cli("gc", "--remote", "origin", env=two_days)
    assert refused.code == 2 and refused.err.count("\n") == 1 and "Traceback" not in refused.err
    assert "another gc is running on this remote" in refused.err and "pid 7 on nas" in refused.err
    lease.release()

    deleted = json.loads(cli("gc", "--remote", "origin", "--json", env=two_days).out)
    assert deleted["deleted"]["packs"] == [orphan] and deleted["deleted"]["bytes"] > 0
    checked = cli("fsck", "--remote", "origin", "--json")
    assert checked.code == 0 and json.loads(checked.out)["ok"] is True

    (kept,) = remote.pack_names()
    raw = bytearray(remote.backend.get(pack_key(kept)))
    raw[-1] ^= 0x01
    remote.backend.delete(pack_key(kept))
    remote.backend.put(pack_key(kept), bytes(raw))
    damaged = cli("fsck", "--remote", "origin")
    assert damaged.code == 1 and f"error: corrupt {kept}.pack" in damaged.out and "fsck: 1 problem(s)" in damaged.out


def test_gc_remote_says_how_many_packs_lack_their_index_on_moto(moto_server: S3Server, tmp_path: Path) -> None:
    from conftest import Cli

    store, remote, _url = store_with_remote(moto_server, tmp_path, "gc-unfinished")
    save(store, "song", unique_text("a take"))
    push(store, remote)
    half = "pack-" + "ab" * 32
    remote.backend.put_if_absent(pack_key(half), b"the first half of a pack")  # its push was killed here
    day = {"CASSTORE_NOW": format_iso(utc_now() + timedelta(hours=25))}
    ran = Cli(tmp_path / "ana", tmp_path)("gc", "--remote", "origin", env=day)
    assert ran.code == 0 and "1 packs, 1 reachable; mark 1, unmark 0, delete 0" in ran.out
    assert "1 packs have no index (a push stopped before it): collected as unreachable" in ran.out
    assert json.loads(remote.backend.get(f"{MARKS_PREFIX}{half}.json"))["unfinished"] is True
