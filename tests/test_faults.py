"""Defects a fault campaign found: a full disk, gc beside readers, damaged pack indexes, dead writers' staging."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import struct
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_packs import _many_files_bundle
from torture import FaultInjector, PowerCut

from casstore.bundles.exporter import export_revision
from casstore.history.gc import gc
from casstore.model.objects import Commit
from casstore.storage import canonical
from casstore.storage.atomic import owned_prefix
from casstore.storage.fileops import installed
from casstore.storage.ids import id_of_bytes
from casstore.storage.packs import IDX_MAGIC
from casstore.storage.store import Store
from casstore.workdir.checkpoints import checkpoint_commit, prune_checkpoints, record_checkpoint
from casstore.workdir.worktree import checkout
from conftest import Cli, dirs_equal


def _dead_pid() -> int:
    """A pid that no process has: one of a child that already exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _dead_writers_file(tmp_dir: Path, kind: str, size: int) -> Path:
    """A file in ``tmp/`` named as a writer that has since died would name it."""
    live = owned_prefix(f"{kind}-")
    dead = live.replace(f"-{os.getpid()}-", f"-{_dead_pid()}-", 1)
    path = tmp_dir / f"{dead}abc123"
    path.write_bytes(b"\0" * size)
    return path


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs: a real full disk (needs root, as CI has; skipped elsewhere)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_does_not_wedge_the_store(small_disk: Path, tmp_path: Path) -> None:
    cli = Cli(small_disk / "store", tmp_path)
    cli.ok("init", cli.store)
    # About 30 MB of mostly incompressible samples: the import's pack fills the 16 MiB disk.
    too_big = _many_files_bundle(tmp_path / "too-big", seed=21, samples=200)
    failed = cli("import", too_big)
    assert failed.code == 2, failed.err
    assert failed.err.count("\n") == 1 and "No space left on device" in failed.err
    assert "Traceback" not in failed.err
    # The failed import gave back what it staged: nothing in tmp/, the disk is usable again.
    assert list((cli.store / "tmp").iterdir()) == []
    small = _many_files_bundle(tmp_path / "small", seed=22, samples=70)
    cli.ok("import", small)
    cli.ok("gc")
    assert json.loads(cli("fsck", "--json").out)["ok"]
    cli.ok("export", "packed", tmp_path / "out")
    assert dirs_equal(small, tmp_path / "out")


def test_a_failing_flush_still_discards_the_unfinished_pack(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    writer = store.objects.new_pack()
    writer.add("ab" * 32, [b"x" * 100])  # still in the writer's buffer

    class FullDisk:
        """The pack's stream as a full disk leaves it: every flush fails."""

        def __init__(self, real: object) -> None:
            self.real = real
            self.closed = False

        def close(self) -> None:
            self.real.close()  # type: ignore[attr-defined]
            self.closed = True
            raise OSError(28, "No space left on device")

    staged = writer._staged
    staged._stream = FullDisk(staged._stream)  # type: ignore[attr-defined]
    writer.discard()
    assert list((store.root / "tmp").iterdir()) == []


def _store_with_pack(cli: Cli, tmp_path: Path, seed: int) -> tuple[Path, dict]:
    bundle = _many_files_bundle(tmp_path / f"bundle-{seed}", seed=seed)
    summary = json.loads(cli.ok("import", bundle, "--json").out)
    return bundle, summary


def test_a_long_lived_reader_survives_gc_replacing_the_pack_it_loaded(cli: Cli, tmp_path: Path) -> None:
    bundle, first = _store_with_pack(cli, tmp_path, seed=31)
    viewer = Store.open(cli.store)  # as the viewer or 'autosave --watch' hold one open
    assert len(viewer.objects.packs) == 1
    old_pack = cli.store / viewer.objects.packs[0].pack_key
    _store_with_pack(cli, tmp_path, seed=32)
    cli.ok("gc")  # two packs become one: the pack the viewer loaded is gone
    assert not old_pack.exists()
    assert viewer.objects.read_bytes(first["tree"]).startswith(b"{")
    viewer_export = tmp_path / "viewer-export"
    export_revision(viewer, first["commit"], viewer_export)
    assert dirs_equal(bundle, viewer_export)


def test_reads_keep_working_while_gc_runs_in_a_loop(cli: Cli, tmp_path: Path) -> None:
    bundles = [_store_with_pack(cli, tmp_path, seed=40 + i) for i in range(3)]
    reader = Store.open(cli.store)
    gc_store = Store.open(cli.store)
    for index in range(6):
        # Each round adds a pack, so gc writes a new one and deletes the packs the reader loaded.
        _store_with_pack(cli, tmp_path, seed=50 + index)
        gc(gc_store, timedelta(days=14))
        gc_store = Store.open(cli.store)
        for _bundle, summary in bundles:
            assert reader.objects.read_bytes(summary["tree"]).startswith(b"{")


def _flip_index_record(store: Path, field: str) -> Path:
    index = next((store / "packs").glob("pack-*.idx"))
    raw = bytearray(index.read_bytes())
    os.chmod(index, 0o644)
    record = len(IDX_MAGIC) + 8 + 3 * 48  # the fourth record
    at = record + (32 if field == "offset" else 40)
    (value,) = struct.unpack_from(">Q", raw, at)
    struct.pack_into(">Q", raw, at, value ^ (1 << 62))
    index.write_bytes(bytes(raw))
    return index


@pytest.mark.parametrize("field", ["offset", "length"])
def test_a_flipped_bit_in_a_pack_index_record_is_named_not_an_internal_error(
    cli: Cli, tmp_path: Path, field: str
) -> None:
    _store_with_pack(cli, tmp_path, seed=60)
    index = _flip_index_record(cli.store, field)
    exported = cli("export", "packed", tmp_path / "out")
    assert exported.code == 2, exported.err
    assert "internal error" not in exported.err and "Traceback" not in exported.err
    assert not (tmp_path / "out").exists()
    checked = cli("fsck")
    assert checked.code == 1
    assert index.name in checked.out + checked.err and "outside" in checked.out + checked.err


def test_the_next_write_frees_what_dead_writers_left_in_staging(cli: Cli, tmp_path: Path, bundle: Path) -> None:
    tmp_dir = cli.store / "tmp"
    dead_pack = _dead_writers_file(tmp_dir, "pack", 3_000_000)
    dead_object = _dead_writers_file(tmp_dir, "obj", 10_000)
    live = tmp_dir / f"{owned_prefix('pack-')}live"  # this test's own pid: a writer still running
    live.write_bytes(b"\0" * 1000)
    foreign = tmp_dir / "pack-123-0badc0de-elsewhere"  # another host's writer: never ours to judge
    foreign.write_bytes(b"\0" * 1000)
    cli.ok("import", bundle)
    assert not dead_pack.exists() and not dead_object.exists()
    assert live.exists() and foreign.exists()


def test_an_autosave_frees_dead_writers_staging_too(cli: Cli, tmp_path: Path, bundle: Path) -> None:
    cli.ok("import", bundle)
    work = tmp_path / "work"
    cli.ok("checkout", "demo-project", work)
    (work / "notes.txt").write_text(f"edit {random.Random(3).random()}\n")
    dead = _dead_writers_file(cli.store / "tmp", "pack", 1_000_000)
    cli.ok("autosave", work)
    assert not dead.exists()


def _crash_report(cli: Cli, bundle: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    cli.ok("import", bundle, "--into", work)
    (work / "patterns" / "verse.json").write_bytes(b'{"pattern_id": "verse", "steps": []}\n')
    cli.ok("autosave", work, "--mutation-id", "m1")
    report = tmp_path / "crash.zip"
    cli.ok("crash-report", "demo-project", "--out", report)
    return report


def _escaping_commit(blob: str, size: int) -> tuple[bytes, bytes]:
    """A tree whose only entry escapes the bundle, and a checkpoint commit of it."""
    tree = canonical.dumps(
        {
            "tree_version": 1,
            "project_id": "demo-project",
            "manifest": None,
            "entries": [{"path": "../../evil.wav", "sha256": blob, "size": size, "role": "file"}],
        }
    )
    commit = Commit(id_of_bytes(tree), (), "demo-project", "checkpoint", "crafted", "mallory", "2026-01-01T00:00:00Z")
    return tree, commit.encode()


def test_a_crash_report_whose_tree_escapes_the_bundle_is_refused_before_storing(
    cli: Cli, bundle: Path, tmp_path: Path
) -> None:
    report = _crash_report(cli, bundle, tmp_path)
    crafted = tmp_path / "crafted.zip"
    blob = b"not really a sample\n"
    tree, commit = _escaping_commit(id_of_bytes(blob), len(blob))
    with zipfile.ZipFile(report) as src, zipfile.ZipFile(crafted, "w") as dst:
        header = json.loads(src.read("casstore-crash-report.json"))
        header["refs"] = {"demo-project/checkpoints/20260101-000000-crafted": id_of_bytes(commit)}
        dst.writestr("casstore-crash-report.json", canonical.dumps(header))
        for content in (blob, tree, commit):
            dst.writestr(f"objects/{id_of_bytes(content)}", content)
    fresh = Cli(tmp_path / "fresh", tmp_path)
    fresh.ok("init", fresh.store)
    refused = fresh("import", crafted)
    assert refused.code == 2, refused.err
    assert refused.err.count("\n") == 1 and "crafted.zip" in refused.err
    assert "'../../evil.wav'" in refused.err and "escapes the bundle" in refused.err
    assert list(Store.open(fresh.store).objects.iter_ids()) == []
    assert fresh.ok("refs", "--json").out.strip() in ("[]", "{}")


def test_fsck_reports_a_stored_tree_whose_entry_escapes_the_bundle(cli: Cli, tmp_path: Path) -> None:
    store = Store.open(cli.store)
    blob = b"payload\n"
    store.objects.put_bytes(blob)
    tree, commit = _escaping_commit(id_of_bytes(blob), len(blob))
    store.objects.put_bytes(tree)
    store.objects.put_bytes(commit)
    store.objects.sync()
    store.refs.compare_and_swap("demo-project/checkpoints/20260101-000000-crafted", None, id_of_bytes(commit), "t", "")
    checked = cli("fsck")
    assert checked.code == 1
    assert id_of_bytes(tree) in checked.out and "escapes the bundle" in checked.out


@pytest.mark.parametrize("damage", ["crc", "deflate"])
def test_a_damaged_crash_report_zip_is_bad_input_not_an_internal_error(
    cli: Cli, bundle: Path, tmp_path: Path, damage: str
) -> None:
    report = _crash_report(cli, bundle, tmp_path)
    raw = bytearray(report.read_bytes())
    with zipfile.ZipFile(report) as archive:
        member = max(archive.infolist(), key=lambda info: info.compress_size)
    # The member's data starts after its local header (30 bytes + name + extra).
    name_len, extra_len = struct.unpack_from("<HH", raw, member.header_offset + 26)
    data = member.header_offset + 30 + name_len + extra_len
    if damage == "crc":
        struct.pack_into("<I", raw, member.header_offset + 14, member.CRC ^ 1)  # the local header's CRC
        central = raw.rindex(member.filename.encode()) - 46
        struct.pack_into("<I", raw, central + 16, member.CRC ^ 1)
    else:
        raw[data : data + 16] = b"\xff" * 16
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(raw))
    fresh = Cli(tmp_path / "fresh", tmp_path)
    fresh.ok("init", fresh.store)
    refused = fresh("import", damaged)
    assert refused.code == 2, refused.err
    assert refused.err.count("\n") == 1 and "damaged.zip" in refused.err and "internal error" not in refused.err
    assert list(Store.open(fresh.store).objects.iter_ids()) == []


def _checkpoints(cli: Cli) -> dict[str, str]:
    return Store.open(cli.store).refs.list("demo-project", "checkpoints")


def test_an_import_rerun_after_a_kill_reuses_its_checkpoint(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    store = Store.open(cli.store)
    head = store.refs.read("demo-project/heads/main")
    assert head is not None
    # What a kill between the checkpoint and the head move leaves behind:
    left = checkpoint_commit(store, "demo-project", head, "import")
    summary = json.loads(cli.ok("import", demo_data / "demo_bundle_rev2", "--json").out)
    assert summary["checkpoint"] == left
    assert list(_checkpoints(cli)) == [left]


def test_a_forced_checkout_rerun_after_a_kill_reuses_its_checkpoint(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    cli.ok("import", demo_data / "demo_bundle_rev2")
    work = tmp_path / "work"
    cli.ok("checkout", "demo-project", work)
    (work / "patterns" / "verse.json").write_bytes(b'{"unsaved": true}\n')
    store = Store.open(cli.store)
    before = set(_checkpoints(cli))
    state = json.loads((work / ".casstore-checkout.json").read_text())
    left = record_checkpoint(store, work, "demo-project", "checkout", state["commit"])
    cli.ok("checkout", "demo-project~1", work, "--force")
    assert set(_checkpoints(cli)) - before == {left.ref}


def _killed_midway(command: Callable[[], object], kind: str, reset: Callable[[], object] = lambda: None) -> None:
    """Run ``command`` and stop it dead after its middle ``kind`` operation, as a SIGKILL would."""
    counter = FaultInjector()
    with installed(counter):
        command()
    reset()
    chosen = [n for n, (op, _target) in enumerate(counter.log, 1) if op == kind]
    assert len(chosen) >= 2
    try:
        with installed(FaultInjector(cut_at=chosen[len(chosen) // 2] + 1)):
            command()
    except PowerCut:
        pass


def _as_if_the_process_died(root: Path) -> list[Path]:
    """Rename what this (still running) test process left so that it names a process that is gone."""
    dead = str(_dead_pid())
    renamed = []
    for path in sorted(root.rglob(f"*-{os.getpid()}-*"), key=lambda p: -len(p.parts)):
        target = path.with_name(path.name.replace(f"-{os.getpid()}-", f"-{dead}-", 1))
        path.rename(target)
        renamed.append(target)
    return renamed


def test_a_killed_checkout_leaves_nothing_that_status_autosave_or_import_take_for_the_users(
    cli: Cli, demo_data: Path, tmp_path: Path
) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    cli.ok("import", demo_data / "demo_bundle_rev2")
    work = tmp_path / "work"
    cli.ok("checkout", "demo-project~1", work)
    head = Store.open(cli.store).refs.read("demo-project/heads/main") or ""
    spare = tmp_path / "spare"
    shutil.copytree(work, spare, symlinks=True)

    def back_to_rev1() -> None:
        shutil.rmtree(work)
        shutil.copytree(spare, work, symlinks=True)

    _killed_midway(lambda: checkout(Store.open(cli.store), head, work), "create", back_to_rev1)
    leftovers = _as_if_the_process_died(work)
    assert any(p.name.endswith(".casstore-tmp") for p in leftovers), "the kill left temp files to test with"
    status = json.loads(cli.ok("status", work, "--json").out)
    assert not any("casstore-tmp" in json.dumps(v) for v in status.values())
    summary = json.loads(cli.ok("autosave", work, "--json").out)
    tree = json.loads(cli.ok("show", summary["ref"], "--json").out)["entries"]
    assert not any(".casstore-tmp" in entry["path"] for entry in tree)
    cli.ok("checkout", "demo-project", work)
    assert not [p for p in work.rglob("*") if p.name.endswith(".casstore-tmp")]


def test_a_rerun_of_a_killed_export_removes_its_partial_copy(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    store = Store.open(cli.store)
    head = store.refs.read("demo-project/heads/main") or ""
    dest = tmp_path / "exported"
    _killed_midway(lambda: export_revision(Store.open(cli.store), head, dest), "create", lambda: shutil.rmtree(dest))
    assert not dest.exists()
    partials = _as_if_the_process_died(tmp_path)
    assert [p for p in partials if p.parent == tmp_path and "partial" in p.name]
    cli.ok("export", "demo-project", dest)
    assert dirs_equal(demo_data / "demo_bundle", dest)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_pruning_skips_a_checkpoint_another_writer_holds_locked(cli: Cli, demo_data: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    store = Store.open(cli.store)
    store.backend.lock_timeout = 0.0  # a live holder fails the update at once: no waiting
    head = store.refs.read("demo-project/heads/main") or ""
    first = checkpoint_commit(store, "demo-project", head, "checkout")
    second = checkpoint_commit(store, "demo-project", head, "import")
    # Another command (alive: this test's own pid) is moving the oldest checkpoint right now.
    lock = cli.store / "refs" / Path(first + ".lock")
    lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")
    assert prune_checkpoints(store, "demo-project", 1) == []
    lock.unlink()
    assert prune_checkpoints(store, "demo-project", 1) == [first]
    assert list(store.refs.list("demo-project", "checkpoints")) == [second]
