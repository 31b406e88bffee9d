"""The local backend: a store directory in the on-disk format of docs/format.md (version 1)."""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from casstore.errors import RefConflict, RefLocked, UsageError
from casstore.storage.atomic import (
    UNNAMED_LOCK_GRACE,
    LockFile,
    append_durable,
    ensure_dir,
    fsync_dir,
    fsync_dirs,
    host_name,
    owned_prefix,
    pid_alive,
    write_durable,
)
from casstore.storage.backend import FileStat, StoredFileMissing
from casstore.storage.backend_local_staged import TMP_DIR, LocalStagedFile
from casstore.storage.fileops import ops

REFS_DIR, LOGS_DIR, LOCKS_DIR = "refs", "logs", "locks"


class _LocalLease:
    """A lease file ``locks/<name>.lease`` holding its owner, a nonce and its expiry."""

    # A plain class: a dataclass here would cost every command's start-up, leases or not.
    def __init__(self, backend: LocalBackend, name: str, owner: str, expires: float, nonce: str) -> None:
        self.backend = backend
        self.name = name
        self.owner = owner
        self.expires = expires
        self.nonce = nonce

    @property
    def path(self) -> Path:
        return self.backend._lease_path(self.name)

    def _still_ours(self) -> bool:
        held = self.backend._read_lease(self.path)
        return held is not None and held.get("nonce") == self.nonce

    def refresh(self, ttl: float) -> None:
        """Extend the lease, unless it expired and another holder took it over."""
        if not self._still_ours():
            raise RefLocked(f"lease {self.name} was lost: it expired and was taken over")
        self.expires = self.backend.clock() + ttl
        write_durable(self.path, self.backend._lease_body(self.owner, self.expires, self.nonce))

    def release(self) -> None:
        """Remove the lease file if it is still ours."""
        if self._still_ours():
            ops().unlink(self.path, missing_ok=True)


class LocalBackend:
    """Files under a store directory: temp file, fsync, rename for every write; refs under a lock."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.time, lock_timeout: float = 5.0) -> None:
        self.root = root
        self._root_text = os.fspath(root)
        self.clock = clock
        self.lock_timeout = lock_timeout  # how long a ref update waits for a live holder's lock
        self._unsynced_dirs: set[Path] = set()
        self._unsynced_lock = threading.Lock()

    def create_root(self, subdirs: Iterable[str]) -> None:
        """Make the store directory and ``subdirs`` durably; refuse a path that exists and holds anything."""
        if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
            raise UsageError(f"cannot create a store at {self.root}: it exists and is not an empty directory")
        for sub in subdirs:
            ensure_dir(self.root / sub)

    def _note_new_name(self, directory: Path) -> None:
        with self._unsynced_lock:
            self._unsynced_dirs.add(directory)

    # Files -----------------------------------------------------------------------------------

    def _file(self, key: str) -> str:
        # A plain string on the per-object paths: pathlib's parsing cost more than the syscall.
        return f"{self._root_text}/{key}"

    def path(self, key: str) -> Path:
        """Return the file that holds ``key`` (for tools and tests that look at the disk itself)."""
        return self.root.joinpath(*key.split("/"))

    def get(self, key: str) -> bytes:
        """Return the content of ``key``."""
        try:
            with open(self._file(key), "rb") as stream:
                return stream.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StoredFileMissing(key) from None

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``key`` from ``offset``."""
        try:
            with open(self._file(key), "rb") as stream:
                stream.seek(offset)
                return stream.read(length)
        except FileNotFoundError:
            raise StoredFileMissing(key) from None

    def open_reader(self, key: str) -> BinaryIO:
        """Open ``key`` for reading; an open file keeps its content on POSIX even if gc deletes it."""
        try:
            return open(self._file(key), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise StoredFileMissing(key) from None

    def stage(self, label: str) -> LocalStagedFile:
        """Start a temp file in ``tmp/`` for a file whose key is known only at the end."""
        return LocalStagedFile(self, label)

    def put(self, key: str, content: bytes) -> None:
        """Replace ``key`` atomically and durably (temp file, fsync, rename, directory fsync)."""
        write_durable(self.path(key), content)

    def sync(self) -> None:
        """Fsync every directory a staged file was published into since the last call, once each."""
        with self._unsynced_lock:
            pending, self._unsynced_dirs = self._unsynced_dirs, set()
        if pending:
            fsync_dirs(pending)

    def put_if_absent(self, key: str, content: bytes) -> bool:
        """Write ``content`` to a temp file, fsync it, and link it into place unless ``key`` exists."""
        final = self.path(key)
        if final.is_file():
            return False
        tmp_dir = self.root / TMP_DIR
        ensure_dir(tmp_dir)
        ensure_dir(final.parent)
        fd, tmp = ops().create_temp(tmp_dir, owned_prefix("put-"))
        try:
            ops().write_fd(fd, content, tmp)
            ops().fsync(fd)
            os.close(fd)
            fd = -1
            os.chmod(tmp, 0o444)  # stored files never change in place
            now = self.clock()
            os.utime(tmp, (now, now))  # ages are the backend's clock's, as gc's grace reads them
            try:
                self._link(tmp, final)  # no-clobber: a concurrent writer of the same key wins once
            except FileExistsError:
                return False
            fsync_dir(final.parent)
            return True
        finally:
            if fd >= 0:
                os.close(fd)
            ops().unlink(tmp, missing_ok=True)

    def _link(self, src: Path, dst: Path) -> None:
        ops().before("rename", dst)
        os.link(src, dst)

    def has(self, key: str) -> bool:
        """Tell whether ``key`` exists."""
        return os.path.isfile(self._file(key))

    def list(self, prefix: str) -> list[str]:
        """Return the keys under ``prefix`` (dot files, temp files and locks are not keys)."""
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.path(head) if head else self.root
        found = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for filename in filenames:
                if filename.startswith(".") or filename.endswith(".lock"):
                    continue
                key = filename if rel == "." else f"{rel}/{filename}"
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        ops().unlink(self.path(key), missing_ok=True)

    def stat(self, key: str) -> FileStat:
        """Return the size and modification time of ``key``."""
        try:
            info = os.stat(self._file(key))
        except FileNotFoundError:
            raise StoredFileMissing(key) from None
        return FileStat(info.st_size, info.st_mtime)

    def touch(self, key: str) -> None:
        """Set ``key``'s modification time to now (a concurrent gc then keeps it)."""
        with contextlib.suppress(OSError):
            now = self.clock()
            os.utime(self._file(key), (now, now))

    # Refs ------------------------------------------------------------------------------------

    def _ref_path(self, name: str) -> Path:
        return self.root.joinpath(REFS_DIR, *name.split("/"))

    def read_ref(self, name: str) -> tuple[str | None, str | None]:
        """Return the ref's value; its version is that value (a ref file holds nothing else)."""
        try:
            value = self._ref_path(name).read_text().strip()
        except FileNotFoundError:
            return None, None
        return value, value

    def compare_and_swap(self, name: str, expected: str | None, new: str | None, log_line: bytes) -> str | None:
        """Move ``name`` under its lock file, only from ``expected``; log the move in the same lock."""
        path = self._ref_path(name)
        with LockFile(path, timeout=self.lock_timeout):
            current = self.read_ref(name)[1]
            if current != expected:
                raise RefConflict(
                    f"ref {name} moved while this command ran (expected {expected or 'absent'}, "
                    f"found {current or 'absent'}); run it again"
                )
            if new is None:
                ops().unlink(path, missing_ok=True)
                fsync_dir(path.parent)
            else:
                write_durable(path, (new + "\n").encode())
            append_durable(self.root.joinpath(LOGS_DIR, *name.split("/")), log_line)
        return new

    def list_refs(self, prefix: str = "") -> dict[str, str]:
        """Return ``{name: raw value}`` of the refs under ``prefix``."""
        refs_root = self.root / REFS_DIR
        # Walk only below what the prefix names in full (``P/`` or ``P/heads/``): one project's
        # refs must not cost a walk of every project's folders (20,004 of them at 5,000 projects).
        whole = prefix.split("/")[:-1][:2]
        found = {}
        for dirpath, _dirnames, filenames in os.walk(refs_root.joinpath(*whole)):
            rel = Path(dirpath).relative_to(refs_root).parts
            if len(rel) != 2:
                continue
            for filename in filenames:
                if filename.endswith(".lock") or filename.startswith("."):
                    continue
                name = f"{rel[0]}/{rel[1]}/{filename}"
                if name.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):
                        found[name] = (Path(dirpath) / filename).read_text().strip()
        return dict(sorted(found.items()))

    def read_log(self, name: str) -> bytes:
        """Return the reflog of ``name``."""
        try:
            return self.root.joinpath(LOGS_DIR, *name.split("/")).read_bytes()
        except FileNotFoundError:
            return b""

    def list_logs(self) -> builtins.list[str]:
        """Return the refs that have a reflog file."""
        logs_root = self.root / LOGS_DIR
        return sorted(
            "/".join(path.relative_to(logs_root).parts)
            for path in logs_root.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )

    def expire_log(self, name: str, expired: Callable[[bytes], bool]) -> int:
        """Rewrite the reflog file of ``name`` without the lines ``expired`` picks (removed when none is left).

        Under the ref's lock, as a move and its log line are written: a line appended between
        the read and the rewrite would otherwise be lost with the old file.
        """
        path = self.root.joinpath(LOGS_DIR, *name.split("/"))
        with LockFile(self._ref_path(name), timeout=self.lock_timeout):
            try:
                lines = path.read_bytes().splitlines(keepends=True)
            except FileNotFoundError:
                return 0
            kept = [line for line in lines if not expired(line.rstrip(b"\r\n"))]
            if len(kept) == len(lines):
                return 0
            if kept:
                write_durable(path, b"".join(kept))
            else:
                ops().unlink(path, missing_ok=True)
        return len(lines) - len(kept)

    def ref_locks(self) -> builtins.list[str]:
        """Return the ``refs/**.lock`` files, relative to the store."""
        return sorted(path.relative_to(self.root).as_posix() for path in (self.root / REFS_DIR).rglob("*.lock"))

    # Leases ----------------------------------------------------------------------------------

    def _lease_path(self, name: str) -> Path:
        return self.root.joinpath(LOCKS_DIR, *name.split("/")).with_suffix(".lease")

    def _lease_body(self, owner: str, expires: float, nonce: str) -> bytes:
        body = {"owner": owner, "host": host_name(), "pid": os.getpid(), "expires": expires, "nonce": nonce}
        return (json.dumps(body, sort_keys=True) + "\n").encode()

    def _read_lease(self, path: Path) -> dict[str, object] | None:
        try:
            held = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return held if isinstance(held, dict) else None

    def _expired(self, path: Path, held: dict[str, object] | None) -> bool:
        """Tell whether lease ``held`` (read from ``path``) no longer holds: expired, or its process died here."""
        now = self.clock()
        if held is None:  # being written, or its writer died between create and write
            with contextlib.suppress(FileNotFoundError):
                return now - path.stat().st_mtime > UNNAMED_LOCK_GRACE
            return True
        expires = held.get("expires")
        if not isinstance(expires, int | float) or expires <= now:
            return True
        pid = held.get("pid")
        return held.get("host") == host_name() and isinstance(pid, int) and not pid_alive(pid)

    def _take_aside(self, path: Path, judged: dict[str, object] | None, nonce: str) -> None:
        """Move the expired lease we judged out of the way; put back a fresh one a racing taker made meanwhile."""
        aside = path.with_name(f".{path.name}.expired-{nonce}")
        try:
            ops().replace(path, aside)
        except FileNotFoundError:
            return  # another taker moved it first
        if self._read_lease(aside) != judged:
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)  # not ours to break: restore it, unless yet another holder is there
        ops().unlink(aside, missing_ok=True)

    def acquire(self, name: str, ttl: float, owner: str) -> _LocalLease:
        """Create the lease file exclusively; take over one that expired or whose process died on this host."""
        path = self._lease_path(name)
        ensure_dir(path.parent)
        for _attempt in range(100):
            nonce = os.urandom(8).hex()  # not secrets: its import (hmac, base64) costs every command
            expires = self.clock() + ttl
            try:
                fd = ops().create_exclusive(path)
            except FileExistsError:
                held = self._read_lease(path)
                if not self._expired(path, held):
                    shown = held or {}
                    until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(str(shown.get("expires", 0)))))
                    raise RefLocked(
                        f"{name} is held by {shown.get('owner', 'another process')} until {until} UTC; "
                        "retry when it is done"
                    ) from None
                self._take_aside(path, held, nonce)
                continue
            try:
                ops().write_fd(fd, self._lease_body(owner, expires, nonce), path)
                ops().fsync(fd)
            except BaseException:
                os.close(fd)
                ops().unlink(path, missing_ok=True)
                raise
            os.close(fd)
            fsync_dir(path.parent)
            return _LocalLease(self, name, owner, expires, nonce)
        raise RefLocked(f"{name}: could not take the lease (too many concurrent takers)")
