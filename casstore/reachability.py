"""Which objects the refs (and recent reflog entries) reach: the set gc keeps."""

from __future__ import annotations

from datetime import datetime

from casstore.clock import parse_iso
from casstore.errors import CorruptObject, ObjectMissing
from casstore.objects import Commit, Tree
from casstore.store import Store


def roots(store: Store, reflog_since: datetime | None) -> set[str]:
    """Return every ref target, plus reflog values newer than ``reflog_since`` (None: all)."""
    found = set(store.refs.list().values())
    for entry in store.refs.reflog():
        try:
            recent = reflog_since is None or parse_iso(entry.when) >= reflog_since
        except ValueError:
            recent = True  # an unreadable time is kept rather than guessed
        if recent:
            found.update(oid for oid in (entry.old, entry.new) if oid)
    return found


def reachable(store: Store, start: set[str]) -> set[str]:
    """Return every commit, tree and blob reachable from ``start`` (missing objects are skipped)."""
    seen: set[str] = set()
    pending = list(start)
    while pending:
        oid = pending.pop()
        if oid in seen:
            continue
        seen.add(oid)
        try:
            commit = Commit.decode(oid, store.objects.read_bytes(oid))
        except (CorruptObject, ObjectMissing):
            continue
        pending.extend(commit.parents)
        if commit.tree in seen:
            continue
        seen.add(commit.tree)
        try:
            tree = Tree.decode(commit.tree, store.objects.read_bytes(commit.tree))
        except (CorruptObject, ObjectMissing):
            continue
        seen.update(entry.sha256 for entry in tree.entries)
    return seen
