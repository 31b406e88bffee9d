"""Remote gc (two phases under a lease) and ``fsck --remote``, on a remote held in memory.

The clock gc dates its marks with is injected: "a day later" is a ``now`` argument, never a
wait. The same race on SeaweedFS is in test_remote_s3.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from remote_helpers import URL, MemoryRemotes, make_store, remote_of, save, unique_text

from casstore.clock import utc_now
from casstore.errors import RefLocked
from casstore.history.fsck import fsck
from casstore.remote.fetch import clone
from casstore.remote.fsck import fsck_remote
from casstore.remote.gc import gc_remote
from casstore.remote.push import push
from casstore.remote.remotes import MARKS_PREFIX, add_remote
from casstore.storage.backend_memory import MemoryBackend
from casstore.storage.packs import index_key, list_packs, pack_key
from casstore.storage.store import Store

GRACE = timedelta(hours=24)
LONG_AGO = "2020-01-01T00:00:00Z"


def later(hours: float) -> Callable[[], datetime]:
    moment = utc_now() + timedelta(hours=hours)
    return lambda: moment


def orphan_a_pack(store: Store, remotes: MemoryRemotes) -> tuple[str, str]:
    """Push a take, then force the branch onto an unrelated take: the first pack is reached by nothing.

    The pushes are dated long ago, so the remote's reflog (kept for the grace, as local gc
    keeps it) no longer reaches the first take; the packs themselves are new.
    """
    first = save(store, "song", unique_text("first take"))
    orphan = push(store, remote_of(store, remotes), clock=lambda: LONG_AGO).pack
    store.refs.compare_and_swap("song/heads/main", first, None, "test: drop", LONG_AGO)
    save(store, "song", unique_text("another song entirely"))
    push(store, remote_of(store, remotes), force=True, clock=lambda: LONG_AGO)
    assert orphan is not None
    return orphan, first


def test_an_unreachable_pack_is_deleted_only_after_its_mark_and_a_full_grace(
    tmp_path: Path, ana: Store, remotes: MemoryRemotes
) -> None:
    orphan, _first = orphan_a_pack(ana, remotes)
    backend = remotes.backend(URL)
    remote = remote_of(ana, remotes)
    young = gc_remote(remote, GRACE)  # the pack is younger than the grace: not even marked
    assert (young.marked, young.deleted, young.young, young.reachable_packs) == ([], [], 1, 1)
    dry = gc_remote(remote, GRACE, dry_run=True, now=later(25))
    assert dry.marked == [orphan] and backend.list(MARKS_PREFIX) == []
    first = gc_remote(remote, GRACE, now=later(25))
    assert first.marked == [orphan] and first.deleted == [] and first.packs == 2 and first.reachable_packs == 1
    assert backend.list(MARKS_PREFIX) == [f"{MARKS_PREFIX}{orphan}.json"]
    waiting = gc_remote(remote, GRACE, now=later(48))  # 23 h after the mark
    assert waiting.waiting == [orphan] and waiting.deleted == [] and backend.has(pack_key(orphan))
    done = gc_remote(remote, GRACE, now=later(50))
    assert done.deleted == [orphan] and done.deleted_bytes > 0
    for key in (pack_key(orphan), index_key(orphan), f"{MARKS_PREFIX}{orphan}.json"):
        assert not backend.has(key)
    assert len(list_packs(backend)) == 1
    assert fsck_remote(remote).ok
    copy = clone(URL, tmp_path / "copy", connect=remotes).store
    assert fsck(copy, quick=False).ok


def test_a_pack_left_without_its_index_is_deleted_a_grace_after_its_mark(ana: Store, remotes: MemoryRemotes) -> None:
    orphan, _first = orphan_a_pack(ana, remotes)
    backend = remotes.backend(URL)
    remote = remote_of(ana, remotes)
    backend.delete(index_key(orphan))  # as a push killed between its pack and its index leaves it
    young = gc_remote(remote, GRACE)  # maybe a push still uploading: left alone
    assert (young.unfinished, young.young, young.marked, young.packs) == (1, 1, [], 1)
    first = gc_remote(remote, GRACE, now=later(25))
    assert first.marked == [orphan] and first.deleted == []
    assert json.loads(backend.get(f"{MARKS_PREFIX}{orphan}.json"))["unfinished"] is True
    # Unlisted and marked, yet not taken for a gc that died deleting it: a full grace first.
    waiting = gc_remote(remote, GRACE, now=later(48))
    assert waiting.waiting == [orphan] and waiting.deleted == [] and backend.has(pack_key(orphan))
    done = gc_remote(remote, GRACE, now=later(50))
    assert done.deleted == [orphan] and done.deleted_bytes > 0
    assert not backend.has(pack_key(orphan)) and backend.list(MARKS_PREFIX) == []
    assert gc_remote(remote, GRACE, now=later(75)).unfinished == 0
    assert fsck_remote(remote).ok


def test_a_push_that_completes_an_unfinished_marked_pack_takes_the_mark_off(ana: Store, remotes: MemoryRemotes) -> None:
    orphan, first = orphan_a_pack(ana, remotes)
    backend = remotes.backend(URL)
    remote = remote_of(ana, remotes)
    backend.delete(index_key(orphan))
    assert gc_remote(remote, GRACE, now=later(25)).marked == [orphan]
    ana.refs.compare_and_swap("song/heads/old", None, first, "test: keep", LONG_AGO)
    again = push(ana, remote, ["song/heads/old"])  # the same objects again: the very same pack, now whole
    assert again.pack == orphan and backend.has(index_key(orphan)) and backend.list(MARKS_PREFIX) == []
    report = gc_remote(remote, GRACE, now=later(50))
    assert report.deleted == [] and report.unfinished == 0 and report.reachable_packs == 2
    assert fsck_remote(remote).ok


def test_remote_gc_expires_the_reflog_entries_older_than_the_grace(ana: Store, remotes: MemoryRemotes) -> None:
    orphan_a_pack(ana, remotes)  # two pushes dated long ago
    remote = remote_of(ana, remotes)
    today = save(ana, "song", unique_text("today's take"))
    push(ana, remote)
    logged = remote.refs.reflog()
    old = [entry for entry in logged if entry.when == LONG_AGO]
    assert len(old) >= 2 and logged[-1].new == today
    dry = gc_remote(remote, GRACE, dry_run=True)
    assert dry.reflog_expired == len(old) and remote.refs.reflog() == logged
    report = gc_remote(remote, GRACE)
    assert report.reflog_expired == len(old) and report.as_json()["reflog_expired"] == len(old)
    assert remote.refs.reflog() == [entry for entry in logged if entry.when != LONG_AGO]
    assert remote.refs.read("song/heads/main") == today and fsck_remote(remote).ok


def test_a_push_does_not_rely_on_a_marked_pack_and_its_ref_unmarks_it(ana: Store, remotes: MemoryRemotes) -> None:
    orphan, first = orphan_a_pack(ana, remotes)
    remote = remote_of(ana, remotes)
    assert gc_remote(remote, GRACE, now=later(25)).marked == [orphan]
    ana.refs.compare_and_swap("song/heads/old", None, first, "test: keep", LONG_AGO)
    again = push(ana, remote, ["song/heads/old"])
    # The commit, its tree and its blob are all in the marked pack only: sent again. They
    # make the very same pack (same bytes, same name), so the push took its mark off.
    assert again.objects_sent == 3 and again.pack == orphan
    assert remotes.backend(URL).list(MARKS_PREFIX) == []
    report = gc_remote(remote, GRACE, now=later(50))
    assert report.deleted == [] and report.reachable_packs == 2
    on_top = save(ana, "song", unique_text("on top"), branch="old")
    assert gc_remote(remote, GRACE, now=later(75)).marked == []
    assert push(ana, remote, ["song/heads/old"]).objects_sent == 3  # only the new commit's objects
    assert remote.refs.read("song/heads/old") == on_top


def test_a_push_sends_again_what_only_a_marked_pack_holds(ana: Store, remotes: MemoryRemotes) -> None:
    orphan, first = orphan_a_pack(ana, remotes)
    remote = remote_of(ana, remotes)
    assert gc_remote(remote, GRACE, now=later(25)).marked == [orphan]
    ana.refs.compare_and_swap("song/heads/old", None, first, "test: keep", LONG_AGO)
    save(ana, "song", unique_text("on top of the first take"), branch="old")
    result = push(ana, remote, ["song/heads/old"])
    assert result.pack != orphan and result.objects_sent == 6  # the first take's 3 objects, again
    assert gc_remote(remote, GRACE, now=later(50)).deleted == [orphan]
    assert fsck_remote(remote).ok


def test_gc_between_a_push_upload_and_its_swap_cannot_leave_the_ref_without_objects(
    tmp_path: Path, ana: Store, remotes: MemoryRemotes
) -> None:
    orphan, first = orphan_a_pack(ana, remotes)
    ana.refs.compare_and_swap("song/heads/old", None, first, "test: keep", LONG_AGO)
    on_top = save(ana, "song", unique_text("on top of the first take"), branch="old")
    backend = remotes.backend(URL)
    remote = remote_of(ana, remotes)
    ran: list[list[str]] = []
    put_if_absent = backend.put_if_absent

    def gc_after_the_upload(key: str, content: bytes) -> bool:
        done = put_if_absent(key, content)
        if key.endswith(".idx") and not ran:  # the push's pack is up, its ref not moved yet
            ran.append(gc_remote(remote, GRACE, now=later(25)).marked)
            ran.append(gc_remote(remote, GRACE, now=later(50)).deleted)
        return done

    backend.put_if_absent = gc_after_the_upload  # type: ignore[method-assign]
    result = push(ana, remote, ["song/heads/old"])
    backend.put_if_absent = put_if_absent  # type: ignore[method-assign]
    assert orphan in ran[1]  # gc did delete the pack the push first relied on …
    assert remote.refs.read("song/heads/old") == on_top
    assert result.objects_sent > 2  # … so the push sent its objects again before its swap
    assert fsck_remote(remote).ok
    copy = clone(URL, tmp_path / "copy", connect=remotes).store
    assert copy.refs.read("song/heads/old") == on_top and fsck(copy, quick=False).ok


def test_a_gc_is_refused_while_another_holds_the_remote_lease(ana: Store, remotes: MemoryRemotes) -> None:
    _orphan, _first = orphan_a_pack(ana, remotes)
    remote = remote_of(ana, remotes)
    remotes.backend(URL).acquire("gc", 300, "casstore gc --remote (pid 7 on nas)")
    with pytest.raises(RefLocked, match=r"s3://studio/team-a: another gc is running on this remote: .*pid 7 on nas"):
        gc_remote(remote, GRACE, now=later(25))
    assert remotes.backend(URL).list(MARKS_PREFIX) == []


def test_a_gc_that_lost_its_lease_stops_before_deleting(ana: Store, remotes: MemoryRemotes) -> None:
    orphan, _first = orphan_a_pack(ana, remotes)
    backend = remotes.backend(URL)
    remote = remote_of(ana, remotes)
    gc_remote(remote, GRACE, now=later(25))
    seconds = [backend.clock()]
    backend.clock = lambda: seconds[0]
    listing = backend.list

    def taken_over(prefix: str) -> list[str]:
        if prefix == MARKS_PREFIX and len(seconds) == 1:  # mid-run: the lease expires, another gc takes it
            seconds.append(0)
            seconds[0] += 3600
            backend.acquire("gc", 300, "the other gc")
        return listing(prefix)

    backend.list = taken_over  # type: ignore[method-assign]
    with pytest.raises(RefLocked, match="was lost"):
        gc_remote(remote, GRACE, now=later(50))
    assert backend.has(pack_key(orphan)) and backend.has(index_key(orphan))


def _flip(backend: MemoryBackend, key: str, at: int) -> None:
    raw = bytearray(backend.get(key))
    raw[at] ^= 0x01
    backend.delete(key)
    backend.put(key, bytes(raw))


def test_fsck_remote_names_a_corrupted_pack_and_passes_a_clean_remote(ana: Store, remotes: MemoryRemotes) -> None:
    save(ana, "song", unique_text("the take " * 50))
    pushed = push(ana, remote_of(ana, remotes))
    save(ana, "song", unique_text("the second take"))
    push(ana, remote_of(ana, remotes))
    remote = remote_of(ana, remotes)
    clean = fsck_remote(remote)
    assert clean.ok and clean.refs == 1 and clean.commits == 2 and clean.objects == 6 and clean.bytes > 0
    _flip(remotes.backend(URL), pack_key(str(pushed.pack)), -1)
    damaged = fsck_remote(remote)
    assert not damaged.ok
    errors = [f for f in damaged.findings if f.is_error]
    assert [(f.kind, f.subject) for f in errors] == [("corrupt", f"{pushed.pack}.pack")]
    assert "BLAKE3 digest does not match" in errors[0].detail
    assert damaged.as_json()["errors"][0]["subject"] == f"{pushed.pack}.pack"


def test_fsck_remote_reports_a_ref_that_reaches_a_deleted_pack(ana: Store, remotes: MemoryRemotes) -> None:
    save(ana, "song", unique_text("the take"))
    pushed = push(ana, remote_of(ana, remotes))
    backend = remotes.backend(URL)
    backend.delete(index_key(str(pushed.pack)))
    report = fsck_remote(remote_of(ana, remotes))
    assert [f.kind for f in report.findings if f.is_error] == ["missing"]
    assert "ref song/heads/main" in str(report.findings[0].reached_from)


class CountingBackend(MemoryBackend):
    """A remote that counts the pack-index GETs it answers."""

    index_gets = 0

    def get(self, key: str) -> bytes:
        if key.endswith(".idx"):
            self.index_gets += 1
        return super().get(key)


def test_push_reads_only_the_indexes_of_packs_it_has_not_seen(tmp_path: Path) -> None:
    counting = CountingBackend()
    remotes = MemoryRemotes()
    remotes.backends[URL] = counting
    ana = make_store(tmp_path / "ana")
    add_remote(ana, "origin", URL, connect=remotes)
    reads = []
    for take in range(5):
        save(ana, "song", unique_text(f"take {take}"))
        before = counting.index_gets
        push(ana, remote_of(ana, remotes))
        reads.append(counting.index_gets - before)
    assert reads == [0, 1, 1, 1, 1]  # each push reads the index of the pack the one before sent
    bo = make_store(tmp_path / "bo")  # another store has cached nothing: it reads all five
    add_remote(bo, "origin", URL, connect=remotes)
    before = counting.index_gets
    assert len(remote_of(bo, remotes).packs()) == 5 and counting.index_gets - before == 5
    # A pack gone from the remote is dropped from the cache; a damaged cached index is read again.
    gone = list_packs(counting)[0]
    counting.delete(index_key(gone))
    assert len(remote_of(ana, remotes).packs()) == 4
    assert not any(gone in key for key in ana.backend.list("remotes/origin/index-cache/"))
    cached = ana.backend.list("remotes/origin/index-cache/")
    raw = bytearray(ana.backend.get(cached[0]))
    raw[-1] ^= 0x01
    ana.backend.put(cached[0], bytes(raw))
    before = counting.index_gets
    assert len(remote_of(ana, remotes).packs()) == 4 and counting.index_gets - before == 1
    assert fsck(ana, quick=False).ok  # the cache is no part of the store's objects


def test_remote_gc_and_fsck_read_commits_and_trees_from_the_local_store_when_it_has_them(
    tmp_path: Path, ana: Store, remotes: MemoryRemotes
) -> None:
    # Content-addressed: the local copy of an id is the remote's bytes, and both reads verify
    # them. A clone's walk then makes no request per commit and tree (on S3, 20-50 ms each).
    for take in range(5):
        save(ana, "song", unique_text(f"take {take}"))
        push(ana, remote_of(ana, remotes))
    backend = remotes.backend(URL)
    ranged: list[str] = []
    get_range = backend.get_range

    def counted(key: str, offset: int, length: int) -> bytes:
        ranged.append(key)
        return get_range(key, offset, length)

    backend.get_range = counted  # type: ignore[method-assign]
    reports = [gc_remote(remote_of(ana, remotes), GRACE, dry_run=True), fsck_remote(remote_of(ana, remotes))]
    assert ranged == [] and reports[1].ok and reports[1].commits == 5
    # A store that has none of it (only the remote added) walks the same history with GETs.
    bare = make_store(tmp_path / "bare")
    add_remote(bare, "origin", URL, connect=remotes)
    again = [gc_remote(remote_of(bare, remotes), GRACE, dry_run=True), fsck_remote(remote_of(bare, remotes))]
    assert len(ranged) >= 2 * 10  # 5 commits and their trees, for each of the two walks
    assert again[0].as_json() == reports[0].as_json() and again[1].as_json() == reports[1].as_json()
    # A damaged local copy is not the remote's problem: its bytes are read there instead.
    head_tree = json.loads(ana.objects.read_bytes(ana.refs.read("song/heads/main") or ""))["tree"]
    stored = ana.objects.path_for(head_tree)
    stored.chmod(0o644)
    stored.write_bytes(b"rotten")
    assert fsck_remote(remote_of(ana, remotes)).ok and not fsck(ana).ok
