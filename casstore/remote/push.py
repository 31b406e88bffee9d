"""Push: upload what the remote lacks as one pack, then move its refs by compare-and-swap.

In order, so a crash at any point loses nothing and a re-run sends only what is missing:

1. read the remote's refs and refuse what is not a fast-forward (``FetchFirst``) before
   sending a byte; ``force`` skips that check but still swaps against the value read
   (git's ``--force-with-lease``), never blindly;
2. read the remote's pack indexes: they say exactly which objects it holds, including
   those of a push that died before moving its refs (packs remote gc marked for
   deletion are not relied on: their objects are sent again);
3. walk from the pushed commits (the one graph walker), stopping at objects the remote
   holds, and upload the rest as ONE pack named by its BLAKE3, create-only, then its index;
   then check that no pack relied on was marked or deleted meanwhile (else send again);
4. move each ref with compare-and-swap; then prune the remote's autosaves to the newest five.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from casstore.bundles.bundle import ProgressFn
from casstore.clock import utc_now_iso
from casstore.errors import CasstoreError, ObjectError, RefConflict, RefError, RefLocked, UsageError
from casstore.history.autosaves import DEFAULT_KEEP, AutosaveItem, normal_time, select_pruned
from casstore.history.commits import read_commit
from casstore.history.reachability import GraphWalk
from casstore.model.objects import Commit
from casstore.remote.remotes import SHARED_NAMESPACES, FetchFirst, Remote, mark_key
from casstore.storage.packs import DIGEST_SIZE, Pack, write_pack
from casstore.storage.refs import split_ref
from casstore.storage.store import Store

# A compare-and-swap that loses to another pusher moving the ref to an ancestor of ours
# (or to our own commit) is tried again, this many times, before giving up.
CAS_ATTEMPTS = 4
# A push whose packs remote gc marks or deletes before its swap uploads their objects again,
# at most this many times in all.
UPLOAD_ATTEMPTS = 3
# Remote gc's lease, held by a push only to take its mark off the push's own pack.
GC_LEASE = "gc"
UNMARK_LEASE_SECONDS = 60.0


@dataclass
class RefUpdate:
    """One ref a push, fetch or pull considered: where it was, where it goes, and what happened."""

    ref: str
    old: str | None
    new: str | None
    status: str  # created | fast-forward | forced | up-to-date | pruned | deleted | kept

    def as_json(self) -> dict[str, Any]:
        """Return the update as the commands' JSON prints it."""
        return {"ref": self.ref, "old": self.old, "new": self.new, "status": self.status}


@dataclass
class PushResult:
    """What a push sent and which remote refs it moved."""

    remote: str
    url: str
    updates: list[RefUpdate] = field(default_factory=list)
    pack: str | None = None
    objects_sent: int = 0
    bytes_sent: int = 0

    def as_json(self) -> dict[str, Any]:
        """Return the summary ``push --json`` prints."""
        return {
            "remote": self.remote,
            "url": self.url,
            "pack": self.pack,
            "objects_sent": self.objects_sent,
            "bytes_sent": self.bytes_sent,
            "updates": [update.as_json() for update in self.updates],
        }


def select_refs(store: Store, targets: list[str] | None) -> dict[str, str]:
    """Return the local refs to push: every head, tag and autosave, or those of the projects and refs named."""
    local = {ref: oid for ref, oid in store.refs.list().items() if split_ref(ref)[1] in SHARED_NAMESPACES}
    if not targets:
        if not local:
            raise UsageError("nothing to push: this store has no branches, tags or autosaves")
        return local
    chosen: dict[str, str] = {}
    for target in targets:
        if "/" in target:
            namespace = split_ref(target)[1]
            if namespace not in SHARED_NAMESPACES:
                raise UsageError(f"cannot push {target}: only heads, tags and autosaves are pushed")
            if target not in local:
                raise UsageError(f"cannot push {target}: no such ref in this store")
            chosen[target] = local[target]
            continue
        found = {ref: oid for ref, oid in local.items() if ref.split("/", 1)[0] == target}
        if not found:
            raise UsageError(f"cannot push {target}: no project or ref of that name in this store")
        chosen.update(found)
    return chosen


def is_ancestor(store: Store, ancestor: str, descendant: str) -> bool:
    """Tell whether commit ``ancestor`` is ``descendant`` or one of its ancestors (False if it is not here)."""
    if ancestor == descendant:
        return True
    if not store.objects.has(ancestor):
        return False
    seen, pending = {descendant}, [descendant]
    while pending:
        for parent in read_commit(store, pending.pop()).parents:
            if parent == ancestor:
                return True
            if parent not in seen:
                seen.add(parent)
                pending.append(parent)
    return False


def _plan(store: Store, remote: Remote, chosen: dict[str, str], force: bool) -> list[RefUpdate]:
    """Compare each ref with the remote's; refuse (FetchFirst) anything that is not a fast-forward."""
    remote_refs = remote.refs.list()
    updates, refused = [], []
    for ref, new in sorted(chosen.items()):
        old = remote_refs.get(ref)
        if old == new:
            updates.append(RefUpdate(ref, old, new, "up-to-date"))
        elif old is None:
            updates.append(RefUpdate(ref, None, new, "created"))
        elif split_ref(ref)[1] == "heads" and is_ancestor(store, old, new):
            updates.append(RefUpdate(ref, old, new, "fast-forward"))
        elif force:
            updates.append(RefUpdate(ref, old, new, "forced"))
        else:
            refused.append(ref)
    if refused:
        shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise FetchFirst(
            f"{remote.url}: {shown} on the remote has commits this store lacks or is not an ancestor of "
            "what is pushed: fetch first (pull), then push again",
            hint="force" if all(split_ref(ref)[1] != "heads" for ref in refused) else None,
        )
    return updates


def missing_objects(store: Store, packs: list[Pack], commits: list[str]) -> set[str]:
    """Return every object reachable from ``commits`` that no remote pack holds (local objects verified)."""

    def have(oid: str) -> bool:
        return any(pack.has(oid) for pack in packs)

    def load(oid: str, _what: str) -> bytes | None:
        # An object the remote holds brings everything it reaches (packs are uploaded whole,
        # before the refs that reach them), so the walk stops there.
        return None if have(oid) else store.objects.read_bytes(oid)

    walk = GraphWalk(load)
    for oid in sorted(set(commits)):
        walk.from_commit(oid, "push")
    return {oid for oid in walk.reached() if not have(oid)}


def _usable_packs(remote: Remote) -> list[Pack]:
    """Return the remote's packs a push may rely on: all but those remote gc marked for deletion."""
    packs = remote.packs()
    marked = remote.marked_packs()
    return [pack for pack in packs if pack.name not in marked]


def _still_usable(remote: Remote, packs: list[Pack], own: str | None) -> tuple[list[Pack], bool]:
    """Drop the packs remote gc marked or deleted since they were read; tell whether any was.

    Run just before the swap: a pack marked later is deleted only a full grace after its
    mark, long after this push's refs reach it (and gc then keeps it). The push's ``own``
    pack can be a marked one, when it holds exactly the same objects: then it is unmarked.
    """
    marked = remote.marked_packs()
    if own is not None and own in marked:
        _unmark_own(remote, own)
        marked.discard(own)
    listed = set(remote.pack_names())
    kept = [pack for pack in packs if pack.name in listed and pack.name not in marked]
    return kept, len(kept) != len(packs)


def _unmark_own(remote: Remote, name: str) -> None:
    """Remove remote gc's mark on the pack this push just wrote, holding gc's lease so no gc is deleting it."""
    try:
        lease = remote.backend.acquire(GC_LEASE, UNMARK_LEASE_SECONDS, f"casstore push (unmarking {name})")
    except RefLocked:
        raise CasstoreError(
            f"{remote.url}: a remote gc is running and marked {name}, the pack this push needs; "
            "push again when it is done"
        ) from None
    try:
        # Under the lease no gc deletes; a pack gone already is seen as lost by the caller.
        remote.backend.delete(mark_key(name))
    finally:
        lease.release()


def _upload(store: Store, remote: Remote, needed: set[str], progress: ProgressFn | None) -> tuple[Pack | None, int]:
    """Write ``needed`` as one pack on the remote (create-only, named by its BLAKE3); return it and its size."""
    if not needed:
        return None, 0
    total, done = len(needed), 0

    def open_stored(oid: str) -> BinaryIO:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)
        # A delta goes out resolved: its base may not be on the remote, or not in this pack.
        return store.objects.open_portable(oid)

    pack = write_pack(needed, open_stored, remote.backend)
    # The pack's size from its own index (objects, then the digest): no request needed.
    size = max(map(sum, zip(pack.offsets, pack.lengths, strict=True))) + DIGEST_SIZE if pack is not None else 0
    return pack, size


def _move(store: Store, remote: Remote, update: RefUpdate, when: str) -> None:
    """Swap one remote ref from the value read to the pushed one; a lost race is FetchFirst unless still ours."""
    why = f"push: {update.status}"
    for _attempt in range(CAS_ATTEMPTS):
        try:
            remote.refs.compare_and_swap(update.ref, update.old, update.new, why, when)
            return
        except RefConflict:
            current = remote.refs.read(update.ref)
        if current == update.new:
            return  # another pusher sent the very same commit
        fast_forward = current is not None and update.new is not None and is_ancestor(store, current, update.new)
        if update.status == "forced" or not fast_forward or split_ref(update.ref)[1] != "heads":
            raise FetchFirst(
                f"{remote.url}: {update.ref} moved on the remote while this push ran (to "
                f"{(current or 'absent')[:12]}): fetch first (pull), then push again"
            )
        update.old = current
    raise FetchFirst(f"{remote.url}: {update.ref} keeps moving on the remote: fetch first (pull), then push again")


def _commit_time(store: Store, remote: Remote, oid: str) -> str:
    """Return a commit's time, read locally or else from the remote's packs ("" when unreadable)."""
    with contextlib.suppress(CasstoreError, OSError):
        return read_commit(store, oid).created_at
    with contextlib.suppress(CasstoreError, OSError):
        return Commit.decode(oid, remote.objects.read_bytes(oid)).created_at
    return ""


def prune_remote_autosaves(
    store: Store, remote: Remote, projects: set[str], when: str, keep: int = DEFAULT_KEEP
) -> list[RefUpdate]:
    """Delete all but the newest ``keep`` autosave refs of ``projects`` on the remote, by the local keep rule."""
    pruned = []
    for project in sorted(projects):
        refs = remote.refs.list(project, "autosave")
        items = {
            AutosaveItem(ref.rsplit("/", 1)[1], normal_time(_commit_time(store, remote, oid))): ref
            for ref, oid in refs.items()
        }
        for item in select_pruned(list(items), keep):
            ref = items[item]
            with contextlib.suppress(RefConflict, RefError):  # a concurrent push pruned it first
                remote.refs.compare_and_swap(ref, refs[ref], None, "push: autosave pruned", when)
                pruned.append(RefUpdate(ref, refs[ref], None, "pruned"))
    return pruned


def push(
    store: Store,
    remote: Remote,
    targets: list[str] | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    clock: Callable[[], str] | None = None,
) -> PushResult:
    """Push heads, tags and autosaves (all, or of the projects and refs in ``targets``) to ``remote``."""
    chosen = select_refs(store, targets)
    when = (clock or utc_now_iso)()
    remote.initialize(when)
    updates = _plan(store, remote, chosen, force)
    result = PushResult(remote.name, remote.url, updates)
    moving = [update for update in updates if update.status != "up-to-date"]
    if not moving:
        return result
    commits = [update.new for update in moving if update.new]
    packs = _usable_packs(remote)
    for _attempt in range(UPLOAD_ATTEMPTS):
        try:
            needed = missing_objects(store, packs, commits)
        except ObjectError as exc:
            raise CasstoreError(f"cannot push: {exc} (run 'fsck')") from None
        pack, size = _upload(store, remote, needed, progress)
        if pack is not None:
            packs.append(pack)
            result.pack = pack.name
        result.objects_sent += len(needed)
        result.bytes_sent += size
        packs, lost = _still_usable(remote, packs, pack.name if pack else None)
        if not lost:
            break
    else:
        raise CasstoreError(f"{remote.url}: a remote gc keeps deleting the packs this push relies on; push again")
    _move_refs(store, remote, moving, when)
    autosaved = {split_ref(update.ref)[0] for update in moving if split_ref(update.ref)[1] == "autosave"}
    result.updates.extend(prune_remote_autosaves(store, remote, autosaved, when))
    return result


def _move_refs(store: Store, remote: Remote, moving: list[RefUpdate], when: str) -> None:
    """Move the remote refs, objects first already done; heads last, so tags and autosaves never lag a head."""
    for update in sorted(moving, key=lambda each: (split_ref(each.ref)[1] == "heads", each.ref)):
        _move(store, remote, update, when)
