"""The one graph walker: refs (and reflogs) → commits → trees → blobs, for gc, fsck and crash reports.

Each object is visited once and remembers a single back-pointer: the object that first
reached it and how (``parent of …``, ``commit …``, ``project:path``). The human path that
fsck prints ("reached from ref P/heads/main → parent of … → commit … → P:assets/x.wav") is
built from those pointers only when a problem is reported. Keeping that path as a string
per object grew with the length of history and made fsck quadratic in time and memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import TypeVar

from casstore.clock import parse_iso
from casstore.errors import CorruptObject, ObjectMissing
from casstore.model.objects import Commit, Tree, TreeEntry
from casstore.model.tree_scan import TreeScan, scan_tree
from casstore.storage.codec import ObjectReader
from casstore.storage.store import Store

# Given an object id and what it should be ("commit" or "tree"), its bytes; None when it
# cannot be had (missing or damaged: the loader records that as it sees fit).
Loader = Callable[[str, str], bytes | None]
# Given a tree id, its content in chunks (reading them to the end verifies it), or None to
# leave the tree to the loader. A tree that does not stream cleanly (unreadable, damaged,
# not canonical, invalid) is loaded again with the Loader, which reports what is wrong.
Streamer = Callable[[str], Iterable[bytes] | None]
T = TypeVar("T")
# Trees are read in pieces below glibc's mmap threshold: transient, the same size each
# time, reused from the heap rather than mapped and unmapped (or left as holes in it).
TREE_CHUNK = 64 << 10


def _nothing(*_args: object) -> None:
    """The default for a callback the caller does not need."""


class GraphWalk:
    """Walks commits, trees and blobs from named roots; each object once, with one back-pointer."""

    def __init__(
        self,
        load: Loader,
        on_invalid: Callable[[str, str], None] = _nothing,
        on_entry: Callable[[str, TreeEntry], None] = _nothing,
        stream: Streamer | None = None,
    ) -> None:
        self.load = load
        # Trees read as they stream: no tree's whole bytes and no object per entry are held
        # (a 100,000-file tree: ~17 MB of bytes and ~30 MB of entries, issue 17).
        self.stream = stream
        self.on_invalid = on_invalid  # (object id, what is wrong): a commit or tree that does not decode
        self.on_entry = on_entry  # (tree id, entry): a blob reached for the first time
        # object -> the object that first reached it (None: a root). A tuple and a
        # "project:path" string per blob were ~170 bytes a file more (issue 17); what
        # reached a blob is found again in its tree when a problem is reported.
        self.back: dict[str, str | None] = {}
        self._roots: dict[str, str] = {}  # a root commit -> where the walk started (``ref X``)
        self._trees: set[str] = set()
        self._entry: tuple[str, str, TreeEntry] | None = None  # (tree, project, entry) in on_entry
        self._scanned: tuple[str, dict[str, str]] | None = None  # a tree read again for paths: blob -> path
        self.commits = 0
        self.trees = 0

    def __contains__(self, oid: object) -> bool:
        return oid in self.back

    def reached(self) -> AbstractSet[str]:
        """Return every object reached so far (commits, trees and blobs): a live view, not a copy."""
        return self.back.keys()

    def path(self, oid: str) -> str:
        """Return how ``oid`` was first reached, from its root: ``ref X → commit … → P:path``."""
        steps = []
        current: str | None = oid
        while current is not None:
            previous = self.back[current]
            steps.append(self._how(current, previous))
            current = previous
        return " → ".join(reversed(steps))

    def _how(self, oid: str, previous: str | None) -> str:
        if previous is None:
            return self._roots[oid]
        if previous not in self._trees:
            return f"commit {previous[:12]}" if oid in self._trees else f"parent of {previous[:12]}"
        if self._entry is not None and self._entry[0] == previous and self._entry[2].sha256 == oid:
            return f"{self._entry[1]}:{self._entry[2].path}"
        if self._scanned is None or self._scanned[0] != previous:
            found: dict[str, str] = {}
            tree = self._listing(previous)
            if tree is not None:
                for at in range(len(tree)):
                    found.setdefault(tree.sha256(at), f"{tree.project_id}:{tree.paths[at]}")
            self._scanned = (previous, found)
        return self._scanned[1].get(oid, f"tree {previous[:12]}")

    def from_commit(self, oid: str, root: str) -> None:
        """Walk everything commit ``oid`` reaches; ``root`` names where the walk started (``ref X``)."""
        if oid in self.back:
            return
        self.back[oid] = None
        self._roots[oid] = root
        pending = [oid]
        while pending:
            oid = pending.pop()
            commit = self._decode(oid, "commit", Commit.decode)
            if commit is None:
                continue
            self.commits += 1
            self._tree(commit.tree, oid)
            for parent in reversed(commit.parents):
                if parent not in self.back:
                    self.back[parent] = oid
                    pending.append(parent)

    def _decode(self, oid: str, what: str, decode: Callable[[str, bytes], T]) -> T | None:
        """Load and decode one commit or tree; None when it cannot be had or does not decode."""
        raw = self.load(oid, what)
        if raw is None:
            return None
        try:
            return decode(oid, raw)
        except CorruptObject as exc:
            self.on_invalid(oid, str(exc).split(": ", 1)[-1])
            return None

    def _tree(self, oid: str, commit: str) -> None:
        if oid in self.back:
            return
        self.back[oid] = commit
        self._trees.add(oid)
        tree = self._listing(oid)
        if tree is None:
            return
        self.trees += 1
        back = self.back
        for at in range(len(tree)):
            blob = tree.sha256(at)
            if blob not in back:
                back[blob] = oid
                entry = tree.entry(at)
                self._entry = (oid, tree.project_id, entry)
                self.on_entry(oid, entry)
        self._entry = None

    def _listing(self, oid: str) -> TreeScan | None:
        """Read one tree (streamed when it can be); None when it cannot be had or does not decode."""
        if self.stream is not None:
            try:
                chunks = self.stream(oid)
                found = scan_tree(chunks) if chunks is not None else None
            except (CorruptObject, ObjectMissing):
                found = None  # the loader reads it again and reports it
            if found is not None:
                return found
        return self._decode(oid, "tree", _decode_tree)


def _decode_tree(oid: str, raw: bytes) -> TreeScan:
    """Read a tree from its bytes: scanned when canonical, else by Tree.decode (which names a problem)."""
    return scan_tree((raw,)) or TreeScan.of(Tree.decode(oid, raw), len(raw))


def chunks_of(reader: ObjectReader) -> Iterator[bytes]:
    """Yield the content ``reader`` streams to its end (where it is verified), then close it."""
    with reader:
        while chunk := reader.read(TREE_CHUNK):
            yield chunk


def stream_trees(store: Store, tick: Callable[[], None] = _nothing) -> Streamer:
    """Return a :data:`Streamer` of ``store``'s trees (``tick`` is called at each)."""

    def stream(oid: str) -> Iterator[bytes]:
        tick()
        return chunks_of(store.objects.reader(oid))

    return stream


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


def reachable(store: Store, start: Iterable[str], tick: Callable[[], None] = _nothing) -> AbstractSet[str]:
    """Return every commit, tree and blob reachable from ``start`` (missing or damaged objects are skipped).

    ``tick`` is called at each object loaded (gc refreshes its lease there).
    """

    def load(oid: str, _what: str) -> bytes | None:
        tick()
        try:
            return store.objects.read_bytes(oid)
        except (CorruptObject, ObjectMissing):
            return None

    walk = GraphWalk(load, stream=stream_trees(store, tick))
    for oid in sorted(start):
        walk.from_commit(oid, "root")
    return walk.reached()
