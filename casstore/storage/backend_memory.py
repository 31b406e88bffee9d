"""A backend held in memory: the contract's reference, and a fast store for tests."""

from __future__ import annotations

import builtins
import io
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from casstore.errors import RefConflict, RefLocked
from casstore.storage.backend import FileStat, StoredFileMissing


@dataclass
class _MemoryLease:
    """A lease in a :class:`MemoryBackend`."""

    backend: MemoryBackend
    name: str
    owner: str
    expires: float
    token: int

    def refresh(self, ttl: float) -> None:
        """Extend the lease, unless another holder took it over."""
        with self.backend._lock:
            if self.backend._leases.get(self.name, (None, 0.0, -1))[2] != self.token:
                raise RefLocked(f"lease {self.name} was lost: it expired and {self.name} was taken over")
            self.expires = self.backend.clock() + ttl
            self.backend._leases[self.name] = (self.owner, self.expires, self.token)

    def release(self) -> None:
        """Give the lease up if it is still ours."""
        with self.backend._lock:
            if self.backend._leases.get(self.name, (None, 0.0, -1))[2] == self.token:
                del self.backend._leases[self.name]


class _MemoryStagedFile:
    """Bytes gathered in memory until published under a key."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self._content: bytearray | None = bytearray()

    def write(self, chunk: bytes | memoryview) -> int:
        """Append ``chunk``."""
        if self._content is None:
            raise ValueError("write to a staged file that was already published or discarded")
        self._content.extend(chunk)
        return len(chunk)

    def tell(self) -> int:
        """Return the bytes written so far."""
        return len(self._content or b"")

    def publish(self, key: str) -> bool:
        """Store the bytes under ``key`` unless it exists."""
        if self._content is None:
            raise ValueError("a staged file is published once")
        content, self._content = bytes(self._content), None
        return self.backend.put_if_absent(key, content)

    def discard(self) -> None:
        """Drop the bytes."""
        self._content = None

    def __enter__(self) -> _MemoryStagedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


@dataclass
class MemoryBackend:
    """Files, refs, reflogs and leases in dictionaries; versions are generation numbers."""

    clock: Callable[[], float] = time.time
    _files: dict[str, tuple[bytes, float]] = field(default_factory=dict)
    _refs: dict[str, tuple[str, str]] = field(default_factory=dict)
    _logs: dict[str, bytearray] = field(default_factory=dict)
    _leases: dict[str, tuple[str, float, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def get(self, key: str) -> bytes:
        """Return the content of ``key``."""
        with self._lock:
            if key not in self._files:
                raise StoredFileMissing(key)
            return self._files[key][0]

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``key`` from ``offset``."""
        return self.get(key)[offset : offset + length]

    def open_reader(self, key: str) -> BinaryIO:
        """Open a snapshot of ``key``'s content (a later delete does not change it)."""
        return io.BytesIO(self.get(key))

    def stage(self, label: str) -> _MemoryStagedFile:
        """Start a file whose key is known only at the end."""
        return _MemoryStagedFile(self)

    def put(self, key: str, content: bytes) -> None:
        """Store ``content`` under ``key``, replacing what was there."""
        with self._lock:
            self._files[key] = (bytes(content), self.clock())

    def sync(self) -> None:
        """Nothing to do: memory has no directory entries to make durable."""

    def put_if_absent(self, key: str, content: bytes) -> bool:
        """Store ``content`` unless ``key`` exists."""
        with self._lock:
            if key in self._files:
                return False
            self._files[key] = (bytes(content), self.clock())
            return True

    def has(self, key: str) -> bool:
        """Tell whether ``key`` exists."""
        with self._lock:
            return key in self._files

    def list(self, prefix: str) -> list[str]:
        """Return the keys under ``prefix``, sorted."""
        with self._lock:
            return sorted(key for key in self._files if key.startswith(prefix))

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        with self._lock:
            self._files.pop(key, None)

    def stat(self, key: str) -> FileStat:
        """Return the size and time of ``key``."""
        with self._lock:
            if key not in self._files:
                raise StoredFileMissing(key)
            content, modified = self._files[key]
            return FileStat(len(content), modified)

    def touch(self, key: str) -> None:
        """Freshen ``key``'s time."""
        with self._lock:
            if key in self._files:
                self._files[key] = (self._files[key][0], self.clock())

    def read_ref(self, name: str) -> tuple[str | None, str | None]:
        """Return the value and generation of ``name``."""
        with self._lock:
            value, version = self._refs.get(name, (None, None))
            return value, version

    def compare_and_swap(self, name: str, expected: str | None, new: str | None, log_line: bytes) -> str | None:
        """Move ``name`` only from generation ``expected``; every write gets a new generation."""
        with self._lock:
            current = self._refs.get(name, (None, None))[1]
            if current != expected:
                raise RefConflict(
                    f"ref {name} moved while this command ran (expected {expected or 'absent'}, "
                    f"found {current or 'absent'}); run it again"
                )
            version = None
            if new is None:
                self._refs.pop(name, None)
            else:
                version = f"g{next(self._generation)}"
                self._refs[name] = (new, version)
            self._logs.setdefault(name, bytearray()).extend(log_line)
            return version

    def list_refs(self, prefix: str = "") -> dict[str, str]:
        """Return every ref under ``prefix`` with its value."""
        with self._lock:
            return {name: value for name, (value, _v) in sorted(self._refs.items()) if name.startswith(prefix)}

    def read_log(self, name: str) -> bytes:
        """Return the reflog of ``name``."""
        with self._lock:
            return bytes(self._logs.get(name, b""))

    def list_logs(self) -> builtins.list[str]:
        """Return the refs that have a reflog."""
        with self._lock:
            return sorted(self._logs)

    def expire_log(self, name: str, expired: Callable[[bytes], bool]) -> int:
        """Drop the lines of ``name``'s reflog that ``expired`` picks (the reflog goes when none is left)."""
        with self._lock:
            lines = bytes(self._logs.get(name, b"")).splitlines(keepends=True)
            kept = [line for line in lines if not expired(line.rstrip(b"\r\n"))]
            if kept:
                self._logs[name] = bytearray(b"".join(kept))
            else:
                self._logs.pop(name, None)
            return len(lines) - len(kept)

    def ref_locks(self) -> builtins.list[str]:
        """Ref updates hold an in-process mutex only: nothing is ever left behind."""
        return []

    def acquire(self, name: str, ttl: float, owner: str) -> _MemoryLease:
        """Take lease ``name`` unless a holder's lease is still running."""
        with self._lock:
            now = self.clock()
            held = self._leases.get(name)
            if held is not None and held[1] > now:
                raise RefLocked(f"{name} is held by {held[0]} for {held[1] - now:.0f} s more; retry later")
            token = next(self._generation)
            self._leases[name] = (owner, now + ttl, token)
            return _MemoryLease(self, name, owner, now + ttl, token)
