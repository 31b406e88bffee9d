"""A stored tree held compactly: verified like :meth:`Tree.decode`, but with no object per entry.

A 100,000-file tree decoded to :class:`TreeEntry` objects is ~30 MiB beside its ~17 MB of
bytes; the viewer and ``recover`` only look entries up, list a role, or check a tree is
sound, so they keep the paths, packed digests, sizes and roles instead (~12 MiB, issue 17).
"""

from __future__ import annotations

import io
import re
import sys
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from casstore.errors import CorruptObject, PathRuleError
from casstore.model.objects import (
    _CANONICAL_ENTRY,
    _CANONICAL_HEAD,
    _CANONICAL_TAIL,
    ROLES,
    Tree,
    TreeEntry,
    _json_string,
)
from casstore.model.paths import check_unique_paths, path_problem

if TYPE_CHECKING:
    from casstore.storage.store import Store

_ROLE_INDEX = {role.encode(): index for index, role in enumerate(ROLES)}
_MANIFEST_ROLE = ROLES.index("manifest")
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class TreeTable:
    """A verified tree: paths (sorted), packed 32-byte digests, sizes and role indexes, one slot per entry."""

    project_id: str
    manifest: str | None
    paths: list[str]
    digests: bytes
    sizes: Sequence[int]
    roles: bytes  # index into ROLES

    def __len__(self) -> int:
        return len(self.paths)

    def sha256(self, index: int) -> str:
        """Return the content id of the entry at ``index``."""
        return self.digests[index * 32 : index * 32 + 32].hex()

    def role(self, index: int) -> str:
        """Return the role of the entry at ``index``."""
        return ROLES[self.roles[index]]

    def entry(self, index: int) -> TreeEntry:
        """Return the entry at ``index`` as a :class:`TreeEntry` (made on demand)."""
        return TreeEntry(self.paths[index], self.sha256(index), self.sizes[index], self.role(index))

    def index(self, path: str) -> int | None:
        """Return the index of ``path``, or None when the tree does not hold it."""
        at = bisect_left(self.paths, path)
        return at if at < len(self.paths) and self.paths[at] == path else None

    def entries(self) -> Iterator[TreeEntry]:
        """Yield every entry in path order."""
        return (self.entry(i) for i in range(len(self.paths)))

    def by_role(self, role: str) -> list[TreeEntry]:
        """Return the entries with ``role``."""
        wanted = ROLES.index(role)
        return [self.entry(i) for i, r in enumerate(self.roles) if r == wanted]


def _sizes(values: list[int]) -> Sequence[int]:
    try:
        return array("Q", values)  # 8 bytes a size, not an int object each
    except OverflowError:
        return values  # a non-canonical tree may claim sizes past 64 bits; Tree.decode accepts them


def _from_tree(tree: Tree) -> TreeTable:
    entries = tree.entries
    return TreeTable(
        tree.project_id,
        tree.manifest,
        [e.path for e in entries],
        b"".join(bytes.fromhex(e.sha256) for e in entries),
        _sizes([e.size for e in entries]),
        bytes(ROLES.index(e.role) for e in entries),
    )


def decode_table(oid: str, raw: bytes) -> TreeTable:
    """Parse a tree object as :meth:`Tree.decode` does (same checks, same errors), held as a :class:`TreeTable`.

    The canonical encoding is scanned in place; any other shape, or any problem, goes through
    :meth:`Tree.decode`, which checks everything and names what is wrong.
    """
    table = _scan(oid, _Feed(raw))
    return table if table is not None else _from_tree(Tree.decode(oid, raw))


class _Feed:
    """A tree's bytes from ``pos`` on: all of them, or a window onto a reader that grows as it is scanned."""

    def __init__(self, data: bytes, read: Callable[[int], bytes] | None = None) -> None:
        self.data, self.pos, self.read = data, 0, read

    def more(self) -> bool:
        """Append the next chunk, dropping what was scanned; False once everything is here."""
        if self.read is None:
            return False
        chunk = self.read(_READ_CHUNK)  # the object reader checks the id when it reaches the end
        self.read = self.read if chunk else None
        self.data, self.pos = self.data[self.pos :] + chunk, 0
        return True

    def match(self, pattern: re.Pattern[bytes]) -> re.Match[bytes] | None:
        """Match ``pattern`` here, reading on while the match could still depend on bytes not read yet."""
        while True:
            found = pattern.match(self.data, self.pos)
            # The patterns have no lookahead: a match ending before the window's end is final.
            if found is not None and (found.end() < len(self.data) or self.read is None):
                return found
            if not self.more():
                return None


def _scan(oid: str, feed: _Feed) -> TreeTable | None:
    """Scan a canonical tree; None for any other shape or problem (:meth:`Tree.decode` then judges it)."""
    head = _CANONICAL_HEAD
    while len(feed.data) <= len(head) and feed.more():
        pass
    if not (feed.data.startswith(head) and feed.data[len(head) : len(head) + 1] == b"\n"):
        return None
    paths: list[str] = []
    digests = bytearray()
    sizes = array("Q")
    roles = bytearray()
    feed.pos, more = len(head), True
    try:
        while more:
            match = feed.match(_CANONICAL_ENTRY)
            if match is None:
                return None
            path = _json_string(match.group(1))
            if path_problem(path) or (paths and paths[-1] >= path):
                return None  # not sorted, a duplicate or a bad path: Tree.decode says which
            paths.append(sys.intern(path))
            roles.append(_ROLE_INDEX[match.group(2)])
            digests += bytes.fromhex(match.group(3).decode())
            sizes.append(int(match.group(4)))
            feed.pos, more = match.end(), match.group(5) == b","
        while feed.more():
            pass  # the tail, and the end of the stream (where the reader checks the id)
        tail = _CANONICAL_TAIL.fullmatch(feed.data, feed.pos) if paths else None
        manifest = None if tail is None or tail.group(1) == b"null" else tail.group(1)[1:-1].decode()
        if tail is None or (manifest is not None and not _lists_manifest(manifest, digests, roles)):
            return None
        project_id = _json_string(tail.group(2))
    except (ValueError, UnicodeDecodeError, OverflowError):
        return None  # an escape json refuses, or a size past 64 bits: Tree.decode judges it
    try:
        check_unique_paths(paths, lambda _path: "entry")
    except PathRuleError as exc:
        raise CorruptObject(oid, f"not a valid tree: {exc}") from None
    return TreeTable(project_id, manifest, paths, bytes(digests), sizes, bytes(roles))


def _lists_manifest(manifest: str, digests: bytearray, roles: bytearray) -> bool:
    wanted = bytes.fromhex(manifest)
    return any(role == _MANIFEST_ROLE and digests[i * 32 : i * 32 + 32] == wanted for i, role in enumerate(roles))


def read_object(store: Store, oid: str) -> bytes:
    """Return an object's verified content, read in chunks into one buffer (no second whole copy)."""
    buffer = io.BytesIO()
    with store.objects.reader(oid) as reader:
        while chunk := reader.read(_READ_CHUNK):
            buffer.write(chunk)
    return buffer.getvalue()


def read_tree_table(store: Store, oid: str) -> TreeTable:
    """Read and verify tree ``oid`` as a :class:`TreeTable` (errors as :func:`read_tree`'s).

    A canonical tree is scanned as it is read, never held whole beside its table (17 MB at
    100,000 files, issue 17); any other shape is read again whole and judged as before.
    """
    with store.objects.reader(oid) as reader:
        table = _scan(oid, _Feed(b"", reader.read))
    return table if table is not None else decode_table(oid, read_object(store, oid))
