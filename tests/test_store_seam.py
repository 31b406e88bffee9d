"""Nothing outside the backend touches a file under the store: every byte goes through casstore/backend_local*.py.

An audit hook (``sys.addaudithook``; hooks cannot be removed, so it records only while a
test asks it to) sees every ``open``, listing, rename, removal, mkdir, utime, chmod and link
the interpreter makes. Each event whose path lies under the store root must have a frame of
the local backend (casstore/storage/backend_local.py, or its staged files in backend_local_staged.py)
on its stack; the commands run in this process through the real
command line (``casstore.porcelain.cli``) and the library. ``os.stat``, ``Path.exists`` and
``Path.is_file`` raise no audit event, so a bare existence check outside the backend would go
unseen (it reads no bytes and writes none); reads of a file already open raise none either.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import pytest
from test_packs import _many_files_bundle

from casstore.bundles.exporter import export_revision
from casstore.clock import format_iso
from casstore.history.fsck import fsck
from casstore.history.gc import gc
from casstore.importer import import_bundle
from casstore.porcelain.cli import cli as casstore_cli
from casstore.storage import backend_local, backend_local_staged
from casstore.storage.backend_memory import MemoryBackend
from casstore.storage.store import Store
from casstore.workdir.autosave import autosave
from casstore.workdir.worktree import checkout
from conftest import dirs_equal

# The events that reach a file by its path (os.replace raises "os.rename").
_EVENTS = {
    "open",
    "os.listdir",
    "os.scandir",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.utime",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.truncate",
    "shutil.rmtree",
    "tempfile.mkstemp",
    "tempfile.mkdtemp",
    "glob.glob",
}
_BACKEND_FILES = {os.path.realpath(module.__file__ or "") for module in (backend_local, backend_local_staged)}


@dataclass
class _Recorder:
    """Events under ``root`` whose stack holds no frame of the backend."""

    root: str
    outside: list[str] = field(default_factory=list)
    seen: int = 0

    def under_root(self, value: object) -> bool:
        if isinstance(value, bytes):
            value = os.fsdecode(value)
        if not isinstance(value, str | os.PathLike):
            return False
        path = os.path.abspath(os.fspath(value))
        return path == self.root or path.startswith(self.root + os.sep)

    def event(self, name: str, args: tuple[object, ...], frame: FrameType | None) -> None:
        paths = [arg for arg in args[:2] if self.under_root(arg)]
        if not paths:
            return
        self.seen += 1
        while frame is not None:
            if frame.f_code.co_filename in _BACKEND_FILES:
                return
            frame = frame.f_back
        stack = "".join(traceback.format_stack(sys._getframe(2), limit=12))
        self.outside.append(f"{name} {paths[0]}\n{stack}")


_recording: list[_Recorder] = []


def _hook(name: str, args: tuple[object, ...]) -> None:
    if _recording and name in _EVENTS:
        _recording[0].event(name, args, sys._getframe(1))


_installed: list[bool] = []


@contextlib.contextmanager
def recording(root: Path) -> Iterator[_Recorder]:
    """Record every event under ``root`` that does not come through the backend, inside the block."""
    if not _installed:
        sys.addaudithook(_hook)
        _installed.append(True)
    recorder = _Recorder(os.path.realpath(root))
    _recording.append(recorder)
    try:
        yield recorder
    finally:
        _recording.remove(recorder)


def casstore(store: Path, *args: str | os.PathLike[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the real command line in this process; return its exit code and stdout."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.delenv("CASSTORE_DIR", raising=False)
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        try:
            casstore_cli.main(["--store", str(store), *map(str, args)], prog_name="casstore")
        except SystemExit as exc:
            code = exc.code
    assert isinstance(code, int), code
    assert code in (0, 1), f"casstore {' '.join(map(str, args))} exited {code}: {err.getvalue()}"
    return code, out.getvalue()


def _assert_only_the_backend(recorder: _Recorder) -> None:
    assert recorder.seen > 0, "the hook saw nothing under the store: the test would prove nothing"
    assert not recorder.outside, "store files reached outside the backend:\n" + "\n".join(recorder.outside[:5])


def test_the_hook_catches_a_file_opened_outside_the_backend(tmp_path: Path) -> None:
    store = tmp_path / "store"
    Store.init(store)
    with recording(store) as recorder:
        (store / "casstore.json").read_bytes()
        sorted((store / "objects").iterdir())
        Store.open(store).backend.get("casstore.json")
    assert len(recorder.outside) == 2 and recorder.seen == 4  # and Store.open read casstore.json
    assert "casstore.json" in recorder.outside[0] and "objects" in recorder.outside[1]


def test_every_command_reaches_the_store_only_through_the_backend(demo_data: Path, tmp_path: Path) -> None:
    store, work, out = tmp_path / "store", tmp_path / "work", tmp_path / "out"
    packed = _many_files_bundle(tmp_path / "packed", seed=71)  # enough new objects to make a pack
    later = {"CASSTORE_NOW": format_iso(datetime.now(UTC) + timedelta(days=30))}
    with recording(store) as recorder:
        casstore(store, "init", store)
        casstore(store, "import", demo_data / "demo_bundle")
        casstore(store, "import", demo_data / "demo_bundle.zip", "--project", "zipped")
        casstore(store, "import", packed)
        rev2 = json.loads(casstore(store, "import", demo_data / "demo_bundle_rev2", "--json")[1])
        casstore(store, "log", "demo-project")
        casstore(store, "show", "demo-project~1")
        casstore(store, "diff", "demo-project~1", "demo-project", "--stat")
        casstore(store, "export", "demo-project~1", out)
        casstore(store, "export", "zipped", tmp_path / "zipped.zip", "--zip")
        casstore(store, "checkout", "demo-project", work)
        (work / "patterns" / "verse.json").write_bytes(b'{"pattern_id": "verse", "steps": [1]}\n')
        casstore(store, "status", work)
        casstore(store, "autosave", work, "--mutation-id", "m1")
        casstore(store, "autosave", work, "--mutation-id", "m2")  # unchanged: the stat cache answers
        casstore(store, "recover")
        casstore(store, "recover", "demo-project", "--restore", "latest", "--into", tmp_path / "restored")
        casstore(store, "crash-report", "demo-project", "--out", tmp_path / "crash.zip")
        casstore(store, "handoff", "demo-project", "--out", tmp_path / "handoff.md")
        casstore(store, "tag", "v1", "demo-project~1")
        casstore(store, "branch", "exp", "demo-project")
        casstore(store, "branch", "-d", "exp")
        casstore(store, "refs")
        assert casstore(store, "fsck")[0] == 0
        assert casstore(store, "fsck", "--quick")[0] == 0
        casstore(store, "gc", "--dry-run")
        casstore(store, "gc", "--grace", "0", env=later)
        casstore(store, "gc")  # with the packs gc wrote
        assert casstore(store, "fsck")[0] == 0
    _assert_only_the_backend(recorder)
    assert dirs_equal(demo_data / "demo_bundle", out)
    assert json.loads(casstore(store, "log", "--json")[1])[0]["commit"] == rev2["commit"]


def test_a_long_lived_reader_across_a_gc_reaches_the_store_only_through_the_backend(
    demo_data: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    casstore(store, "init", store)
    first = _many_files_bundle(tmp_path / "first", seed=72)
    with recording(store) as recorder:
        summary = json.loads(casstore(store, "import", first, "--json")[1])
        viewer = Store.open(store)  # as the viewer and 'autosave --watch' keep one open
        assert viewer.objects.read_bytes(summary["tree"]).startswith(b"{")
        loaded = [pack.name for pack in viewer.objects.packs]
        casstore(store, "import", _many_files_bundle(tmp_path / "second", seed=73), "--project", "other")
        casstore(store, "gc")  # two packs become one: the one the viewer loaded is gone
        assert not (store / "packs" / f"{loaded[0]}.pack").exists()
        export_revision(viewer, summary["commit"], tmp_path / "out")
    _assert_only_the_backend(recorder)
    assert dirs_equal(first, tmp_path / "out")
    shutil.rmtree(tmp_path / "out")


def test_a_store_on_the_memory_backend_does_everything_without_a_file(demo_data: Path, tmp_path: Path) -> None:
    backend = MemoryBackend()
    store = Store(tmp_path / "nowhere", backend)
    first = import_bundle(store, demo_data / "demo_bundle")
    packed_bundle = _many_files_bundle(tmp_path / "packed", seed=74)
    packed = import_bundle(store, packed_bundle)
    assert len(store.objects.packs) == 1
    work = tmp_path / "work"
    checkout(store, first.commit, work)
    (work / "patterns" / "verse.json").write_bytes(b'{"pattern_id": "verse", "steps": [2]}\n')
    saved = autosave(store, work, mutation_id="m1")
    assert autosave(store, work, mutation_id="m2").unchanged and not saved.unchanged
    assert fsck(store).ok
    report = gc(store, timedelta(0))
    assert report.pack and report.packed == len(set(store.objects.iter_ids()))
    for commit, bundle in ((first.commit, demo_data / "demo_bundle"), (packed.commit, packed_bundle)):
        export_revision(store, commit, tmp_path / "out")
        assert dirs_equal(bundle, tmp_path / "out")
        shutil.rmtree(tmp_path / "out")
    assert fsck(store).ok
    assert not (tmp_path / "nowhere").exists()
    assert {key.split("/")[0] for key in backend.list("")} == {"packs", "cache"}
