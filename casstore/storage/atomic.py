"""Durable writes: temp file, fsync, rename, fsync the directory; and lock files."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from casstore.errors import RefLocked
from casstore.storage.fileops import ops


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (new names, renames) durable."""
    ops().fsync_dir(directory)


def make_dirs(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; return those it created, outermost first."""
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        ops().mkdir(created)
    return missing[::-1]


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each one durable in its parent.

    Without the parent's fsync a power cut can take a new project's whole ``refs/P/heads``
    with it, although the ref file inside was fsynced (found by tests/test_torture.py).
    """
    for created in make_dirs(directory):
        fsync_dir(created.parent)


def fsync_dirs(directories: Iterable[Path]) -> None:
    """Fsync each distinct directory once (the batched half of many renames)."""
    for directory in sorted(set(directories)):
        fsync_dir(directory)


def sync_files(paths: Sequence[Path], root: Path | None = None, directories: Iterable[str] = ()) -> None:
    """Make the data of files written without their own fsync durable: one syncfs, or each fsynced from the I/O pool.

    Writing every file first and syncing them together lets the file system flush them in
    large batches (one journal commit serves many fsyncs) instead of one file's write waiting
    for the previous one's flush; the caller reports nothing done before this returns. With
    ``root`` and the ``directories`` that hold ``paths``, one syncfs serves them all where it
    is as sure as an fsync each (storage/syncfs.py).
    """
    if root is not None and ops().can_sync_filesystem(root, directories):
        ops().sync_filesystem(root)
        return
    # Here, not at the top: every command loads this module, and the pool's imports cost start-up.
    from casstore.storage.parallel import parallel_map

    def sync_one(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            ops().fsync(fd)
        finally:
            os.close(fd)

    for _synced in parallel_map(sync_one, paths, io_bound=True):
        pass


@functools.cache
def host_name() -> str:
    """Return this machine's name (what ``host_name()`` gives, without importing socket at start-up)."""
    return os.uname().nodename


@functools.cache
def _host_tag() -> str:
    # Once per process: every temp file name carries it, refs and autosave objects included.
    return hashlib.sha256(host_name().encode()).hexdigest()[:8]


def owned_prefix(prefix: str) -> str:
    """Return ``prefix`` plus this process's pid and host tag, so gc can tell a dead writer's leftovers."""
    return f"{prefix}{os.getpid()}-{_host_tag()}-"


# ``kind-pid-host-`` in tmp/; ``.<hash of the final name>.kind-pid-host-`` beside a file or export.
_OWNED = re.compile(r"(?:\.[0-9a-f]{12}\.)?[a-z]+-(\d+)-([0-9a-f]{8})-")
_TEMP_BESIDE = re.compile(r"\.[0-9a-f]{12}\.[a-z]+-\d+-[0-9a-f]{8}-")


def writer_is_gone(name: str) -> bool:
    """Tell whether temp file ``name`` was left by a process of this host that no longer runs."""
    match = _OWNED.match(name)
    return match is not None and match.group(2) == _host_tag() and not pid_alive(int(match.group(1)))


def is_temp_beside(name: str) -> bool:
    """Tell whether ``name`` is a temp file casstore writes beside its final name (never a user's file)."""
    return _TEMP_BESIDE.match(name) is not None


def temp_beside(final_name: str, kind: str) -> str:
    """Return the prefix of a temp name beside ``final_name``: short, and naming its writer."""
    return short_prefix(final_name) + owned_prefix(f"{kind}-")


def clear_dead_temps(root: Path, skip: Iterable[str] = ()) -> int:
    """Remove the temp files and partial directories under ``root`` that killed writers left; return how many.

    A checkout or export killed mid-way leaves them beside the user's files; the next run
    removes them so that status, autosave and import never take them for the user's.
    """
    removed = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in [*filenames, *dirnames]:
            if is_temp_beside(name) and writer_is_gone(name):
                path = Path(dirpath, name)
                if path.is_dir() and not path.is_symlink():
                    ops().remove_tree(path)
                    dirnames.remove(name)
                else:
                    ops().unlink(path, missing_ok=True)
                removed += 1
    return removed


def short_prefix(name: str) -> str:
    """Return a temp-name prefix for final name ``name``: 14 bytes whatever its length.

    A temp name built from the final name (``.<name>.XXXXXXXX``) would not fit when
    the final name is near the 255-byte limit; a hash of it still says which file it was.
    """
    return f".{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:12]}."


def current_umask() -> int:
    """Return the process umask without changing it (worker threads may be creating files)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    old = os.umask(0o022)
    os.umask(old)
    return old


def user_mode(directory: bool) -> int:
    """Return the mode a new file or directory gets from open()/mkdir(): 0666 or 0777 minus the umask."""
    return (0o777 if directory else 0o666) & ~current_umask()


@contextlib.contextmanager
def temp_file(directory: Path, prefix: str = "tmp-") -> Iterator[tuple[BinaryIO, Path]]:
    """Open a new temp file in ``directory``; it is removed unless the caller renamed it."""
    ops().mkdir(directory, parents=True)
    fd, path = ops().create_temp(directory, owned_prefix(prefix))
    try:
        with os.fdopen(fd, "wb") as stream:
            yield ops().writer(stream, path), path
    finally:
        ops().unlink(path, missing_ok=True)


@contextlib.contextmanager
def staged(dest: Path, directory: bool) -> Iterator[Path]:
    """Build a result at a temp path beside ``dest``; move it into place only if the block succeeds.

    The result gets the user's umask, and the temp name stays short whatever ``dest`` is called.
    ``dest`` may be absent or an empty directory. On any failure the temp path is
    removed and ``dest`` is left exactly as it was: exports and builds are all or nothing.
    """
    _clear_dead_partials(dest)
    prefix = temp_beside(dest.name, "partial")
    if directory:
        staging = ops().create_temp_dir(dest.parent, prefix)
    else:
        fd, staging = ops().create_temp(dest.parent, prefix)
        os.close(fd)
    was_empty_dir = published = False
    try:
        yield staging
        # mkdtemp/mkstemp make 0700/0600; the result is the user's, like cp's or git checkout's.
        os.chmod(staging, user_mode(directory))
        if dest.is_dir() and not dest.is_symlink():
            ops().rmdir(dest)  # only an empty directory gets here (callers check)
            was_empty_dir = True
        ops().replace(staging, dest)
        published = True
        fsync_dir(dest.parent)
    except BaseException:
        # After the rename, only the directory's fsync can fail: the result is in place but not
        # known durable, so it is taken back out and the failure leaves ``dest`` as it was.
        taken_back = dest if published else staging
        with contextlib.suppress(OSError):
            if directory:
                ops().remove_tree(taken_back)
            else:
                ops().unlink(taken_back, missing_ok=True)
            if was_empty_dir:
                ops().mkdir(dest)
        raise


@contextlib.contextmanager
def staged_file(dest: Path) -> Iterator[BinaryIO]:
    """Write a new file ``dest`` all or nothing: a temp beside it, fsynced, renamed into place (see :func:`staged`)."""
    with staged(dest, directory=False) as staging, ops().writer(open(staging, "wb"), staging) as out:
        yield out
        out.flush()
        ops().fsync(out.fileno())


@contextlib.contextmanager
def new_file(path: Path, sync: bool = True) -> Iterator[BinaryIO]:
    """Create ``path`` in a directory that is being staged, for writing; fsynced when the block ends.

    The file needs no rename of its own: the staged directory's rename publishes it. With
    ``sync`` False the caller makes it durable later with :func:`sync_files`, before publishing.
    """
    ops().before("create", path)
    # The writer closes the file too: a full disk fails that close's flush again, naming the file.
    with ops().writer(open(path, "wb"), path) as out:
        yield out
        out.flush()
        if sync:
            ops().fsync(out.fileno())


@contextlib.contextmanager
def temp_for(target: Path, kind: str, suffix: str = "", sync: bool = True) -> Iterator[tuple[BinaryIO, Path]]:
    """Write a temp file beside ``target`` with the user's file mode; fsynced when the block ends.

    The caller renames it over ``target`` (or many at once, all or nothing); it is removed if
    the block fails. Its short name says which file it was for and which process wrote it.
    With ``sync`` False the caller fsyncs it with :func:`sync_files` before any rename.
    """
    fd, tmp = ops().create_temp(target.parent, temp_beside(target.name, kind), suffix)
    try:
        with ops().writer(os.fdopen(fd, "wb"), tmp) as out:
            yield out, tmp
            os.fchmod(out.fileno(), user_mode(directory=False))  # not mkstemp's 0600
            out.flush()
            if sync:
                ops().fsync(out.fileno())
    except BaseException:
        ops().unlink(tmp, missing_ok=True)
        raise


@contextlib.contextmanager
def replacing(target: Path, kind: str, suffix: str = "") -> Iterator[BinaryIO]:
    """Replace ``target`` with what the block writes, durably; if the block fails, ``target`` is untouched."""
    ensure_dir(target.parent)
    with temp_for(target, kind, suffix) as (out, tmp):
        yield out
    try:
        ops().replace(tmp, target)
    except BaseException:
        ops().unlink(tmp, missing_ok=True)
        raise
    fsync_dir(target.parent)


def copy_durable(src: Path, target: Path) -> None:
    """Copy the file ``src`` over ``target`` durably (temp beside it, fsync, rename, directory fsync)."""
    with open(src, "rb") as source, replacing(target, "copy") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _clear_dead_partials(dest: Path) -> None:
    """Remove what killed exports of ``dest`` left beside it (their writers are gone)."""
    start = short_prefix(dest.name)
    with contextlib.suppress(OSError):
        for name in os.listdir(dest.parent):
            if name.startswith(start) and is_temp_beside(name) and writer_is_gone(name):
                leftover = dest.parent / name
                if leftover.is_dir() and not leftover.is_symlink():
                    ops().remove_tree(leftover)
                else:
                    ops().unlink(leftover, missing_ok=True)


def write_durable(target: Path, content: bytes | bytearray, *, sync_dir: bool = True) -> None:
    """Atomically replace ``target`` with ``content``: temp file, fsync, rename, dir fsync."""
    ensure_dir(target.parent)
    with temp_file(target.parent, prefix=short_prefix(target.name) + "tmp-") as (stream, tmp):
        stream.write(content)
        stream.flush()
        ops().fsync(stream.fileno())
        ops().replace(tmp, target)
    if sync_dir:
        fsync_dir(target.parent)


def append_durable(target: Path, line: bytes) -> None:
    """Append one line to ``target`` and fsync it (reflogs are append-only; the caller holds the ref's lock)."""
    ensure_dir(target.parent)
    created = not target.exists()
    fd = ops().open_append(target)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A writer killed part way left a torn line: end it, or this line would be glued
            # onto it and both be unreadable.
            line = b"\n" + line
        ops().write_fd(fd, line, target)
        ops().fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(target.parent)


def pid_alive(pid: int) -> bool:
    """Tell whether process ``pid`` runs on this host (one we may not signal still counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# How long a lock file that names no holder is taken to be still in the making.
UNNAMED_LOCK_GRACE = 10.0


class LockFile:
    """An exclusive lock: ``<path>.lock`` created with O_EXCL, holding ``pid host``.

    A lock left by a process that died on this host is broken, so a killed
    command never wedges the store; a live holder makes the caller fail fast.
    """

    def __init__(self, target: Path, timeout: float = 5.0) -> None:
        self.path = target.with_name(target.name + ".lock")
        self.timeout = timeout
        self._held = False

    def acquire(self) -> None:
        """Take the lock, waiting up to ``timeout`` seconds for a live holder, or raise :class:`RefLocked`."""
        ensure_dir(self.path.parent)
        owner = f"{os.getpid()} {host_name()}\n".encode()
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            try:
                fd = ops().create_exclusive(self.path)
            except FileExistsError:
                if self._break_if_stale():
                    continue
                if time.monotonic() >= deadline:
                    raise RefLocked(
                        f"{self.path} is held by another casstore process; "
                        "retry when it finishes (or remove the file if no casstore runs)"
                    ) from None
                # Ref updates hold their lock for milliseconds: a short wait beats failing.
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
                continue
            try:
                ops().write_fd(fd, owner, self.path)
            except BaseException:
                os.close(fd)
                # A lock that names no holder can only be broken by age: give it back now.
                with contextlib.suppress(OSError):
                    ops().unlink(self.path, missing_ok=True)
                raise
            os.close(fd)
            self._held = True
            return

    def _break_if_stale(self) -> bool:
        """Remove a lock whose holder died on this host; True when the caller should retry."""
        try:
            content = self.path.read_text()
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return True
        except OSError:
            return False
        try:
            pid_text, host = content.split()
            pid = int(pid_text)
        except ValueError:
            # Caught between O_EXCL and its write, it is still being written; one that stays
            # without a holder for long was left by a writer killed right there.
            if age < UNNAMED_LOCK_GRACE:
                return False
        else:
            if host != host_name() or pid_alive(pid):
                return False
        # One breaker at a time, and only if the lock still is the dead one: a process that
        # saw the same stale lock a moment ago must not remove the fresh lock of a third.
        guard = self.path.with_name(f".{self.path.name}.break")
        try:
            fd = ops().create_exclusive(guard)
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - guard.stat().st_mtime > 10:
                    ops().unlink(guard)  # its breaker died too
            return True
        try:
            with contextlib.suppress(FileNotFoundError):
                if self.path.read_text() == content:
                    ops().unlink(self.path)
        finally:
            os.close(fd)
            ops().unlink(guard, missing_ok=True)
        return True

    def release(self) -> None:
        """Drop the lock if held."""
        if self._held:
            self._held = False
            ops().unlink(self.path, missing_ok=True)

    def __enter__(self) -> LockFile:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
