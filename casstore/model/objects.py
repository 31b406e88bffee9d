"""The object model: trees (a bundle's listing) and commits, both canonical JSON."""

from __future__ import annotations

import functools
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from json.encoder import encode_basestring as _string
from typing import Any

from casstore.errors import CorruptObject, PathRuleError
from casstore.model.paths import check_unique_paths, path_problem
from casstore.storage import canonical
from casstore.storage.ids import id_of_bytes, is_object_id

ROLES = ("manifest", "pattern", "mixer_snapshot", "sampler_asset", "file")
KINDS = ("save", "import", "autosave", "checkpoint")
TREE_VERSION = 1
COMMIT_VERSION = 1


@dataclass(frozen=True, slots=True)  # one per file of a tree: no per-instance dict
class TreeEntry:
    """One bundle file: its path, content id, size and role."""

    path: str
    sha256: str
    size: int
    role: str

    def as_json(self) -> dict[str, Any]:
        """Return the entry as it appears in the tree's JSON."""
        return {"path": self.path, "sha256": self.sha256, "size": self.size, "role": self.role}


@dataclass(frozen=True)
class Tree:
    """A bundle's listing: every file, the manifest included, sorted by path."""

    project_id: str
    manifest: str | None  # None only for a checkpoint or autosave of a directory without a manifest
    entries: tuple[TreeEntry, ...]

    def encode(self) -> bytes:
        """Return the canonical bytes of this tree."""
        return self._encoded

    @functools.cached_property
    def _encoded(self) -> bytes:
        # Encoded once (its id, its storing and its comparison all need the bytes), piece by
        # piece into one buffer: a list of every entry's text, the joined text and its bytes
        # alive at once were ~550 bytes a file (issue 17).
        # A BytesIO hands over its buffer: bytes(bytearray) copied it, and the copy was the
        # peak of an import of 100,000 files (two 17 MiB buffers at once).
        buf = io.BytesIO()
        for chunk in tree_chunks(self):
            buf.write(chunk)
        return buf.getvalue()

    @property
    def id(self) -> str:
        """Return this tree's object id."""
        return id_of_bytes(self.encode())

    def by_role(self, role: str) -> list[TreeEntry]:
        """Return the entries with ``role``."""
        return [entry for entry in self.entries if entry.role == role]

    @property
    def total_size(self) -> int:
        """Return the bundle's size in bytes."""
        return sum(entry.size for entry in self.entries)

    @classmethod
    def decode(cls, oid: str, raw: bytes) -> Tree:
        """Parse a tree object, raising CorruptObject when it is not a valid tree."""
        # A canonical tree is read straight from its bytes: json would first copy them into a
        # str and make a dict per entry (a 100,000-entry tree: ~35 MiB of its ~72, issue 17).
        # Any other shape goes through json, and both go through the same checks.
        tree = _decode_canonical_tree(raw) or cls._decode_json(oid, raw)
        entries = tree.entries
        for entry in entries:
            if not is_object_id(entry.sha256) or entry.role not in ROLES or entry.size < 0:
                raise CorruptObject(oid, f"not a valid tree: bad entry {entry.path!r}")
            # The bundle's path rules hold for stored trees too: a crafted tree that escapes
            # the bundle is refused when it arrives and reported by fsck, not at every restore.
            problem = path_problem(entry.path)
            if problem:
                raise CorruptObject(oid, f"not a valid tree: entry {entry.path!r} {problem}")
        if any(a.path > b.path for a, b in pairwise(entries)):
            raise CorruptObject(oid, "not a valid tree: entries are not sorted by path")
        try:
            check_unique_paths((e.path for e in entries), lambda _path: "entry")
        except PathRuleError as exc:
            raise CorruptObject(oid, f"not a valid tree: {exc}") from None
        if tree.manifest is not None and not any(e.role == "manifest" and e.sha256 == tree.manifest for e in entries):
            raise CorruptObject(oid, "not a valid tree: its manifest is not among its entries")
        return tree

    @classmethod
    def _decode_json(cls, oid: str, raw: bytes) -> Tree:
        """Parse a tree in any JSON shape (the checks are :meth:`decode`'s)."""
        # Entries become TreeEntry as they are parsed: holding every entry's dict as well
        # doubled a big tree's memory (issue 17). Anything unusual stays a dict and is checked here.
        item = _decode_object(oid, raw, "tree", _entry_hook)
        try:
            if item["tree_version"] != TREE_VERSION:
                raise ValueError(f"tree_version {item['tree_version']!r} is not supported")
            entries = tuple(
                e
                if isinstance(e, TreeEntry)
                else TreeEntry(str(e["path"]), str(e["sha256"]), int(e["size"]), str(e["role"]))
                for e in item["entries"]
            )
            manifest = item["manifest"]
            return cls(str(item["project_id"]), None if manifest is None else str(manifest), entries)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptObject(oid, f"not a valid tree: {exc}") from None


def tree_chunks(tree: Tree, chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """Yield :meth:`Tree.encode`'s bytes in pieces of about ``chunk_size``, never the whole at once.

    A 100,000-file tree is ~17 MiB encoded: an import hashes and stores it streaming, twice
    over the entries rather than holding the bytes (issue 17).
    """
    entries = ((e.path, e.role, e.sha256, e.size) for e in sorted(tree.entries, key=lambda e: e.path))
    return encode_tree(entries, tree.manifest, tree.project_id, chunk_size)


def encode_tree(
    entries: Iterable[tuple[str, str, str, int]], manifest: str | None, project_id: str, chunk_size: int = 1 << 16
) -> Iterator[bytes]:
    """Yield a tree's canonical encoding from its (path, role, sha256, size) entries, sorted by path, in pieces.

    The one tree encoder (a Tree's bytes, an import's compact table): by hand, as json's
    indented (pure-Python) encoder took 0.3 s for a 10,000-file tree; the strings go through
    json's own C string encoder, so the bytes are canonical.dumps's exactly
    (tests/test_tree_encoding.py checks that on random trees).
    """
    text = _string
    buf = bytearray(b'{\n  "entries": [')
    sep = "\n"
    for path, role, sha256, size in entries:
        buf += (
            f'{sep}    {{\n      "path": {text(path)},\n      "role": {text(role)},\n'
            f'      "sha256": {text(sha256)},\n      "size": {int(size)!r}\n    }}'
        ).encode()
        sep = ",\n"
        if len(buf) >= chunk_size:
            yield bytes(buf)
            buf.clear()
    buf += b"]" if sep == "\n" else b"\n  ]"
    shown = "null" if manifest is None else text(manifest)
    project = text(project_id)
    buf += f',\n  "manifest": {shown},\n  "project_id": {project},\n  "tree_version": {TREE_VERSION}\n}}\n'.encode()
    yield bytes(buf)


@dataclass(frozen=True)
class TreeListing:
    """A tree's paths (sorted) and their raw 32-byte digests, packed: what comparing a directory needs."""

    paths: list[str]
    digests: bytes
    manifest: str | None

    def digest(self, index: int) -> bytes:
        """Return the raw digest of the entry at ``index``."""
        return self.digests[index * 32 : index * 32 + 32]


# Groups: path, role, sha256, size, "," when another entry follows.
_CANONICAL_ENTRY = re.compile(
    rb'\n    \{\n      "path": "((?:[^"\\\n]|\\.)*)",'
    rb'\n      "role": "(manifest|pattern|mixer_snapshot|sampler_asset|file)",'
    rb'\n      "sha256": "([0-9a-f]{64})",\n      "size": (0|[1-9][0-9]{0,18})\n    \}(,?)'
)
# Groups: manifest (null or quoted), project id (inside its quotes).
_CANONICAL_TAIL = re.compile(
    rb'\n  \],\n  "manifest": (null|"[0-9a-f]{64}"),\n  "project_id": "((?:[^"\\\n]|\\.)*)",\n  "tree_version": 1\n\}\n'
)
_CANONICAL_HEAD = b'{\n  "entries": ['


def _json_string(quoted: bytes) -> str:
    """Return the str a canonical JSON string's inside stands for."""
    return str(json.loads(b'"' + quoted + b'"')) if b"\\" in quoted else quoted.decode("utf-8")


def _decode_canonical_tree(raw: bytes) -> Tree | None:
    """Read a tree in its canonical encoding from the bytes; None for any other shape (json reads it)."""
    entries: list[TreeEntry] = []
    roles = _ROLE_NAMES
    pos, more = (
        len(_CANONICAL_HEAD),
        raw.startswith(_CANONICAL_HEAD) and raw[len(_CANONICAL_HEAD) : len(_CANONICAL_HEAD) + 1] == b"\n",
    )
    try:
        while more:
            match = _CANONICAL_ENTRY.match(raw, pos)
            if match is None:
                return None
            path, role, sha256, size, comma = match.groups()
            entries.append(
                TreeEntry(sys.intern(_json_string(path)), sys.intern(sha256.decode()), int(size), roles[role.decode()])
            )
            pos, more = match.end(), comma == b","
        tail = _CANONICAL_TAIL.fullmatch(raw, pos) if entries else None
        if tail is None:
            return None
        manifest = None if tail.group(1) == b"null" else tail.group(1)[1:-1].decode()
        return Tree(_json_string(tail.group(2)), manifest, tuple(entries))
    except (ValueError, UnicodeDecodeError):
        return None


def decode_listing(oid: str, raw: bytes) -> TreeListing:
    """Read a tree's paths and digests without an object per entry (status of 100,000 files, issue 17).

    Scans the canonical encoding directly; a tree in any other shape, or one with a problem,
    goes through :meth:`Tree.decode`, which checks everything and names what is wrong.
    """
    head = _CANONICAL_HEAD
    paths: list[str] = []
    digests = bytearray()
    pos, more = len(head), raw.startswith(head) and raw[len(head) : len(head) + 1] == b"\n"
    while more:
        match = _CANONICAL_ENTRY.match(raw, pos)
        if match is None:
            break
        path = _json_string(match.group(1))
        if path_problem(path) or (paths and paths[-1] >= path):
            break  # not sorted, a duplicate or a bad path: Tree.decode says which
        paths.append(sys.intern(path))
        digests += bytes.fromhex(match.group(3).decode())
        pos, more = match.end(), match.group(5) == b","
    tail = _CANONICAL_TAIL.fullmatch(raw, pos) if not more and paths else None
    if tail is None:
        tree = Tree.decode(oid, raw)
        return TreeListing(
            [e.path for e in tree.entries], b"".join(bytes.fromhex(e.sha256) for e in tree.entries), tree.manifest
        )
    manifest = None if tail.group(1) == b"null" else tail.group(1)[1:-1].decode()
    try:
        check_unique_paths(paths, lambda _path: "entry")
    except PathRuleError as exc:
        raise CorruptObject(oid, f"not a valid tree: {exc}") from None
    return TreeListing(paths, bytes(digests), manifest)


@dataclass(frozen=True)
class Commit:
    """One revision of a project: a tree, its parents and why it was made."""

    tree: str
    parents: tuple[str, ...]
    project_id: str
    kind: str
    message: str
    author: str
    created_at: str
    mutation_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        """Return the canonical bytes of this commit."""
        return canonical.dumps(
            {
                **self.extra,
                "commit_version": COMMIT_VERSION,
                "tree": self.tree,
                "parents": list(self.parents),
                "project_id": self.project_id,
                "kind": self.kind,
                "message": self.message,
                "author": self.author,
                "created_at": self.created_at,
                "mutation_id": self.mutation_id,
            }
        )

    @property
    def id(self) -> str:
        """Return this commit's object id."""
        return id_of_bytes(self.encode())

    @classmethod
    def decode(cls, oid: str, raw: bytes) -> Commit:
        """Parse a commit object, raising CorruptObject when it is not a valid commit."""
        item = _decode_object(oid, raw, "commit")
        known = {"commit_version", "tree", "parents", "project_id", "kind", "message", "author", "created_at"}
        try:
            if item["commit_version"] != COMMIT_VERSION:
                raise ValueError(f"commit_version {item['commit_version']!r} is not supported")
            commit = cls(
                tree=str(item["tree"]),
                parents=tuple(str(p) for p in item["parents"]),
                project_id=str(item["project_id"]),
                kind=str(item["kind"]),
                message=str(item["message"]),
                author=str(item["author"]),
                created_at=str(item["created_at"]),
                mutation_id=item.get("mutation_id"),
                extra={k: v for k, v in item.items() if k not in known | {"mutation_id"}},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptObject(oid, f"not a valid commit: {exc}") from None
        if not is_object_id(commit.tree) or not all(is_object_id(p) for p in commit.parents):
            raise CorruptObject(oid, "not a valid commit: bad tree or parent id")
        if commit.kind not in KINDS:
            raise CorruptObject(oid, f"not a valid commit: unknown kind {commit.kind!r}")
        return commit


_ENTRY_KEYS = {"path", "sha256", "size", "role"}
_ROLE_NAMES = {role: role for role in ROLES}  # one str per role, not one per entry


def _entry_hook(item: dict[str, Any]) -> Any:
    """Turn a well-typed tree entry into a TreeEntry while parsing; leave anything else as it is."""
    if item.keys() == _ENTRY_KEYS:
        path, sha256, size, role = item["path"], item["sha256"], item["size"], item["role"]
        if type(path) is str and type(sha256) is str and type(size) is int and type(role) is str:
            # Interned: the stat cache, the manifest and the listing hold the same paths and digests.
            return TreeEntry(sys.intern(path), sys.intern(sha256), size, _ROLE_NAMES.get(role, role))
    return item


def _decode_object(
    oid: str, raw: bytes, what: str, object_hook: Callable[[dict[str, Any]], Any] | None = None
) -> dict[str, Any]:
    try:
        item = canonical.loads(raw, object_hook)
    except (ValueError, UnicodeDecodeError):
        raise CorruptObject(oid, f"not a {what}: not JSON") from None
    if not isinstance(item, dict) or f"{what}_version" not in item:
        raise CorruptObject(oid, f"not a {what}")
    return item
