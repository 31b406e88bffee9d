"""The S3 backend: a store's files, refs, reflogs and leases as objects under ``s3://bucket/prefix``, via obstore.

Layout under the prefix (docs/remotes.md):

- files (objects, packs, indexes, caches) under their store-relative key, written
  create-only (``If-None-Match: *``) and stamped with the backend clock's time;
- ``refs/<name>``: JSON ``{commit, gen, prev, by, at, nonce}`` whose ETag is the ref's version,
  created with ``If-None-Match: *`` and moved with ``If-Match: <etag>``. Deleting a ref
  writes a body whose commit is null, so ``gen`` never restarts and an old ETag never
  matches again;
- ``logs/<name>/<gen>``: one create-only object per reflog line;
- ``locks/<name>.lease``: JSON ``{owner, by, expires, nonce}``, create-only; refreshed, released
  and (once expired) taken over with ``If-Match``.

Requests, retries and errors are in :mod:`casstore.storage.backend_s3_client`; streaming reads and
staged writes in :mod:`casstore.storage.backend_s3_io`.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from casstore.clock import format_iso
from casstore.errors import RefConflict, RefError, RefLocked
from casstore.storage import canonical
from casstore.storage.backend import FileStat, StoredFileMissing
from casstore.storage.backend_s3_client import MTIME, RemoteError, S3Client, UnsafeRemote, parse_s3_url
from casstore.storage.backend_s3_io import RangeReader, S3StagedFile

if TYPE_CHECKING:
    from obstore import PutMode

__all__ = ["RemoteError", "S3Backend", "S3Lease", "UnsafeRemote", "parse_s3_url", "probe"]

REFS, LOGS, LOCKS = "refs/", "logs/", "locks/"
LEASE_ATTEMPTS = 8
_GEN_DIGITS = 12


def _live(body: dict[str, Any] | None, etag: str | None) -> tuple[str | None, str | None]:
    """Return ``(commit, version)`` of a ref body, ``(None, None)`` for no object or a deleted ref's body."""
    if body is None or body["commit"] is None:
        return None, None
    return body["commit"], etag


class S3Backend(S3Client):
    """Files, refs, reflogs and leases in an S3-compatible bucket, every write conditional where it matters."""

    # Files -----------------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        """Return the content of ``key``."""
        return bytes(self._get(key).bytes())

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes of ``key`` from ``offset``."""
        if length <= 0:
            self.stat(key)
            return b""
        try:
            return bytes(self._get(key, {"range": (offset, offset + length)}).bytes())
        except RemoteError:
            if offset >= self.stat(key).size:  # S3 answers 416 for a range past the end
                return b""
            raise

    def open_reader(self, key: str) -> BinaryIO:
        """Open ``key`` for seekable reads in bounded memory: ranged GETs pinned to the ETag seen at open.

        A file up to one read block is read whole at open, so it outlives a delete; a larger
        one deleted or replaced while open raises StoredFileMissing at the next block.
        """
        try:
            result = self._get(key, {"range": (0, self.read_block)})
        except RemoteError:
            if self.stat(key).size == 0:  # S3 answers 416 for any range of an empty file
                return io.BytesIO(b"")
            raise
        meta, first = result.meta, memoryview(result.bytes())
        if meta["size"] <= len(first):
            return io.BytesIO(bytes(first))
        raw = RangeReader(self, key, meta["size"], str(meta["e_tag"]), first, self.read_block)
        return io.BufferedReader(raw, buffer_size=64 << 10)

    def stage(self, label: str) -> S3StagedFile:
        """Start a file whose key is known only at the end, spooled to a local temp file."""
        return S3StagedFile(self, label)

    def put(self, key: str, content: bytes) -> None:
        """Store ``content`` under ``key``, replacing what was there (durable when S3 answers)."""
        self._put(key, content)

    def sync(self) -> None:
        """Nothing to do: an S3 PUT is durable and visible when it returns."""

    def put_if_absent(self, key: str, content: bytes) -> bool:
        """Store ``content`` under ``key`` with ``If-None-Match: *``; False if it exists."""
        from obstore.exceptions import AlreadyExistsError

        try:
            self._put(key, content, mode="create")
        except AlreadyExistsError:
            return False
        return True

    def has(self, key: str) -> bool:
        """Tell whether ``key`` exists."""
        try:
            self.stat(key)
        except StoredFileMissing:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        """Return the keys starting with ``prefix``, sorted (S3 lists by folder; the rest is filtered here)."""
        import obstore

        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        found: builtins.list[str] = []

        def listing() -> None:
            found.clear()
            for chunk in obstore.list(self._store, folder or None, chunk_size=1000):
                found.extend(meta["path"] for meta in chunk if meta["path"].startswith(prefix))

        self._call("list", prefix or "/", listing)
        return sorted(found)

    def delete(self, key: str) -> None:
        """Remove ``key`` (S3 answers a delete of a missing key with success)."""
        import obstore

        with contextlib.suppress(StoredFileMissing):
            self._call("delete", key, lambda: obstore.delete(self._store, key))

    def stat(self, key: str) -> FileStat:
        """Return the size of ``key`` and the time the backend clock stamped on it (else the server's)."""
        result = self._get(key, {"head": True})
        modified = result.meta["last_modified"].timestamp()
        with contextlib.suppress(KeyError, ValueError):
            modified = float(result.attributes[MTIME])
        return FileStat(int(result.meta["size"]), modified)

    def touch(self, key: str) -> None:
        """Stamp ``key`` with the clock's now by writing it again (S3 cannot change a time in place)."""
        from obstore.exceptions import PreconditionError

        try:
            result = self._get(key)
        except StoredFileMissing:
            return
        meta = result.meta
        if meta["size"] > self.single_put_limit:
            staged = S3StagedFile(self, "touch")
            for chunk in result.stream(min_chunk_size=1 << 20):
                staged.write(chunk)
            staged.replace(key)
            return
        with contextlib.suppress(PreconditionError):  # changed or deleted meanwhile
            self._put(key, bytes(result.bytes()), mode={"e_tag": meta["e_tag"]})

    # Refs ------------------------------------------------------------------------------------

    def _read_ref_body(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        """GET ref ``name``: its parsed body and ETag, or ``(None, None)`` when it has no object; remember both."""
        try:
            result = self._get(REFS + name)
        except StoredFileMissing:
            body, etag = None, None
        else:
            body = self._parse(REFS + name, bytes(result.bytes()), ("gen",))
            if not isinstance(body.get("gen"), int) or not isinstance(body.get("commit"), str | None):
                raise RefError(f"{self.url}/{REFS}{name}: not a casstore ref body (commit, gen)")
            etag = str(result.meta["e_tag"])
        with self._seen_lock:
            self._seen[name] = (body, etag)
        return body, etag

    def _parse(self, key: str, raw: bytes, needed: tuple[str, ...]) -> dict[str, Any]:
        try:
            body = canonical.loads(raw)
        except ValueError as exc:
            raise RefError(f"{self.url}/{key}: not JSON ({exc})") from None
        if not isinstance(body, dict) or any(field not in body for field in needed):
            raise RefError(f"{self.url}/{key}: not a casstore body (needs {', '.join(needed)})")
        return body

    def read_ref(self, name: str) -> tuple[str | None, str | None]:
        """Return the ref's commit and its ETag, or ``(None, None)`` when it is absent or deleted."""
        return _live(*self._read_ref_body(name))

    def compare_and_swap(self, name: str, expected: str | None, new: str | None, log_line: bytes) -> str | None:
        """Write the ref's next body with If-Match on ``expected`` (If-None-Match when absent), then its log entry.

        The base is the body this backend last read when that is the version expected (the
        conditional PUT is the check, so a stale base can only fail), else a fresh GET.
        """
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        with self._seen_lock:
            seen = self._seen.get(name)
        if seen is None or _live(*seen)[1] != expected:
            seen = self._read_ref_body(name)
        for _attempt in range(2):
            body, etag = seen
            if _live(body, etag)[1] != expected:
                raise self._conflict(name, expected, _live(body, etag)[1])
            fresh = {
                "commit": new,
                "gen": (body["gen"] if body is not None else 0) + 1,
                "prev": body["commit"] if body is not None else None,
                "by": self.by,
                "at": format_iso(datetime.fromtimestamp(self.clock(), UTC)),
                "nonce": secrets.token_hex(8),
            }
            mode: PutMode = {"e_tag": etag} if etag is not None else "create"
            try:
                version: str | None = str(self._put(REFS + name, canonical.dumps_line(fresh), mode=mode)["e_tag"])
            except (AlreadyExistsError, PreconditionError):
                # Lost the race, or obstore retried a PUT that had landed (then the ref holds our body).
                seen = self._read_ref_body(name)
                if seen[0] != fresh:
                    continue  # the next round raises the conflict, unless the base was only stale
                version = seen[1]
            with self._seen_lock:
                self._seen[name] = (fresh, version)
            with contextlib.suppress(AlreadyExistsError):  # a retried request already wrote it
                self._put(f"{LOGS}{name}/{fresh['gen']:0{_GEN_DIGITS}d}", log_line, mode="create")
            return version if new is not None else None
        raise self._conflict(name, expected, _live(*seen)[1])

    def _conflict(self, name: str, expected: str | None, found: str | None) -> RefConflict:
        return RefConflict(
            f"ref {name} moved while this command ran (expected {expected or 'absent'}, "
            f"found {found or 'absent'}); run it again"
        )

    def list_refs(self, prefix: str = "") -> dict[str, str]:
        """Return ``{name: commit}`` of every live ref under ``prefix`` (one GET each)."""
        found = {}
        for key in self.list(REFS + prefix):
            value = self.read_ref(key[len(REFS) :])[0]
            if value is not None:
                found[key[len(REFS) :]] = value
        return found

    def _log_keys(self, name: str) -> builtins.list[str]:
        folder = f"{LOGS}{name}/"
        return [key for key in self.list(folder) if re.fullmatch(r"\d+", key[len(folder) :])]

    def read_log(self, name: str) -> bytes:
        """Return the reflog of ``name``: its entries in order of generation."""
        return b"".join(self.get(key) for key in self._log_keys(name))

    def list_logs(self) -> builtins.list[str]:
        """Return the refs that have reflog entries."""
        entries = (key[len(LOGS) :].rsplit("/", 1) for key in self.list(LOGS))
        return sorted({entry[0] for entry in entries if len(entry) == 2 and re.fullmatch(r"\d+", entry[1])})

    def expire_log(self, name: str, expired: Callable[[bytes], bool]) -> int:
        """Delete each entry of ``name``'s reflog that ``expired`` picks: every entry is an object of its own.

        Nothing is rewritten, so a move logged meanwhile (a new key) is never touched, and a
        crash part way leaves only entries that were to go anyway.
        """
        dropped = 0
        for key in self._log_keys(name):
            try:
                lines = self.get(key).splitlines()
            except StoredFileMissing:
                continue  # another gc took it
            if lines and all(expired(line) for line in lines):
                self.delete(key)
                dropped += len(lines)
        return dropped

    def ref_locks(self) -> builtins.list[str]:
        """Ref updates are conditional writes on the server: no lock is ever left behind."""
        return []

    # Leases ----------------------------------------------------------------------------------

    def _lease_body(self, owner: str, expires: float) -> bytes:
        return canonical.dumps_line({"owner": owner, "by": self.by, "expires": expires, "nonce": secrets.token_hex(8)})

    def acquire(self, name: str, ttl: float, owner: str) -> S3Lease:
        """Create ``locks/<name>.lease`` create-only, or take over an expired one with If-Match on its ETag."""
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        key = f"{LOCKS}{name}.lease"
        for attempt in range(LEASE_ATTEMPTS):
            expires = self.clock() + ttl
            try:
                etag = self._put(key, self._lease_body(owner, expires), mode="create")["e_tag"]
                return S3Lease(self, name, owner, expires, str(etag))
            except AlreadyExistsError:
                pass
            try:
                result = self._get(key)
            except StoredFileMissing:
                continue
            try:
                held = self._parse(key, bytes(result.bytes()), ())
            except RefError:
                held = {}  # not a lease body (damaged): no expiry, so it is taken over like an expired one
            until = held.get("expires")
            if isinstance(until, int | float) and until > self.clock():
                shown = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(until))
                raise RefLocked(
                    f"{name} is held by {held.get('owner', 'another process')} until {shown} UTC; retry when it is done"
                )
            try:
                mode: PutMode = {"e_tag": str(result.meta["e_tag"])}
                etag = self._put(key, self._lease_body(owner, expires), mode=mode)["e_tag"]
                return S3Lease(self, name, owner, expires, str(etag))
            except PreconditionError:
                self._pause(attempt)  # another taker was first: look again
        raise RefLocked(f"{name}: could not take the lease (too many concurrent takers)")


class S3Lease:
    """A lease object; every change is conditional on the ETag this holder last wrote."""

    def __init__(self, backend: S3Backend, name: str, owner: str, expires: float, etag: str) -> None:
        self.backend, self.name, self.owner, self.expires, self.etag = backend, name, owner, expires, etag

    def _rewrite(self, expires: float) -> str:
        key = f"{LOCKS}{self.name}.lease"
        body = self.backend._lease_body(self.owner, expires)
        return str(self.backend._put(key, body, mode={"e_tag": self.etag})["e_tag"])

    def refresh(self, ttl: float) -> None:
        """Extend the lease, unless it expired and another holder took it over."""
        from obstore.exceptions import PreconditionError

        expires = self.backend.clock() + ttl
        try:
            self.etag = self._rewrite(expires)
        except PreconditionError:
            raise RefLocked(f"lease {self.name} was lost: it expired and was taken over") from None
        self.expires = expires

    def release(self) -> None:
        """Mark the lease expired if it is still ours (an unconditional delete could remove a new holder's)."""
        from obstore.exceptions import PreconditionError

        with contextlib.suppress(PreconditionError):
            self.etag = self._rewrite(0.0)


def probe(backend: S3Backend) -> None:
    """Refuse a server that ignores conditional writes: a second create-only PUT of one key must fail."""
    from obstore.exceptions import PreconditionError

    key = f"probe/{secrets.token_hex(8)}"
    try:
        backend.put_if_absent(key, b"first\n")
        if backend.put_if_absent(key, b"second\n") or backend.get(key) != b"first\n":
            raise UnsafeRemote(
                f"{backend.url}: this server ignores conditional writes (If-None-Match): refs could be lost; "
                "use a server that honours them (AWS S3, SeaweedFS)"
            )
        try:
            backend._put(key, b"third\n", mode={"e_tag": '"' + "0" * 32 + '"'})
        except PreconditionError:
            return
        raise UnsafeRemote(
            f"{backend.url}: this server ignores conditional writes (If-Match): a ref could be moved over a newer "
            "one; use a server that honours them (AWS S3, SeaweedFS)"
        )
    finally:
        backend.delete(key)
