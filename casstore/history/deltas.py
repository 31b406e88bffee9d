"""Choosing delta bases for gc and repack: each file against the same path in its commit's first parent.

A pattern with three changed steps, a retouched mixer snapshot, a trimmed sample and the
tree listing them all are most like what the same path held one commit earlier. Commits
are visited parents first, so a chain runs from old to new; a chain stops at
:data:`~casstore.storage.delta.MAX_DEPTH`, and the next revision is stored whole.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass

from casstore.errors import CorruptObject, ObjectMissing
from casstore.model.objects import Commit
from casstore.model.tree_scan import TreeScan
from casstore.model.tree_table import read_tree_table
from casstore.storage.delta import MAX_DEPTH, PATCH_LIMIT, SPLICE_HEAD_LIMIT
from casstore.storage.store import Store

# Smaller objects gain nothing from a delta: the 41 bytes of its header eat the saving.
MIN_DELTA_SIZE = 256


@dataclass(frozen=True)
class Planned:
    """A delta gc will try: the object, its base, their content sizes, and the chain depth it makes."""

    base: str
    size: int
    base_size: int
    depth: int


def _fits(size: int, base_size: int) -> bool:
    """Tell whether a patch (both small) or a splice (both past a splice's head) can apply."""
    if min(size, base_size) < MIN_DELTA_SIZE:
        return False
    return max(size, base_size) <= PATCH_LIMIT or min(size, base_size) > 2 * SPLICE_HEAD_LIMIT


# What planning needs of a commit: its tree and its parents (a decoded Commit with its
# message, author and times was ~1 KiB a commit, for every commit of the history).
Links = tuple[str, tuple[str, ...]]


def _commits_parents_first(store: Store, starts: Iterable[str], tick: Callable[[], None]) -> dict[str, Links]:
    """Return every commit reachable from ``starts`` as ``{id: (tree, parents)}``, each after its parents."""
    decoded: dict[str, Links | None] = {}
    order: dict[str, Links] = {}
    for start in sorted(starts):
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            oid, expanded = stack.pop()
            if expanded:
                links = decoded[oid]
                if links is not None:
                    order[oid] = links
                continue
            if oid in decoded:
                continue
            tick()
            decoded[oid] = links = _links(store, oid)
            stack.append((oid, True))
            if links is not None:
                stack.extend((parent, False) for parent in reversed(links[1]) if parent not in decoded)
    return order


def _links(store: Store, oid: str) -> Links | None:
    try:
        commit = Commit.decode(oid, store.objects.read_bytes(oid))
    except (CorruptObject, ObjectMissing):
        return None  # fsck reports it; gc plans around it
    return commit.tree, tuple(commit.parents)


class _Trees:
    """The last two trees used (least recently used goes first): a commit's tree is its child's parent tree next.

    Each is held as a :class:`TreeScan`, streamed from the store: two decoded trees and the
    bytes of a third were gc's peak at 100,000 files (~90 MiB traced, issue 17).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cache: dict[str, TreeScan | None] = {}

    def get(self, oid: str) -> TreeScan | None:
        if oid in self.cache:
            self.cache[oid] = self.cache.pop(oid)  # most recently used last: it is evicted last
        else:
            if len(self.cache) >= 2:
                self.cache.pop(next(iter(self.cache)))
            try:
                self.cache[oid] = read_tree_table(self.store, oid, share_paths=False)
            except (CorruptObject, ObjectMissing):
                self.cache[oid] = None
        return self.cache[oid]


def _changed(now: TreeScan, before: TreeScan) -> Iterator[tuple[int, int]]:
    """Yield (new, old) positions of paths both trees hold with different content: a merge of two sorted lists.

    A dict of path -> (id, size) per tree was ~150 bytes a file, twice (issue 17).
    """
    old_paths, count = before.paths, len(before)
    old = 0
    for at, path in enumerate(now.paths):
        while old < count and old_paths[old] < path:
            old += 1
        if old < count and old_paths[old] == path and now.digest(at) != before.digest(old):
            yield at, old


def plan_deltas(
    store: Store, starts: Iterable[str], candidates: Container[str], tick: Callable[[], None] = lambda: None
) -> dict[str, Planned]:
    """Return, for objects of ``candidates``, the base each may be stored against (also in ``candidates``).

    An object gets a base only while nothing is stored against it yet, so no chain ever
    loops or grows past what was counted; a chain is at most MAX_DEPTH deep.
    """
    planned: dict[str, Planned] = {}
    bases: set[str] = set()
    trees = _Trees(store)

    def consider(target: str, base: str, size: int, base_size: int) -> None:
        if target == base or target in planned or target in bases or target not in candidates:
            return
        if base not in candidates or not _fits(size, base_size):
            return
        depth = (planned[base].depth if base in planned else 0) + 1
        if depth <= MAX_DEPTH:
            planned[target] = Planned(base, size, base_size, depth)
            bases.add(base)

    commits = _commits_parents_first(store, starts, tick)
    for tree, parents in commits.values():
        parent = commits.get(parents[0]) if parents else None
        if parent is None or parent[0] == tree:
            continue
        tick()
        before = trees.get(parent[0])  # first: the tree read last time, kept while ``now`` is read
        now = trees.get(tree)
        if now is None or before is None:
            continue
        consider(tree, parent[0], now.length, before.length)
        for at, old in _changed(now, before):
            consider(now.sha256(at), before.sha256(old), now.sizes[at], before.sizes[old])
    return planned
