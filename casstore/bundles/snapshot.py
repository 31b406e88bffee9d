"""Snapshot a working directory as it is (even when its manifest no longer matches), with a stat cache."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from casstore.bundles.listing import open_binary, walk_directory
from casstore.bundles.stat_table import RECORD, StatTable, as_table, pack_into
from casstore.bundles.stat_table import CachedFile as CachedFile  # where callers have long imported it
from casstore.model.manifest_view import read_manifest_lenient
from casstore.model.objects import Tree, TreeEntry
from casstore.model.paths import MANIFEST_NAME
from casstore.storage import canonical
from casstore.storage.ids import hash_stream
from casstore.storage.object_store import PACK_MIN_OBJECTS
from casstore.storage.parallel import parallel_map
from casstore.storage.store import Store


def cached_files(parsed: dict[str, list[Any]]) -> StatTable:
    """Pack a parsed JSON stat cache into a table, freeing each parsed entry as it goes (not both whole at once)."""
    paths = sorted(parsed)
    records = bytearray(len(paths) * RECORD.size)
    for index, path in enumerate(paths):
        item = parsed.pop(path)
        ctime = int(item[4]) if len(item) > 4 else 0
        digest = bytes.fromhex(str(item[3]))
        if len(digest) != 32:
            raise ValueError(f"stat cache: {path!r}: not a SHA-256 digest")
        RECORD.pack_into(records, index * RECORD.size, digest, int(item[0]), int(item[1]), int(item[2]), ctime)
    return StatTable([sys.intern(path) for path in paths], records)


_FILES_KEY = b'"files":{'
_JSON_ENTRY = re.compile(
    rb'"((?:[^"\\]|\\.)*)":\[([0-9]+),(-?[0-9]+),([0-9]+),"([0-9a-f]{64})"(?:,(-?[0-9]+))?\]([,}])'
)


def loads_with_files(raw: bytes) -> dict[str, Any]:
    """Parse a JSON line holding a ``files`` stat cache (the checkout marker); ``files`` comes back a StatTable.

    The cache is packed straight from the bytes as compact JSON writes it: parsed whole, it was
    a list, four ints and two strs a file (~45 MiB at 100,000 files, issue 17). Any other shape
    is parsed as JSON.
    """
    start = raw.find(_FILES_KEY)
    if start >= 0:
        paths: list[str] = []
        records = bytearray()
        pos, closed = start + len(_FILES_KEY), raw[start + len(_FILES_KEY) : start + len(_FILES_KEY) + 1] == b"}"
        pos += closed
        while not closed:
            match = _JSON_ENTRY.match(raw, pos)
            if match is None:
                break
            quoted, size, mtime, ino, digest, ctime, end = match.groups()
            path = json.loads(b'"' + quoted + b'"') if b"\\" in quoted else quoted.decode("utf-8")
            if paths and paths[-1] >= path:
                break
            paths.append(sys.intern(path))
            records += RECORD.pack(bytes.fromhex(digest.decode()), int(size), int(mtime), int(ino), int(ctime or 0))
            pos, closed = match.end(), end == b"}"
        if closed:
            item = canonical.loads(raw[:start] + b'"files":{}' + raw[pos:])
            if isinstance(item, dict) and item.get("files") == {}:
                item["files"] = StatTable(paths, records)
                return item
    item = canonical.loads(raw)
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    if isinstance(item.get("files"), dict):
        item["files"] = cached_files(item["files"])
    return item


@dataclass
class DirectoryHashes:
    """Every file of a directory with its digest, and how many had to be re-read."""

    files: StatTable
    hashed: int


def hash_directory(
    root: Path, cache: Mapping[str, CachedFile] | None = None, cached_at_ns: int = 0, verify: bool = False
) -> DirectoryHashes:
    """Hash every file under ``root``, trusting cached digests whose size, mtime, inode and ctime match."""
    listing = walk_directory(root)  # sorted by path, as the table wants
    table = as_table(cache)
    records = bytearray(len(listing) * RECORD.size)
    to_hash: list[int] = []
    for index, path in enumerate(listing.paths):
        known = -1 if verify else table.index(path)
        if known >= 0 and table.vouches(known, listing.stat(index), cached_at_ns):
            start = index * RECORD.size
            records[start : start + RECORD.size] = table.raw(known)
        else:
            to_hash.append(index)

    def digest(index: int) -> CachedFile:
        item = listing.at(index)
        with open(item.full, "rb") as stream:
            sha, size = hash_stream(stream)
        return CachedFile.of(item.stat, sha, size)

    for index, cached in zip(to_hash, parallel_map(digest, to_hash), strict=True):
        pack_into(records, index, cached)
    # The listing's stats, in ``records`` now, go when this returns, before the manifest is read.
    return DirectoryHashes(StatTable(listing.paths, records), len(to_hash))


@dataclass
class ManifestCheck:
    """How a directory's manifest compares with its files."""

    valid: bool
    error: str | None
    roles: dict[str, str]
    mismatches: list[dict[str, str]]
    sampler_assets: list[str]

    def memo(self, manifest_id: str | None) -> dict[str, Any]:
        """Return what the stat cache keeps of this check, for the manifest whose digest is ``manifest_id``."""
        return {
            "manifest": manifest_id,
            "error": self.error,
            "mismatches": self.mismatches,
            "sampler_assets": self.sampler_assets,
        }

    @classmethod
    def from_memo(cls, memo: Any, manifest_id: str | None) -> ManifestCheck | None:
        """Return the check a stat cache kept for the manifest ``manifest_id``, or None (another, or none).

        Only the roles are not kept: whoever needs them (a tree to build) reads the manifest.
        """
        if not isinstance(memo, dict) or manifest_id is None or memo.get("manifest") != manifest_id:
            return None
        error, mismatches, assets = memo.get("error"), memo.get("mismatches"), memo.get("sampler_assets")
        if not (error is None or isinstance(error, str)) or not isinstance(mismatches, list):
            return None
        if not isinstance(assets, list) or not all(isinstance(a, str) for a in assets):
            return None
        if not all(isinstance(m, dict) and all(isinstance(v, str) for v in m.values()) for m in mismatches):
            return None
        return cls(error is None, error, {}, mismatches, assets)


def check_manifest(root: Path, files: Mapping[str, CachedFile]) -> ManifestCheck:
    """Read the directory's manifest leniently and list entries that no longer match their files.

    Autosave keeps work that import would refuse: what the manifest lists readably keeps its
    role in the tree, and ``error`` says what could not be read.
    """
    if MANIFEST_NAME not in files:
        return ManifestCheck(False, f"no {MANIFEST_NAME}", {}, [], [])
    view = read_manifest_lenient((root / MANIFEST_NAME).read_bytes(), f"{root.name}/{MANIFEST_NAME}")
    roles = {MANIFEST_NAME: "manifest"}
    mismatches = []
    for listed in view.listed:
        roles[listed.path] = listed.role
        actual = files.get(listed.path)
        if actual is None:
            mismatches.append({"entry": listed.label, "path": listed.path, "problem": "listed file is missing"})
        elif actual.sha256 != listed.sha256:
            mismatches.append(
                {
                    "entry": listed.label,
                    "path": listed.path,
                    "problem": f"SHA-256 differs (manifest {listed.sha256[:12]}, file {actual.sha256[:12]})",
                }
            )
    assets = [listed.ident for listed in view.listed if listed.role == "sampler_asset"]
    error = view.problem()
    return ManifestCheck(error is None, error, roles, mismatches, assets)


@dataclass
class DirectorySnapshot:
    """A working directory stored as a tree: the tree, the stat cache and what did not match.

    ``unchanged`` says the files, digests and roles are exactly those the cache saw: ``tree_id``
    then came from the cache, without encoding the tree again. An unchanged snapshot of a tree
    already stored builds its tree only when asked (reading the manifest for the roles).
    """

    files: StatTable
    check: ManifestCheck
    new_objects: int
    new_bytes: int
    taken_at_ns: int
    tree_id: str
    unchanged: bool
    manifest_id: str | None
    make_tree: Callable[[], Tree] = field(repr=False)
    _tree: Tree | None = field(default=None, repr=False)

    @property
    def tree(self) -> Tree:
        """Return the snapshot's tree (built on first use)."""
        if self._tree is None:
            self._tree = self.make_tree()
        return self._tree


def build_tree(project_id: str, files: StatTable, roles: dict[str, str]) -> Tree:
    """Return the tree of ``files`` with ``roles`` (a file the manifest does not list is a ``file``)."""
    entries = tuple(
        TreeEntry(path, cached.sha256, cached.size, roles.get(path, "file")) for path, cached in files.items()
    )
    return Tree(project_id, files.digest(MANIFEST_NAME), entries)


def snapshot_directory(
    store: Store,
    root: Path,
    project_id: str,
    cache: Mapping[str, CachedFile] | None = None,
    cached_at_ns: int = 0,
    cached_tree: str | None = None,
    stored_already: Callable[[str], bool] | None = None,
    cached_check: Any = None,
) -> DirectorySnapshot:
    """Store every file of ``root`` and build its tree; never refuses a mismatching manifest.

    ``cached_tree`` is the tree id the cached files made last time (for ``project_id``); when no
    file was re-read and none came or went, it is the tree id now too. When ``stored_already``
    says the tree is one a ref already reaches (the newest autosave's), nothing is stored, and
    ``cached_check`` (:meth:`ManifestCheck.memo`) spares reading the unchanged manifest.
    """
    taken_at = time.time_ns()
    hashes = hash_directory(root, cache, cached_at_ns)
    manifest_id = hashes.files.digest(MANIFEST_NAME)
    # Roles come from the manifest, whose digest is among the files: same files, same tree.
    unchanged = cached_tree is not None and not hashes.hashed and hashes.files.same_paths(cache)
    if unchanged and cached_tree and stored_already is not None and stored_already(cached_tree):
        known = ManifestCheck.from_memo(cached_check, manifest_id)
        if known is not None:
            # The autosave hot path: neither the manifest nor a tree of every file is read or built.
            def rebuild() -> Tree:
                return build_tree(project_id, hashes.files, check_manifest(root, hashes.files).roles)

            return DirectorySnapshot(hashes.files, known, 0, 0, taken_at, cached_tree, True, manifest_id, rebuild)
    check = check_manifest(root, hashes.files)
    tree = build_tree(project_id, hashes.files, check.roles)
    check.roles.clear()  # in the tree now; a dict slot per file otherwise kept to the end
    tree_id = cached_tree if unchanged and cached_tree else tree.id

    def made() -> Tree:
        return tree

    if stored_already is not None and stored_already(tree_id):
        # Every object of that tree is stored and reachable: an unchanged autosave writes nothing.
        return DirectorySnapshot(hashes.files, check, 0, 0, taken_at, tree_id, unchanged, manifest_id, made, tree)
    tree_id = tree.id  # what is stored and committed is always named by its own bytes

    # Files the stat cache vouched for were stored by an earlier snapshot: only re-read ones can be
    # new, so an unchanged directory (the autosave hot path) skips asking the store about every file.
    pack = None
    if hashes.hashed >= PACK_MIN_OBJECTS:
        pack = store.objects.pack_for(len(store.objects.missing(e.sha256 for e in tree.entries)))

    top = str(root.absolute())

    def put(entry: TreeEntry) -> tuple[bool, int]:
        opener = partial(open_binary, os.path.join(top, *entry.path.split("/")))
        result = store.objects.put_stream(opener, entry.size, expected=entry.sha256, pack=pack)
        return result.new, result.size

    try:
        results = list(parallel_map(put, tree.entries))
        tree_put = store.objects.put_bytes(tree.encode(), pack)
        if pack is not None:
            store.objects.publish(pack)  # durable before any commit or ref names these objects
    except BaseException:
        if pack is not None:
            pack.discard()
        raise
    new_objects = sum(1 for new, _ in results if new) + int(tree_put.new)
    new_bytes = sum(size for new, size in results if new) + (tree_put.size if tree_put.new else 0)
    return DirectorySnapshot(
        hashes.files, check, new_objects, new_bytes, taken_at, tree_id, unchanged, manifest_id, made, tree
    )
