"""Staged writes of the local backend: a temp file in ``tmp/``, fsynced and renamed into place by publish."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING

from casstore.storage.atomic import owned_prefix
from casstore.storage.fileops import ops

if TYPE_CHECKING:
    from casstore.storage.backend_local import LocalBackend

TMP_DIR = "tmp"

# Start writeback each time a staged file grew by this much, so the disk works while the CPUs encode.
EARLY_FLUSH_BYTES = 16 << 20


class _EarlyFlush:
    """A thread that starts writeback of a file still being written (fdatasync as it grows).

    Without it the kernel holds a whole pack (or a big sample) in dirty pages until the
    final fsync, and the disk sits idle while the workers hash and compress; with it that
    fsync has only the last few megabytes left. Errors are left for the final fsync to report.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="casstore-early-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                ops().fdatasync(self._fd)
            except OSError:
                return

    def kick(self) -> None:
        """Ask for a writeback pass (coalesced with one already asked for)."""
        self._wake.set()

    def stop(self) -> None:
        """Wait for the thread to finish its current pass and end."""
        self._stopping = True
        self._wake.set()
        self._thread.join()


class LocalStagedFile:
    """A temp file in ``tmp/``, named so gc can tell a dead writer's leftover; renamed into place by publish."""

    def __init__(self, backend: LocalBackend, label: str) -> None:
        self.backend = backend
        tmp_dir = backend.root / TMP_DIR
        ops().mkdir(tmp_dir, parents=True)
        fd, self.path = ops().create_temp(tmp_dir, owned_prefix(f"{label}-"))
        self._stream = ops().writer(os.fdopen(fd, "wb"), self.path)
        self._written = 0
        self._flushed_at = 0
        self._flusher: _EarlyFlush | None = None
        self._finished = False

    def write(self, chunk: bytes | memoryview) -> int:
        """Append ``chunk`` to the temp file."""
        written = self._stream.write(chunk)
        self._written += written
        if self._written - self._flushed_at >= EARLY_FLUSH_BYTES:
            self._flushed_at = self._written
            self._stream.flush()
            if self._flusher is None:
                self._flusher = _EarlyFlush(self._stream.fileno())
            self._flusher.kick()
        return written

    def tell(self) -> int:
        """Return the bytes written so far."""
        return self._written

    def _stop_flusher(self) -> None:
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None

    def publish(self, key: str) -> bool:
        """Fsync the temp file and rename it to ``key`` unless that exists; the directory fsync waits for sync()."""
        if self._finished:
            raise ValueError("a staged file is published once")
        final = self.backend.path(key)
        self._stream.flush()
        self._stop_flusher()
        ops().fsync(self._stream.fileno())
        self._stream.close()
        if final.is_file():  # content-addressed: whoever stored it first stored the same bytes
            self.discard()
            return False
        os.chmod(self.path, 0o444)  # stored files never change in place
        parent = final.parent
        if not parent.is_dir():
            ops().mkdir(parent, parents=True)
        ops().replace(self.path, final)
        self._finished = True
        # The grandparent too: a directory another writer made (objects/ab) may not be
        # durable in its parent yet if that writer died before its own sync.
        self.backend._note_new_name(parent)
        self.backend._note_new_name(parent.parent)
        return True

    def discard(self) -> None:
        """Remove the temp file (nothing once published), even when closing it fails."""
        if self._finished:
            return
        self._finished = True
        try:
            self._stop_flusher()
            # On a full disk the close's flush fails again; the file must go all the same,
            # or the space it holds keeps every later write (gc included) failing.
            with contextlib.suppress(OSError):
                self._stream.close()
        finally:
            ops().unlink(self.path, missing_ok=True)

    def __enter__(self) -> LocalStagedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
