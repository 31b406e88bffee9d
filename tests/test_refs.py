"""Refs move under a lock with compare-and-swap, and every move lands in the reflog."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from casstore.errors import RefConflict, RefError, RefLocked
from casstore.storage.backend_local import LocalBackend
from casstore.storage.refs import RefStore, check_component

A, B, C = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture()
def refs(tmp_path: Path) -> RefStore:
    return RefStore(LocalBackend(tmp_path, lock_timeout=0.0))  # a live lock fails at once: no waiting


def test_create_move_delete_with_reflog(refs: RefStore) -> None:
    refs.compare_and_swap("demo/heads/main", None, A, "import", "2026-01-01T00:00:00Z")
    refs.compare_and_swap("demo/heads/main", A, B, "import again", "2026-01-02T00:00:00Z")
    assert refs.read("demo/heads/main") == B
    refs.compare_and_swap("demo/heads/main", B, None, "delete", "2026-01-03T00:00:00Z")
    assert refs.read("demo/heads/main") is None
    log = refs.reflog("demo/heads/main")
    assert [(e.old, e.new, e.why) for e in log] == [(None, A, "import"), (A, B, "import again"), (B, None, "delete")]


def test_compare_and_swap_refuses_a_stale_old_value(refs: RefStore) -> None:
    refs.compare_and_swap("demo/heads/main", None, A, "first", "t")
    with pytest.raises(RefConflict, match="moved while this command ran"):
        refs.compare_and_swap("demo/heads/main", C, B, "lost update", "t")
    with pytest.raises(RefConflict):
        refs.compare_and_swap("demo/heads/main", None, B, "create over existing", "t")
    assert refs.read("demo/heads/main") == A
    assert len(refs.reflog("demo/heads/main")) == 1


def test_a_live_lock_blocks_and_a_dead_one_is_broken(refs: RefStore, tmp_path: Path) -> None:
    refs.compare_and_swap("demo/heads/main", None, A, "first", "t")
    lock = tmp_path / "refs" / "demo" / "heads" / "main.lock"
    lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")  # we are alive
    with pytest.raises(RefLocked):
        refs.compare_and_swap("demo/heads/main", A, B, "blocked", "t")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(f"{dead.stdout.strip()} {socket.gethostname()}\n")
    refs.compare_and_swap("demo/heads/main", A, B, "after a crash", "t")
    assert refs.read("demo/heads/main") == B and not lock.exists()


@pytest.mark.parametrize("bad", ["", ".hidden", "a/b", "x.lock", "a..b", "sp ace", "-dash", "é"])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(RefError):
        check_component(bad, "branch name")


def test_a_torn_reflog_line_is_skipped_and_the_next_move_is_logged_whole(refs: RefStore, tmp_path: Path) -> None:
    refs.compare_and_swap("demo/heads/main", None, A, "first", "t")
    with open(tmp_path / "logs" / "demo" / "heads" / "main", "ab") as log:
        log.write(b'{"ref": "demo/heads/ma')  # a writer killed part way through its line
    assert len(refs.reflog("demo/heads/main")) == 1
    # The next move's line must not be glued onto the torn one (both would then be skipped).
    refs.compare_and_swap("demo/heads/main", A, B, "second", "t")
    assert [e.why for e in refs.reflog("demo/heads/main")] == ["first", "second"]


def test_gc_expires_a_reflog_under_the_refs_lock_so_no_move_is_lost(refs: RefStore, tmp_path: Path) -> None:
    # gc reads a reflog, drops old lines and writes the rest back: a move logged in between
    # would vanish with the old file. The rewrite holds the ref's lock, as a move does.
    from datetime import UTC, datetime

    from casstore.history.gc import expire_reflogs

    refs.compare_and_swap("demo/heads/main", None, A, "old take", "2026-01-01T00:00:00Z")
    refs.compare_and_swap("demo/heads/main", A, B, "new take", "2026-03-01T00:00:00Z")
    writer = RefStore(LocalBackend(tmp_path, lock_timeout=0.0))  # an import in another process
    tried: list[str] = []

    def expired(line: bytes) -> bool:
        if not tried:
            with pytest.raises(RefLocked):  # the import must wait for gc's rewrite
                writer.compare_and_swap("demo/heads/main", B, C, "import", "2026-03-02T00:00:00Z")
            tried.append("blocked")
        return b"old take" in line

    backend = refs.backend
    assert backend.expire_log("demo/heads/main", expired) == 1 and tried == ["blocked"]
    writer.compare_and_swap("demo/heads/main", B, C, "import", "2026-03-02T00:00:00Z")
    assert [e.why for e in refs.reflog("demo/heads/main")] == ["new take", "import"]
    cutoff = datetime(2026, 3, 2, tzinfo=UTC)
    assert expire_reflogs(backend, cutoff, dry_run=True) == 1 and len(refs.reflog("demo/heads/main")) == 2
    assert expire_reflogs(backend, cutoff, dry_run=False) == 1
    assert [e.why for e in refs.reflog("demo/heads/main")] == ["import"]
    assert not list((tmp_path / "refs").rglob("*.lock"))
