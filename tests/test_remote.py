"""Push, fetch, pull and clone between stores through a remote held in memory (the S3 races are in test_remote_s3).

The remote is a :class:`MemoryBackend`: the same backend contract as S3, so these tests
pin the sync logic (what is sent, what is checked, which refs move) fast; the S3 tests
add the server's conditional writes, faults and concurrency.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from remote_helpers import URL, MemoryRemotes, make_store, remote_of, save, unique_text

from casstore.actions import import_bundle
from casstore.bundles.exporter import export_revision
from casstore.errors import CasstoreError, RefConflict, UsageError
from casstore.history.revisions import resolve
from casstore.remote.fetch import RemoteCorrupt, clone, fetch, pull
from casstore.remote.push import push
from casstore.remote.remotes import (
    Diverged,
    FetchFirst,
    add_remote,
    get_remote,
    list_remotes,
    ls_remote,
    remove_remote,
    tracking_ref,
)
from casstore.storage.packs import list_packs, pack_key
from casstore.storage.store import Store

# Configuration -----------------------------------------------------------------------------------


def test_remote_add_records_url_endpoint_and_region_but_no_credentials(tmp_path: Path, remotes: MemoryRemotes) -> None:
    store = make_store(tmp_path / "s")
    add_remote(store, "studio", "s3://studio/team-a/", "http://127.0.0.1:8333/", "eu-west-1", connect=remotes)
    config = json.loads((store.root / "casstore.json").read_text())
    assert config["remotes"] == {
        "studio": {"url": "s3://studio/team-a", "endpoint": "http://127.0.0.1:8333", "region": "eu-west-1"}
    }
    assert config["format"] == "casstore"  # the rest of the configuration is kept
    assert [spec.name for spec in list_remotes(Store.open(store.root))] == ["studio"]
    assert get_remote(store).name == "studio"  # the only remote is the default


@pytest.mark.parametrize(
    ("name", "url", "message"),
    [
        ("bad.name", URL, "invalid remote name"),
        ("ok", "https://studio/x", "not an S3 URL"),
        ("ok", "s3://A_bucket/x", "not an S3 bucket name"),
    ],
)
def test_remote_add_refuses_bad_names_and_urls_and_changes_nothing(
    tmp_path: Path, remotes: MemoryRemotes, name: str, url: str, message: str
) -> None:
    store = make_store(tmp_path / "s")
    before = (store.root / "casstore.json").read_bytes()
    with pytest.raises(UsageError, match=message):
        add_remote(store, name, url, connect=remotes)
    assert (store.root / "casstore.json").read_bytes() == before
    assert remotes.opened == []  # refused before any request


def test_remote_add_twice_is_refused_and_remove_drops_tracking_refs(ana: Store, remotes: MemoryRemotes) -> None:
    with pytest.raises(UsageError, match="already exists"):
        add_remote(ana, "origin", "s3://other/x", connect=remotes)
    save(ana, "song", unique_text("v1"))
    push(ana, remote_of(ana, remotes))
    fetch(ana, remote_of(ana, remotes))
    assert ana.refs.read(tracking_ref("song", "origin", "main")) is not None
    assert remove_remote(ana, "origin", "2026-01-01T00:00:00Z") == ["song/remotes/origin.main"]
    assert list_remotes(ana) == [] and ana.refs.read("song/remotes/origin.main") is None
    assert ana.refs.read("song/heads/main") is not None  # the project's own branch stays


# Push ------------------------------------------------------------------------------------------------


def test_push_sends_one_pack_then_only_what_the_remote_lacks(ana: Store, remotes: MemoryRemotes) -> None:
    first = save(ana, "song", unique_text("v1"))
    result = push(ana, remote_of(ana, remotes))
    assert [(u.ref, u.status) for u in result.updates] == [("song/heads/main", "created")]
    assert result.objects_sent == 3 and result.pack is not None  # commit, tree, blob
    backend = remotes.backend(URL)
    assert list_packs(backend) == [result.pack]
    assert ls_remote(remote_of(ana, remotes)) == {"song/heads/main": first}

    second = save(ana, "song", unique_text("v2"))
    again = push(ana, remote_of(ana, remotes))
    assert again.objects_sent == 3 and [(u.old, u.new, u.status) for u in again.updates] == [
        (first, second, "fast-forward")
    ]
    assert len(list_packs(backend)) == 2
    nothing = push(ana, remote_of(ana, remotes))
    assert nothing.objects_sent == 0 and nothing.pack is None
    assert [u.status for u in nothing.updates] == ["up-to-date"]
    assert len(list_packs(backend)) == 2


def test_push_of_a_project_or_a_ref_sends_only_that(ana: Store, remotes: MemoryRemotes) -> None:
    save(ana, "song", unique_text("s"))
    save(ana, "other", unique_text("o"))
    save(ana, "song", unique_text("b"), branch="idea")
    assert [u.ref for u in push(ana, remote_of(ana, remotes), ["song/heads/idea"]).updates] == ["song/heads/idea"]
    assert sorted(u.ref for u in push(ana, remote_of(ana, remotes), ["song"]).updates) == [
        "song/heads/idea",
        "song/heads/main",
    ]
    assert "other/heads/main" not in ls_remote(remote_of(ana, remotes))
    with pytest.raises(UsageError, match="no project or ref"):
        push(ana, remote_of(ana, remotes), ["nope"])
    with pytest.raises(UsageError, match="only heads, tags and autosaves"):
        push(ana, remote_of(ana, remotes), ["song/checkpoints/x"])


def test_a_push_that_is_not_a_fast_forward_is_refused_before_sending_anything(
    tmp_path: Path, ana: Store, remotes: MemoryRemotes
) -> None:
    save(ana, "song", unique_text("base"))
    push(ana, remote_of(ana, remotes))
    bo = clone(URL, tmp_path / "bo", connect=remotes).store
    theirs = save(bo, "song", unique_text("bo's take"))
    push(bo, remote_of(bo, remotes))
    mine = save(ana, "song", unique_text("ana's take"))
    packs_before = list_packs(remotes.backend(URL))

    with pytest.raises(FetchFirst, match="fetch first") as refused:
        push(ana, remote_of(ana, remotes))
    assert refused.value.exit_code == 1
    assert list_packs(remotes.backend(URL)) == packs_before  # nothing uploaded
    assert ls_remote(remote_of(ana, remotes))["song/heads/main"] == theirs

    forced = push(ana, remote_of(ana, remotes), force=True)
    assert [(u.old, u.new, u.status) for u in forced.updates] == [(theirs, mine, "forced")]


def test_the_force_lease_loses_to_a_change_made_after_it_read_the_ref(
    tmp_path: Path, ana: Store, remotes: MemoryRemotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import casstore.remote.push as remote_push

    save(ana, "song", unique_text("base"))
    push(ana, remote_of(ana, remotes))
    bo = clone(URL, tmp_path / "bo", connect=remotes).store
    save(ana, "song", unique_text("ana"))
    upload = remote_push._upload

    def upload_while_bo_pushes(*args: object) -> object:
        sent = upload(*args)  # type: ignore[arg-type]
        monkeypatch.setattr(remote_push, "_upload", upload)  # bo's own push uploads plainly
        save(bo, "song", unique_text("bo, meanwhile"))
        push(bo, remote_of(bo, remotes))
        return sent

    monkeypatch.setattr(remote_push, "_upload", upload_while_bo_pushes)
    with pytest.raises(FetchFirst, match="moved on the remote while this push ran"):
        push(ana, remote_of(ana, remotes), force=True)
    assert ls_remote(remote_of(ana, remotes))["song/heads/main"] == bo.refs.read("song/heads/main")


class Killed(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it)."""


def test_a_push_killed_between_its_upload_and_its_ref_move_resends_nothing(
    ana: Store, remotes: MemoryRemotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import casstore.remote.push as remote_push

    save(ana, "song", unique_text("v1"))
    push(ana, remote_of(ana, remotes))
    head = save(ana, "song", unique_text("v2"))
    moved = remote_push._move_refs

    def die(*_args: object) -> None:
        raise Killed

    monkeypatch.setattr(remote_push, "_move_refs", die)
    with pytest.raises(Killed):
        push(ana, remote_of(ana, remotes))
    assert len(list_packs(remotes.backend(URL))) == 2  # the pack is there, the ref is not moved
    assert ls_remote(remote_of(ana, remotes))["song/heads/main"] != head

    monkeypatch.setattr(remote_push, "_move_refs", moved)
    again = push(ana, remote_of(ana, remotes))
    assert again.objects_sent == 0 and again.pack is None
    assert ls_remote(remote_of(ana, remotes))["song/heads/main"] == head


def test_pushed_autosaves_keep_the_newest_five_on_the_remote(ana: Store, remotes: MemoryRemotes) -> None:
    names = [f"20260101-1200{second:02d}-m{second}" for second in range(7)]
    for second, name in enumerate(names):
        save(ana, "song", unique_text(name), branch=name, kind="autosave", namespace="autosave",
             created_at=f"2026-01-01T12:00:{second:02d}Z")  # fmt: skip
    result = push(ana, remote_of(ana, remotes))
    assert sorted(u.ref for u in result.updates if u.status == "pruned") == [f"song/autosave/{n}" for n in names[:2]]
    assert sorted(ls_remote(remote_of(ana, remotes))) == [f"song/autosave/{n}" for n in names[2:]]


# Fetch, pull, clone -----------------------------------------------------------------------------------


def test_fetch_tracks_branches_adds_tags_and_keeps_a_local_tag_that_differs(
    tmp_path: Path, ana: Store, remotes: MemoryRemotes
) -> None:
    head = save(ana, "song", unique_text("v1"))
    save(ana, "song", unique_text("t"), branch="v1", namespace="tags")
    save(ana, "song", unique_text("t2"), branch="v2", namespace="tags")
    push(ana, remote_of(ana, remotes))
    bo = make_store(tmp_path / "bo")
    add_remote(bo, "origin", URL, connect=remotes)
    mine = save(bo, "song", unique_text("bo's v2"), branch="v2", namespace="tags")
    result = fetch(bo, remote_of(bo, remotes))
    statuses = {u.ref: u.status for u in result.updates}
    assert statuses == {"song/remotes/origin.main": "created", "song/tags/v1": "created", "song/tags/v2": "kept"}
    assert bo.refs.read("song/remotes/origin.main") == head and bo.refs.read("song/tags/v2") == mine
    assert bo.refs.read("song/heads/main") is None  # fetch moves no branch of the user's
    assert result.packs and result.objects_received >= 3
    assert fetch(bo, remote_of(bo, remotes)).packs == []  # nothing new: nothing downloaded


def test_pull_fast_forwards_and_reports_a_diverged_branch_without_moving_it(
    tmp_path: Path, ana: Store, remotes: MemoryRemotes
) -> None:
    save(ana, "song", unique_text("base"))
    push(ana, remote_of(ana, remotes))
    bo = clone(URL, tmp_path / "bo", connect=remotes).store
    newer = save(ana, "song", unique_text("ana v2"))
    push(ana, remote_of(ana, remotes))
    pulled = pull(bo, remote_of(bo, remotes))
    assert [(u.ref, u.status) for u in pulled.updates] == [("song/heads/main", "fast-forward")]
    assert bo.refs.read("song/heads/main") == newer

    save(ana, "song", unique_text("ana v3"))
    push(ana, remote_of(ana, remotes))
    local = save(bo, "song", unique_text("bo v3"))
    diverged = pull(bo, remote_of(bo, remotes))
    assert [u.status for u in diverged.diverged] == ["diverged"]
    assert bo.refs.read("song/heads/main") == local
    assert Diverged.exit_code == 1


def test_clone_exports_byte_for_byte_what_was_pushed(
    tmp_path: Path, demo_data: Path, remotes: MemoryRemotes, ana: Store
) -> None:
    import_bundle(ana, demo_data / "demo_bundle")
    import_bundle(ana, demo_data / "demo_bundle_rev2")
    push(ana, remote_of(ana, remotes))
    made = clone(URL, tmp_path / "copy", connect=remotes)
    assert made.refs == ana.refs.list("demo-project", "heads")
    for rev in ("demo-project", "demo-project~1"):
        export_revision(ana, resolve(ana, rev), tmp_path / f"a-{rev}")
        export_revision(made.store, resolve(made.store, rev), tmp_path / f"b-{rev}")
        a = sorted(p.relative_to(tmp_path / f"a-{rev}") for p in (tmp_path / f"a-{rev}").rglob("*"))
        b = sorted(p.relative_to(tmp_path / f"b-{rev}") for p in (tmp_path / f"b-{rev}").rglob("*"))
        assert a == b and a
        for path in a:
            if (tmp_path / f"a-{rev}" / path).is_file():
                assert (tmp_path / f"a-{rev}" / path).read_bytes() == (tmp_path / f"b-{rev}" / path).read_bytes()
    assert get_remote(made.store).url == URL


def test_clone_of_an_empty_remote_fails_and_leaves_no_store(tmp_path: Path, remotes: MemoryRemotes) -> None:
    with pytest.raises(CasstoreError, match="nothing was pushed there"):
        clone(URL, tmp_path / "copy", connect=remotes)
    assert not (tmp_path / "copy").exists()
    (tmp_path / "empty").mkdir()  # a directory the user made for it stays, empty
    with pytest.raises(CasstoreError, match="nothing was pushed there"):
        clone(URL, tmp_path / "empty", connect=remotes)
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())


def _flip(backend: object, key: str, at: int) -> None:
    raw = bytearray(backend.get(key))  # type: ignore[attr-defined]
    raw[at] ^= 0x01
    backend.delete(key)  # type: ignore[attr-defined]
    backend.put(key, bytes(raw))  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["pack trailer", "object, trailer recomputed", "index"])
def test_a_corrupted_remote_pack_fails_the_fetch_and_moves_no_ref(
    tmp_path: Path, ana: Store, remotes: MemoryRemotes, where: str
) -> None:
    from blake3 import blake3

    save(ana, "song", unique_text("the take " * 50))
    pushed = push(ana, remote_of(ana, remotes))
    backend = remotes.backend(URL)
    key = pack_key(str(pushed.pack))
    if where == "pack trailer":
        _flip(backend, key, -1)
    elif where == "index":
        _flip(backend, key.replace(".pack", ".idx"), 20)
    else:  # a bit flipped inside an object, the pack's digest made to match: only SHA-256 can tell
        raw = bytearray(backend.get(key))
        raw[-40] ^= 0x01
        raw[-32:] = blake3(bytes(raw[:-32])).digest()
        backend.delete(key)
        backend.put(key, bytes(raw))
    bo = make_store(tmp_path / "bo")
    add_remote(bo, "origin", URL, connect=remotes)
    expected = {"index": "idx: BLAKE3", "pack trailer": "pack: BLAKE3", "object, trailer recomputed": "is corrupt"}
    with pytest.raises(RemoteCorrupt, match="nothing fetched") as failed:
        fetch(bo, remote_of(bo, remotes))
    assert failed.value.exit_code == 1 and expected[where] in str(failed.value)
    assert bo.refs.list() == {} and list_packs(bo.backend) == []


def test_a_ref_moved_locally_during_a_fetch_is_a_conflict_not_an_overwrite(
    ana: Store, remotes: MemoryRemotes, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(ana, "song", unique_text("v1"))
    push(ana, remote_of(ana, remotes))
    fetch(ana, remote_of(ana, remotes))
    save(ana, "song", unique_text("v2"))
    push(ana, remote_of(ana, remotes))
    real = ana.refs.compare_and_swap

    def racing(name: str, old: str | None, new: str | None, why: str, when: str) -> None:
        if name.endswith("origin.main"):
            raise RefConflict(f"ref {name} moved while this command ran")
        real(name, old, new, why, when)

    monkeypatch.setattr(ana.refs, "compare_and_swap", racing)
    with pytest.raises(RefConflict):
        fetch(ana, remote_of(ana, remotes))
