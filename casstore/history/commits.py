"""Commits and their history: reading trees and commits, making commits, walking first parents."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from dataclasses import dataclass

from casstore.clock import utc_now_iso
from casstore.errors import CasstoreError, RevisionError
from casstore.model.objects import Commit, Tree
from casstore.storage.atomic import host_name
from casstore.storage.store import Store


def default_author() -> str:
    """Return ``CASSTORE_AUTHOR`` or ``user@host``, as git derives a default identity."""
    configured = os.environ.get("CASSTORE_AUTHOR")
    if configured:
        return configured
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{host_name()}"


def read_commit(store: Store, oid: str) -> Commit:
    """Read and parse commit ``oid`` (verified)."""
    return Commit.decode(oid, store.objects.read_bytes(oid))


def read_tree(store: Store, oid: str) -> Tree:
    """Read and parse tree ``oid`` (verified)."""
    return Tree.decode(oid, store.objects.read_bytes(oid))


def is_commit(store: Store, oid: str) -> bool:
    """Tell whether ``oid`` is a commit in the store."""
    try:
        read_commit(store, oid)
    except (CasstoreError, OSError):  # missing, corrupt, or not a commit
        return False
    return True


def new_commit(
    tree: str,
    parents: list[str],
    project_id: str,
    kind: str,
    message: str,
    mutation_id: str | None = None,
    author: str | None = None,
    created_at: str | None = None,
) -> Commit:
    """Build (but do not store) a commit stamped now (or at ``created_at``)."""
    return Commit(
        tree=tree,
        parents=tuple(parents),
        project_id=project_id,
        kind=kind,
        message=message,
        author=author or default_author(),
        created_at=created_at or utc_now_iso(),
        mutation_id=mutation_id,
    )


@dataclass(frozen=True)
class LogEntry:
    """A commit with its id, as ``log`` lists it."""

    oid: str
    commit: Commit


def walk_first_parent(store: Store, start: str, limit: int | None = None) -> Iterator[LogEntry]:
    """Yield ``start`` and its first-parent ancestors, newest first."""
    oid: str | None = start
    count = 0
    seen: set[str] = set()
    while oid and (limit is None or count < limit):
        if oid in seen:
            raise RevisionError(f"history of {start[:12]} loops at {oid[:12]}")
        seen.add(oid)
        commit = read_commit(store, oid)
        yield LogEntry(oid, commit)
        count += 1
        oid = commit.parents[0] if commit.parents else None
