"""Fault injection through casstore's file-operation seam: fail the N-th durable operation, or cut the power there.

The power-cut model is the strict one of Pillai et al. (OSDI 2014): after the cut a
file holds only what was last fsynced (nothing, if it never was), and a directory
holds only the entries it had when it was last fsynced (its old entries, if it
never was). The model works on inode numbers, so renames of fsynced files and of
whole directories carry their content along.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from casstore.storage.fileops import FileOps

ERRNOS = (errno.EIO, errno.ENOSPC, errno.EDQUOT, errno.EROFS)


class PowerCut(BaseException):
    """The machine lost power: nothing after this point happens (not an Exception, so no handler 'recovers')."""


@dataclass
class Entry:
    """A directory entry as the power-cut model keeps it."""

    inode: int
    is_dir: bool
    mode: int


@dataclass
class DiskImage:
    """What the disk held under some roots: directory listings and file contents by inode."""

    listings: dict[int, dict[str, Entry]] = field(default_factory=dict)
    contents: dict[int, bytes] = field(default_factory=dict)
    roots: dict[Path, int] = field(default_factory=dict)

    @classmethod
    def read(cls, roots: list[Path]) -> DiskImage:
        """Image ``roots`` as they are now (the state before a command runs)."""
        image = cls()
        for root in roots:
            image.roots[root] = root.stat().st_ino
            image._read_dir(root)
        return image

    def _read_dir(self, directory: Path) -> None:
        listing = _listing(directory)
        self.listings[directory.stat().st_ino] = listing
        for name, entry in listing.items():
            if entry.is_dir:
                self._read_dir(directory / name)
            else:
                self.contents[entry.inode] = (directory / name).read_bytes()


def _listing(directory: Path) -> dict[str, Entry]:
    found = {}
    for name in os.listdir(directory):
        info = os.lstat(directory / name)
        if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
            found[name] = Entry(info.st_ino, stat.S_ISDIR(info.st_mode), stat.S_IMODE(info.st_mode))
    return found


class _CountedWriter:
    """A file object whose every write is one durable operation for the injector."""

    def __init__(self, stream: BinaryIO, injector: FaultInjector, target: str) -> None:
        self._stream = stream
        self._injector = injector
        self._target = target

    def write(self, data: Any) -> int:
        self._injector.before("write", self._target)
        return self._stream.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __enter__(self) -> _CountedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


class FaultInjector(FileOps):
    """Counts durable operations; fails the ``fail_at``-th with ``error``, or cuts the power at ``cut_at``."""

    def __init__(self, fail_at: int | None = None, error: int = errno.EIO, cut_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.error = error
        self.cut_at = cut_at
        self.count = 0
        self.log: list[tuple[str, str]] = []
        self.fired = False
        self.synced_files: dict[int, bytes] = {}
        self.synced_dirs: dict[int, dict[str, Entry]] = {}
        self._lock = threading.RLock()

    def before(self, op: str, target: str | os.PathLike[str]) -> None:
        """Count the operation; fail it or cut the power when its number comes."""
        with self._lock:
            if self.cut_at is not None and self.fired:
                raise PowerCut()
            self.count += 1
            self.log.append((op, str(target)))
            if self.count == self.fail_at:
                self.fired = True
                raise OSError(self.error, os.strerror(self.error), str(target))
            if self.count == self.cut_at:
                self.fired = True
                raise PowerCut()

    def writer(self, stream: BinaryIO, target: str | os.PathLike[str]) -> BinaryIO:
        """Count every write to ``stream``."""
        return _CountedWriter(stream, self, str(target))  # type: ignore[return-value]

    def fsync(self, fd: int) -> None:
        """Fsync, then remember what the file durably holds."""
        super().fsync(fd)
        self._remember_file(fd)

    def fdatasync(self, fd: int) -> None:
        """Fdatasync, then remember what the file durably holds."""
        super().fdatasync(fd)
        self._remember_file(fd)

    def _remember_file(self, fd: int) -> None:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return
        with open(f"/proc/self/fd/{fd}", "rb") as again:
            content = again.read()
        with self._lock:
            self.synced_files[info.st_ino] = content

    def sync_filesystem(self, path: Path) -> None:
        """Syncfs, then remember every file and directory under ``path`` as durable.

        syncfs commits the whole file system; the model takes only ``path``'s part of it,
        which is all the caller may count on.
        """
        super().sync_filesystem(path)
        for directory, _dirs, files in os.walk(path):
            with self._lock:
                self.synced_dirs[os.stat(directory).st_ino] = _listing(Path(directory))
            for name in files:
                file = Path(directory, name)
                if file.is_file() and not file.is_symlink():
                    content = file.read_bytes()
                    with self._lock:
                        self.synced_files[file.stat().st_ino] = content

    def fsync_dir(self, directory: Path) -> None:
        """Fsync a directory, then remember its entries as durable."""
        super().fsync_dir(directory)
        with self._lock:
            self.synced_dirs[directory.stat().st_ino] = _listing(directory)

    def after_power_cut(self, before: DiskImage, into: Path) -> None:
        """Write what the disk would hold after the power cut, rebuilt from ``before`` and what was synced."""
        for root, inode in before.roots.items():
            target = into / root.name
            target.mkdir(parents=True)
            self._rebuild(before, inode, target)

    def _rebuild(self, before: DiskImage, inode: int, target: Path) -> None:
        listing = self.synced_dirs.get(inode, before.listings.get(inode, {}))
        for name, entry in listing.items():
            path = target / name
            if entry.is_dir:
                path.mkdir()
                self._rebuild(before, entry.inode, path)
            else:
                content = self.synced_files.get(entry.inode, before.contents.get(entry.inode, b""))
                path.write_bytes(content)
                os.chmod(path, entry.mode)


def copy_case(template: Path, into: Path) -> Path:
    """Copy a prepared case (store, working directory) to a fresh place."""
    shutil.copytree(template, into, symlinks=True)
    return into


@dataclass
class Outcome:
    """How one crash point went."""

    point: int
    kind: str
    op: str
    problems: list[str]


Command = Callable[[Path], object]


def _as_if_exited(state: Path) -> None:
    """The failed command's process has exited: its lock files and leases now name a process that is gone."""
    dead = _dead_pid()
    for lock in state.rglob("*.lock"):
        content = lock.read_text(errors="replace").split()
        if len(content) == 2 and content[0] == str(os.getpid()):
            lock.write_text(f"{dead} {content[1]}\n")
    for lease in state.rglob("*.lease"):
        with contextlib.suppress(ValueError):
            body = json.loads(lease.read_text(errors="replace"))
            if isinstance(body, dict) and body.get("pid") == os.getpid():
                lease.write_text(json.dumps({**body, "pid": dead}))


_dead: list[int] = []


def _dead_pid() -> int:
    if not _dead:
        import subprocess

        child = subprocess.Popen(["true"])
        child.wait()
        _dead.append(child.pid)
    return _dead[0]


def check_state(
    state: Path, refs_before: dict[str, str], refs_after: dict[str, str], scratch: Path, finished: bool = False
) -> list[str]:
    """Return what is wrong with the store under ``state`` after an interrupted (or ``finished``) command."""
    from casstore.bundles.exporter import export_revision
    from casstore.history.fsck import fsck
    from casstore.storage.store import Store

    problems = []
    scratch.mkdir(parents=True, exist_ok=True)
    store = Store.open(state / "store")
    report = fsck(store)
    problems += [f"fsck: {f.kind} {f.subject}: {f.detail}" for f in report.findings if f.is_error]
    now = store.refs.list()
    for name in sorted(set(refs_before) | set(refs_after) | set(now)):
        if finished and now.get(name) != refs_after.get(name):
            problems.append(f"ref {name} holds {now.get(name)} after the command finished, not {refs_after.get(name)}")
        elif now.get(name) not in (refs_before.get(name), refs_after.get(name)):
            problems.append(f"ref {name} holds {now.get(name)}, neither old nor new")
    for index, oid in enumerate(_reachable_revisions(store, now.values())):
        try:
            export_revision(store, oid, scratch / f"export-{index}")
            shutil.rmtree(scratch / f"export-{index}")
        except Exception as exc:  # noqa: BLE001 - any failure is a finding
            problems.append(f"export of {oid[:12]} failed: {exc}")
    return problems


def _reachable_revisions(store: Any, heads: Any) -> list[str]:
    """Every commit the refs reach through their parents, one per distinct tree (export verifies each file)."""
    from casstore.history.commits import read_commit

    seen: set[str] = set()
    trees: dict[str, str] = {}
    pending = sorted(set(heads))
    while pending:
        oid = pending.pop()
        if oid in seen:
            continue
        seen.add(oid)
        commit = read_commit(store, oid)
        trees.setdefault(commit.tree, oid)
        pending.extend(commit.parents)
    return sorted(trees.values())


def run_point(
    template: Path,
    command: Command,
    kind: str,
    point: int,
    refs_before: dict[str, str],
    refs_after: dict[str, str],
    scratch: Path,
) -> Outcome:
    """Run ``command`` on a copy of ``template``, failing or cutting power at operation ``point``; check the result.

    A power cut at a point past the last operation comes right after the command
    finished: then everything it reported done must have survived.
    """
    from casstore.errors import CasstoreError
    from casstore.storage.fileops import installed

    # Always the same path: commits that name their directory must come out the same in every run.
    case = copy_case(template, scratch / "case")
    roots = sorted(p for p in case.iterdir() if p.is_dir())
    before = DiskImage.read(roots) if kind == "power" else None
    if kind == "power":
        injector = FaultInjector(cut_at=point)
    else:
        injector = FaultInjector(fail_at=point, error=ERRNOS[point % len(ERRNOS)])
    problems = []
    try:
        with installed(injector):
            command(case)
    except PowerCut:
        pass
    except (OSError, CasstoreError):
        if kind == "power":
            problems.append("an error instead of the power cut")
    except Exception as exc:  # noqa: BLE001 - an unexpected error type is itself a finding
        problems.append(f"{type(exc).__name__}: {exc}")
    op = injector.log[point - 1][0] if len(injector.log) >= point else "-"
    state = case
    if kind == "power" and before is not None:
        case.rename(scratch / "crashed")
        injector.after_power_cut(before, state)
    _as_if_exited(state)
    finished = not injector.fired
    problems += check_state(state, refs_before, refs_after, scratch, finished)
    if not problems:
        try:
            command(state)  # the next run needs no manual cleanup
        except Exception as exc:  # noqa: BLE001
            problems.append(f"re-run failed: {type(exc).__name__}: {exc}")
        else:
            problems += [f"after re-run: {p}" for p in check_state(state, refs_before, refs_after, scratch / "again")]
    for leftover in scratch.iterdir():
        shutil.rmtree(leftover, ignore_errors=True)
    return Outcome(point, kind, op, problems)


def count_operations(
    template: Path, command: Command, scratch: Path
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Run ``command`` once without faults; return the kind of each operation it made, and the refs before/after."""
    from casstore.storage.fileops import installed
    from casstore.storage.store import Store

    case = copy_case(template, scratch / "case")
    before = Store.open(case / "store").refs.list()
    counter = FaultInjector()
    with installed(counter):
        command(case)
    after = Store.open(case / "store").refs.list()
    shutil.rmtree(case)
    return [op for op, _target in counter.log], before, after


def points(total: int) -> list[int]:
    """The crash points to try: every k-th with ``CASSTORE_TORTURE_STRIDE=k`` (default 7; 1 tries all)."""
    stride = int(os.environ.get("CASSTORE_TORTURE_STRIDE", "7"))
    chosen = list(range(1, total + 1, max(1, stride)))
    if total and chosen[-1] != total:
        chosen.append(total)
    return chosen
