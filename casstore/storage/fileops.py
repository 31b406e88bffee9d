"""The one seam every durable file operation goes through: create, write, fsync, rename, unlink, mkdir, lock.

The real operations live in :class:`FileOps`. Tests install a subclass (see
``tests/torture.py``) that counts the operations and, at the N-th one, raises an
error (EIO, ENOSPC, EDQUOT, EROFS) or cuts the power: what was not fsynced is
then dropped. Keeping every write of the store and of working directories behind
this one surface is what lets that campaign cover each of them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

# O_DIRECT needs the memory, offset and length of each write aligned to the device's logical
# block; 4 KiB is a multiple of every common one (512 B, 4 KiB) and divides the page size.
DIRECT_ALIGN = 4096
_O_DIRECT = getattr(os, "O_DIRECT", 0)


def page_buffer(size: int) -> mmap.mmap:
    """Return a new zeroed buffer of at least ``size`` bytes starting on a page, as O_DIRECT writes need."""
    return mmap.mmap(-1, max(mmap.PAGESIZE, -(-size // mmap.PAGESIZE) * mmap.PAGESIZE))


class FileOps:
    """The real durable operations; :meth:`before` is the hook a fault injector overrides."""

    def before(self, op: str, target: str | os.PathLike[str]) -> None:
        """Called before each durable operation with its kind and target (the real one does nothing)."""

    def writer(self, stream: BinaryIO, target: str | os.PathLike[str]) -> BinaryIO:
        """Return ``stream`` as the code should write to it: its errors name ``target`` (an injector also counts)."""
        return _NamedWrites(stream, target)  # type: ignore[return-value]

    def create_temp(self, directory: Path, prefix: str, suffix: str = "") -> tuple[int, Path]:
        """Create a new file with a unique name in ``directory``; return its fd and path."""
        self.before("create", directory)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
        return fd, Path(name)

    def create_temp_dir(self, directory: Path, prefix: str) -> Path:
        """Create a new directory with a unique name in ``directory``."""
        self.before("mkdir", directory)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=directory))

    def create_exclusive(self, path: Path, mode: int = 0o644) -> int:
        """Create ``path`` only if it does not exist (locks); return a write fd."""
        self.before("lock", path)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def open_append(self, path: Path, mode: int = 0o644) -> int:
        """Open ``path`` for appending (and reading its tail), creating it if needed; return the fd."""
        self.before("create", path)
        return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, mode)

    def write_fd(self, fd: int, data: bytes, target: str | os.PathLike[str]) -> None:
        """Write all of ``data`` to ``fd``."""
        self.before("write", target)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def write_new_file(self, path: Path, buffer: mmap.mmap, size: int, sync: bool = True) -> None:
        """Create (or truncate) ``path`` holding ``buffer[:size]`` (from :func:`page_buffer`) and fsync it.

        The write bypasses the page cache (O_DIRECT) where the file system allows it: copying a
        restore's bytes into the cache and writing them back from there was a fifth of its CPU
        (bench/README.md). The fsync after it is still what makes the file's size, its blocks
        and the device's write cache durable. Elsewhere it is an ordinary write. With ``sync``
        False the caller makes it durable with :meth:`sync_filesystem` before reporting it done.
        """
        self.before("create", path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        # A file smaller than one block is all tail: no O_DIRECT at all.
        direct = bool(_O_DIRECT) and size >= DIRECT_ALIGN
        try:
            fd = os.open(path, flags | (_O_DIRECT if direct else 0), 0o666)
        except OSError as exc:
            if not direct or exc.errno != errno.EINVAL:
                raise
            direct = False  # this file system refuses O_DIRECT (older tmpfs, some FUSE)
            fd = os.open(path, flags, 0o666)
        try:
            self.before("write", path)
            with memoryview(buffer) as view:
                try:
                    if direct:
                        _write_direct(fd, view, size)
                    else:
                        _write_all(fd, view[:size])
                except OSError as exc:
                    raise _naming(exc, path) from None
            if sync:
                self.fsync(fd)
        finally:
            os.close(fd)

    def can_sync_filesystem(self, path: Path, directories: Iterable[str | os.PathLike[str]] = ()) -> bool:
        """Tell whether one :meth:`sync_filesystem` of ``path`` covers new files in ``directories`` as fsyncs would."""
        from casstore.storage import syncfs

        return syncfs.usable(path, directories)

    def sync_filesystem(self, path: Path) -> None:
        """Make everything written on the file system holding ``path`` durable, with one syncfs."""
        from casstore.storage import syncfs

        self.before("fsync", path)
        try:
            syncfs.sync(path)
        except OSError as exc:
            raise _naming(exc, path) from None

    def fsync(self, fd: int) -> None:
        """Make a file's data durable."""
        self._sync(os.fsync, fd)

    def fdatasync(self, fd: int) -> None:
        """Start (and wait for) writeback of a file's data."""
        self._sync(os.fdatasync, fd)

    def _sync(self, sync: Callable[[int], None], fd: int) -> None:
        self.before("fsync", str(fd))
        try:
            sync(fd)
        except OSError as exc:
            raise _naming(exc, _path_of(fd)) from None

    def fsync_dir(self, directory: Path) -> None:
        """Make a directory's entries (new names, renames, removals) durable."""
        try:
            fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return
        try:
            self.before("fsync", directory)
            os.fsync(fd)
        except OSError as exc:  # some filesystems refuse fsync on directories
            if exc.errno not in (errno.EINVAL, errno.EBADF):
                raise
        finally:
            os.close(fd)

    def replace(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        """Rename ``src`` over ``dst`` atomically."""
        self.before("rename", dst)
        os.replace(src, dst)

    def unlink(self, path: str | os.PathLike[str], missing_ok: bool = False) -> None:
        """Remove a file."""
        self.before("unlink", path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def remove_tree(self, path: str | os.PathLike[str]) -> None:
        """Remove a directory and everything in it (an unfinished export), ignoring what is gone."""
        self.before("unlink", path)
        shutil.rmtree(path, ignore_errors=True)

    def rmdir(self, path: str | os.PathLike[str]) -> None:
        """Remove an empty directory."""
        self.before("unlink", path)
        os.rmdir(path)

    def mkdir(self, path: Path, parents: bool = False) -> None:
        """Create ``path`` unless it exists (with ``parents``, its missing parents too)."""
        if path.is_dir():
            return
        if parents and not path.parent.is_dir():
            self.mkdir(path.parent, parents=True)
        self.before("mkdir", path)
        try:
            os.mkdir(path)
        except FileExistsError:
            if not path.is_dir():
                raise


def _write_all(fd: int, view: memoryview, offset: int = 0) -> None:
    """Write all of ``view`` to ``fd`` at ``offset`` (one write may take less than it is given)."""
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


def _write_direct(fd: int, view: memoryview, size: int) -> None:
    """Write ``view[:size]`` to ``fd`` (opened O_DIRECT): whole aligned blocks directly, the tail through the cache.

    The tail is written after O_DIRECT is turned off for ``fd``, so the file needs no padding and
    no truncation afterwards (``ftruncate`` cost more than the page it saves); a file system that
    refuses the alignment gets the whole file the ordinary way.
    """
    aligned = size - size % DIRECT_ALIGN
    try:
        _write_all(fd, view[:aligned])
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        aligned = 0
    if aligned != size:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_O_DIRECT)
        _write_all(fd, view[aligned:size], aligned)


def _naming(exc: OSError, target: str | os.PathLike[str] | None) -> OSError:
    """Return ``exc`` naming ``target`` if it names no file: a full disk's ENOSPC from write() names none."""
    if exc.filename is None and target is not None:
        exc.filename = os.fspath(target)
    return exc


def _path_of(fd: int) -> str | None:
    """Return the path an open file descriptor refers to, if the system tells."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


class _NamedWrites:
    """A stream being written whose errors name its file, so the one error line says which disk is full."""

    def __init__(self, stream: BinaryIO, target: str | os.PathLike[str]) -> None:
        self._stream = stream
        self._target = target

    def write(self, data: bytes | memoryview) -> int:
        """Write ``data``."""
        try:
            return self._stream.write(data)
        except OSError as exc:
            raise _naming(exc, self._target) from None

    def flush(self) -> None:
        """Flush the stream's buffer to the file."""
        try:
            self._stream.flush()
        except OSError as exc:
            raise _naming(exc, self._target) from None

    def close(self) -> None:
        """Close the stream (flushing what is left)."""
        try:
            self._stream.close()
        except OSError as exc:
            raise _naming(exc, self._target) from None

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)

    def __enter__(self) -> _NamedWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_current = FileOps()


def ops() -> FileOps:
    """Return the file operations in force (the real ones unless a test installed others)."""
    return _current


@contextlib.contextmanager
def installed(replacement: FileOps) -> Iterator[FileOps]:
    """Use ``replacement`` for every durable operation inside the block (tests)."""
    global _current
    previous, _current = _current, replacement
    try:
        yield replacement
    finally:
        _current = previous
