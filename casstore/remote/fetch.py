"""Fetch, pull and clone: download the packs this store lacks, verify every byte, then move local refs.

Order matters, so that no local ref ever reaches an object that is not here and whole:

1. read the remote's refs *before* listing its packs: a pusher uploads its pack before it
   moves a ref, so every ref value read has its pack in the listing that follows;
2. copy each pack holding an object this store lacks, streaming: the pack's BLAKE3 trailer,
   its index's trailer, and every object's SHA-256 (decoded) are checked while it is written
   to this store's staging area; a pack failing any check is dropped and the fetch stops;
3. walk from the fetched commits and check that everything they reach is here;
4. only then move the remote-tracking refs (``P/remotes/<remote>.<branch>``) and add tags.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from casstore.bundles.bundle import ProgressFn
from casstore.clock import utc_now_iso
from casstore.errors import CasstoreError, ObjectError, RefConflict
from casstore.history.reachability import GraphWalk
from casstore.remote.push import RefUpdate, is_ancestor
from casstore.remote.remotes import (
    DEFAULT_REMOTE,
    Connector,
    Remote,
    add_remote,
    open_remote,
    tracked_branch,
    tracking_ref,
)
from casstore.storage.atomic import ensure_dir
from casstore.storage.backend import StoredFileMissing
from casstore.storage.codec import ObjectReader
from casstore.storage.fileops import ops
from casstore.storage.ids import CHUNK_SIZE
from casstore.storage.packs import DIGEST_SIZE, PACK_MAGIC, Pack, index_key, pack_key
from casstore.storage.refs import split_ref
from casstore.storage.store import Store


class RemoteCorrupt(CasstoreError):
    """Something downloaded from a remote failed its check (digest or object hash): nothing was fetched."""

    exit_code = 1


@dataclass
class FetchResult:
    """What a fetch downloaded and which local refs it moved."""

    remote: str
    url: str
    packs: list[str] = field(default_factory=list)
    objects_received: int = 0
    bytes_received: int = 0
    updates: list[RefUpdate] = field(default_factory=list)
    remote_refs: dict[str, str] = field(default_factory=dict)  # the remote's refs as read and verified

    def as_json(self) -> dict[str, Any]:
        """Return the summary ``fetch --json`` prints."""
        return {
            "remote": self.remote,
            "url": self.url,
            "packs": self.packs,
            "objects_received": self.objects_received,
            "bytes_received": self.bytes_received,
            "updates": [update.as_json() for update in self.updates],
        }


def blake3_hasher() -> Any:
    """Return a BLAKE3 hasher, the one packs are named by."""
    from blake3 import blake3

    return blake3(max_threads=1)


class _Tee:
    """Reads exactly ``length`` bytes of a stream, passing each chunk to the pack's copy and its hasher."""

    def __init__(self, stream: BinaryIO, length: int, sinks: tuple[Callable[[bytes], Any], ...]) -> None:
        self._stream, self._left, self._sinks = stream, length, sinks

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        chunk = self._stream.read(n)
        if not chunk:
            raise EOFError
        self._left -= len(chunk)
        for sink in self._sinks:
            sink(chunk)
        return chunk

    def drain(self) -> None:
        while self.read(CHUNK_SIZE):
            pass

    def close(self) -> None:
        """Leave the pack's stream open: the next object follows in it."""


def check_index(remote: Remote, name: str) -> bytes:
    """Return the index of pack ``name`` if its BLAKE3 trailer matches its bytes."""
    raw = remote.backend.get(index_key(name))
    hasher = blake3_hasher()
    hasher.update(raw[:-DIGEST_SIZE])
    if len(raw) < DIGEST_SIZE or hasher.digest() != raw[-DIGEST_SIZE:]:
        raise RemoteCorrupt(f"{remote.url}/{index_key(name)}: BLAKE3 digest does not match its bytes; nothing fetched")
    return raw


def check_pack(remote: Remote, pack: Pack, write: Callable[[bytes], object], hasher: Any) -> None:
    """Stream the pack's objects to ``write`` in order, decoding each to check its SHA-256, then its trailer."""
    where = f"{remote.url}/{pack.pack_key}"

    def keep(chunk: bytes) -> None:
        write(chunk)
        hasher.update(chunk)

    with remote.backend.open_reader(pack.pack_key) as stream:
        head = stream.read(len(PACK_MAGIC))
        if head != PACK_MAGIC:
            raise RemoteCorrupt(f"{where}: not a casstore pack; nothing fetched")
        keep(head)
        position = len(PACK_MAGIC)
        for offset, length, oid in sorted(zip(pack.offsets, pack.lengths, pack.ids, strict=True)):
            if offset != position:
                raise RemoteCorrupt(f"{where}: its index does not tile the pack at {offset}; nothing fetched")
            tee = _Tee(stream, length, (keep,))
            try:
                ObjectReader(oid, tee).read_to_end()  # type: ignore[arg-type]
                tee.drain()
            except (ObjectError, EOFError) as exc:
                detail = str(exc) if isinstance(exc, ObjectError) else f"object {oid} is cut short"
                raise RemoteCorrupt(f"{where}: {detail}; nothing fetched") from None
            position += length
        trailer = stream.read(DIGEST_SIZE + 1)
    if trailer != hasher.digest():
        raise RemoteCorrupt(f"{where}: BLAKE3 digest does not match its bytes; nothing fetched")
    write(trailer)


def copy_pack(store: Store, remote: Remote, pack: Pack) -> int:
    """Copy one remote pack into this store after checking every byte of it; return its size."""
    index = check_index(remote, pack.name)
    staged = store.backend.stage("fetch")
    try:
        check_pack(remote, pack, staged.write, blake3_hasher())
        size = staged.tell()
        staged.publish(pack_key(pack.name))
    finally:
        staged.discard()
    # As a pack written here: its name durable before an index names it.
    store.backend.sync()
    store.backend.put_if_absent(index_key(pack.name), index)
    return size


def _download(store: Store, remote: Remote, result: FetchResult, progress: ProgressFn | None) -> None:
    """Copy every remote pack that holds an object this store lacks."""
    names = [name for name in remote.pack_names() if not store.backend.has(index_key(name))]
    wanted = []
    for pack in remote.load_packs(names):
        missing = store.objects.missing(pack.ids)
        if missing:
            wanted.append((pack, len(missing)))
    total = sum(count for _pack, count in wanted)
    for pack, count in wanted:
        try:
            result.bytes_received += copy_pack(store, remote, pack)
        except StoredFileMissing as exc:
            raise CasstoreError(f"{remote.url}: {exc} (a remote gc removed it meanwhile?); fetch again") from None
        result.packs.append(pack.name)
        result.objects_received += count
        if progress is not None:
            progress(result.objects_received, total)
    store.objects.reload_packs()


def check_complete(store: Store, commits: set[str], url: str) -> None:
    """Refuse (RemoteCorrupt) when anything ``commits`` reach is missing here or does not decode."""
    known = set(store.refs.list().values())  # already complete: local refs reach only whole history
    blobs: set[str] = set()
    problems: list[str] = []

    def load(oid: str, _what: str) -> bytes | None:
        if oid in known and oid not in commits:
            return None
        try:
            return store.objects.read_bytes(oid)
        except ObjectError as exc:
            problems.append(str(exc))
            return None

    walk = GraphWalk(
        load,
        on_invalid=lambda oid, why: problems.append(f"object {oid}: {why}"),
        on_entry=lambda _tree, entry: blobs.add(entry.sha256),
    )
    for oid in sorted(commits):
        walk.from_commit(oid, "fetch")
    problems.extend(f"object {oid} is missing from the store" for oid in sorted(store.objects.missing(blobs)))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RemoteCorrupt(f"{url}: the remote's refs reach what no pack holds: {problems[0]}{more}; no ref moved")


def _move_local(store: Store, ref: str, new: str | None, why: str, when: str) -> RefUpdate:
    """Point local ``ref`` at ``new`` (None: delete), reporting how it moved."""
    old = store.refs.read(ref)
    if old == new:
        return RefUpdate(ref, old, new, "up-to-date")
    if new is None:
        status = "deleted"
    elif old is None:
        status = "created"
    else:
        status = "fast-forward" if is_ancestor(store, old, new) else "forced"
    store.refs.compare_and_swap(ref, old, new, why, when)
    return RefUpdate(ref, old, new, status)


def _track(store: Store, remote: Remote, refs: dict[str, str], when: str) -> list[RefUpdate]:
    """Mirror the remote's branches as tracking refs and add the tags this store lacks."""
    updates = []
    why = f"fetch {remote.name}"
    wanted: dict[str, str | None] = {}
    for ref, oid in refs.items():
        project, namespace, short = split_ref(ref)
        if namespace == "heads":
            wanted[tracking_ref(project, remote.name, short)] = oid
    for ref in store.refs.list():
        if tracked_branch(ref, remote.name) is not None and ref not in wanted:
            wanted[ref] = None  # the branch was deleted on the remote
    for ref, target in sorted(wanted.items()):
        updates.append(_move_local(store, ref, target, why, when))
    for ref, oid in sorted(refs.items()):
        if split_ref(ref)[1] != "tags":
            continue
        local = store.refs.read(ref)
        if local is None:
            updates.append(_move_local(store, ref, oid, why, when))
        elif local != oid:
            updates.append(RefUpdate(ref, local, oid, "kept"))  # git keeps a local tag that differs
    return updates


def fetch(
    store: Store, remote: Remote, progress: ProgressFn | None = None, clock: Callable[[], str] | None = None
) -> FetchResult:
    """Download what ``remote`` has and this store lacks, verify it, then update the remote-tracking refs."""
    clock = clock or utc_now_iso
    result = FetchResult(remote.name, remote.url)
    if not remote.initialized():
        result.updates = _track(store, remote, {}, clock())
        return result
    result.remote_refs = remote.shared_refs()
    _download(store, remote, result, progress)
    check_complete(store, set(result.remote_refs.values()), remote.url)
    result.updates = _track(store, remote, result.remote_refs, clock())
    return result


@dataclass
class PullResult:
    """A fetch, then the local branches it fast-forwarded (and those it could not)."""

    fetched: FetchResult
    updates: list[RefUpdate] = field(default_factory=list)

    @property
    def diverged(self) -> list[RefUpdate]:
        """Return the branches that have commits on both sides (not moved)."""
        return [update for update in self.updates if update.status == "diverged"]

    def as_json(self) -> dict[str, Any]:
        """Return the summary ``pull --json`` prints."""
        return {**self.fetched.as_json(), "branches": [update.as_json() for update in self.updates]}


def fast_forward(store: Store, remote: Remote, projects: list[str] | None, when: str) -> list[RefUpdate]:
    """Move each local branch to its remote-tracking ref when that is a fast-forward (create missing ones)."""
    updates = []
    for ref, theirs in sorted(store.refs.list().items()):
        tracked = tracked_branch(ref, remote.name)
        if tracked is None or (projects and tracked[0] not in projects):
            continue
        branch = f"{tracked[0]}/heads/{tracked[1]}"
        ours = store.refs.read(branch)
        if ours is None or is_ancestor(store, ours, theirs):
            updates.append(_move_local(store, branch, theirs, f"pull {remote.name}: fast-forward", when))
        elif is_ancestor(store, theirs, ours):
            updates.append(RefUpdate(branch, ours, ours, "ahead"))
        else:
            updates.append(RefUpdate(branch, ours, theirs, "diverged"))
    return updates


def pull(
    store: Store,
    remote: Remote,
    projects: list[str] | None = None,
    progress: ProgressFn | None = None,
    clock: Callable[[], str] | None = None,
) -> PullResult:
    """Fetch, then fast-forward local branches (of ``projects``, or all) to the remote's."""
    fetched = fetch(store, remote, progress, clock)
    return PullResult(fetched, fast_forward(store, remote, projects, (clock or utc_now_iso)()))


@dataclass
class CloneResult:
    """A new store made from a remote."""

    store: Store
    fetched: FetchResult
    refs: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        """Return the summary ``clone --json`` prints."""
        return {"store": str(self.store.root), **self.fetched.as_json(), "refs": self.refs}


def clone(
    url: str,
    directory: Path,
    endpoint: str | None = None,
    region: str | None = None,
    connect: Connector | None = None,
    progress: ProgressFn | None = None,
) -> CloneResult:
    """Make a new store at ``directory`` holding everything at ``url``: its branches, tags and autosaves.

    The remote is recorded as ``origin``. A clone that fails leaves no store behind.
    """
    existed = directory.exists()
    store = Store.init(directory)
    try:
        add_remote(store, DEFAULT_REMOTE, url, endpoint, region, connect)
        remote = open_remote(store, DEFAULT_REMOTE, connect)
        if not remote.initialized():
            raise CasstoreError(f"{remote.url}: nothing was pushed there yet (no casstore.json)")
        fetched = fetch(store, remote, progress)
        when = utc_now_iso()
        made = {}
        for ref, oid in sorted(fetched.remote_refs.items()):
            if split_ref(ref)[1] in ("heads", "autosave"):  # tags were added by the fetch
                with contextlib.suppress(RefConflict):
                    store.refs.compare_and_swap(ref, None, oid, f"clone {remote.url}", when)
            made[ref] = oid
        return CloneResult(store, fetched, made)
    except BaseException:
        ops().remove_tree(store.root)
        if existed:
            ensure_dir(store.root)
        raise
