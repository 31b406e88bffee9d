"""Snapshot a working directory as it is (even when its manifest no longer matches), with a stat cache."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from casstore.bundles.bundle_source import DirectoryFile, FileStat, open_binary, walk_directory
from casstore.model.manifest_view import read_manifest_lenient
from casstore.model.objects import Tree, TreeEntry
from casstore.model.paths import MANIFEST_NAME
from casstore.storage.ids import hash_stream
from casstore.storage.object_store import PACK_MIN_OBJECTS
from casstore.storage.parallel import parallel_map
from casstore.storage.store import Store

# mtime granularity allowance: a file changed this close to when its stat was cached
# could change again without its mtime moving, so it is re-hashed ("racy git").
RACY_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)  # one per file of a directory: no per-instance dict
class CachedFile:
    """What the stat cache remembers of one file (``ctime_ns`` 0: a cache written before it was kept)."""

    size: int
    mtime_ns: int
    ino: int
    sha256: str
    ctime_ns: int = 0

    def as_json(self) -> list[Any]:
        """Return the compact JSON form kept in the checkout marker."""
        return [self.size, self.mtime_ns, self.ino, self.sha256, self.ctime_ns]

    @classmethod
    def from_json(cls, item: list[Any]) -> CachedFile:
        """Parse the compact JSON form."""
        ctime = int(item[4]) if len(item) > 4 else 0
        # Interned: the tree, the manifest and the listing hold the same digests and paths.
        return cls(int(item[0]), int(item[1]), int(item[2]), sys.intern(str(item[3])), ctime)

    @classmethod
    def of(cls, st: os.stat_result | FileStat, sha256: str, size: int | None = None) -> CachedFile:
        """Remember ``sha256`` for a file whose stat is ``st``."""
        return cls(st.st_size if size is None else size, st.st_mtime_ns, st.st_ino, sha256, st.st_ctime_ns)

    def vouches_for(self, st: os.stat_result | FileStat, cached_at_ns: int) -> bool:
        """Tell whether a file with stat ``st`` still holds this digest without reading it.

        Size, mtime, inode and ctime (as git's index) must match, and the file must have been
        older than the cache by the racy window: a change in the same clock tick moves no stamp.
        """
        return (
            self.size == st.st_size
            and self.mtime_ns == st.st_mtime_ns
            and self.ino == st.st_ino
            and self.ctime_ns == st.st_ctime_ns
            and st.st_mtime_ns + RACY_NS < cached_at_ns
        )


def cached_files(parsed: dict[str, list[Any]]) -> dict[str, CachedFile]:
    """Turn a parsed stat cache into records, freeing each parsed entry as it goes (not both whole at once).

    The order is the reverse of the file's: every reader looks records up by path.
    """
    files = {}
    while parsed:
        path, value = parsed.popitem()
        files[sys.intern(path)] = CachedFile.from_json(value)
    return files


@dataclass
class DirectoryHashes:
    """Every file of a directory with its digest, and how many had to be re-read."""

    files: dict[str, CachedFile]
    hashed: int


def hash_directory(
    root: Path, cache: dict[str, CachedFile] | None = None, cached_at_ns: int = 0, verify: bool = False
) -> DirectoryHashes:
    """Hash every file under ``root``, trusting cached digests whose size, mtime and inode match."""
    listing = walk_directory(root)
    cache = cache or {}
    result: dict[str, CachedFile] = {}
    to_hash: list[DirectoryFile] = []
    for item in listing:
        known = cache.get(item.path)
        if not verify and known is not None and known.vouches_for(item.stat, cached_at_ns):
            result[item.path] = known
        else:
            to_hash.append(item)

    def digest(item: DirectoryFile) -> CachedFile:
        with open(item.full, "rb") as stream:
            sha, size = hash_stream(stream)
        return CachedFile.of(item.stat, sys.intern(sha), size)

    for item, cached in zip(to_hash, parallel_map(digest, to_hash), strict=True):
        result[item.path] = cached
    hashed = len(to_hash)
    del listing, to_hash  # the listing's stats are in ``result`` now; free them before the manifest is read
    return DirectoryHashes({path: result[path] for path in sorted(result)}, hashed)  # no list of pairs


@dataclass
class ManifestCheck:
    """How a directory's manifest compares with its files."""

    valid: bool
    error: str | None
    roles: dict[str, str]
    mismatches: list[dict[str, str]]
    sampler_assets: list[str]


def check_manifest(root: Path, files: dict[str, CachedFile]) -> ManifestCheck:
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
    then came from the cache, without encoding the tree again.
    """

    tree: Tree
    files: dict[str, CachedFile]
    check: ManifestCheck
    new_objects: int
    new_bytes: int
    taken_at_ns: int
    tree_id: str = ""
    unchanged: bool = False


def snapshot_directory(
    store: Store,
    root: Path,
    project_id: str,
    cache: dict[str, CachedFile] | None = None,
    cached_at_ns: int = 0,
    cached_tree: str | None = None,
    stored_already: Callable[[str], bool] | None = None,
) -> DirectorySnapshot:
    """Store every file of ``root`` and build its tree; never refuses a mismatching manifest.

    ``cached_tree`` is the tree id the cached files made last time (for ``project_id``); when no
    file was re-read and none came or went, it is the tree id now too. When ``stored_already``
    says the tree is one a ref already reaches (the newest autosave's), nothing is stored.
    """
    taken_at = time.time_ns()
    hashes = hash_directory(root, cache, cached_at_ns)
    check = check_manifest(root, hashes.files)
    manifest_id = hashes.files[MANIFEST_NAME].sha256 if MANIFEST_NAME in hashes.files else None
    entries = tuple(
        TreeEntry(path, cached.sha256, cached.size, check.roles.get(path, "file"))
        for path, cached in hashes.files.items()
    )
    tree = Tree(project_id, manifest_id, entries)
    # Roles come from the manifest, whose digest is among the files: same files, same tree.
    unchanged = cached_tree is not None and not hashes.hashed and hashes.files.keys() == (cache or {}).keys()
    tree_id = cached_tree if unchanged and cached_tree else tree.id
    if stored_already is not None and stored_already(tree_id):
        # Every object of that tree is stored and reachable: an unchanged autosave writes nothing.
        return DirectorySnapshot(tree, hashes.files, check, 0, 0, taken_at, tree_id, unchanged)
    tree_id = tree.id  # what is stored and committed is always named by its own bytes

    # Files the stat cache vouched for were stored by an earlier snapshot: only re-read ones can be
    # new, so an unchanged directory (the autosave hot path) skips asking the store about every file.
    pack = None
    if hashes.hashed >= PACK_MIN_OBJECTS:
        pack = store.objects.pack_for(len(store.objects.missing(c.sha256 for c in hashes.files.values())))

    top = str(root.absolute())

    def put(path: str) -> tuple[bool, int]:
        cached = hashes.files[path]
        opener = partial(open_binary, os.path.join(top, *path.split("/")))
        result = store.objects.put_stream(opener, cached.size, expected=cached.sha256, pack=pack)
        return result.new, result.size

    try:
        results = list(parallel_map(put, hashes.files))
        tree_put = store.objects.put_bytes(tree.encode(), pack)
        if pack is not None:
            store.objects.publish(pack)  # durable before any commit or ref names these objects
    except BaseException:
        if pack is not None:
            pack.discard()
        raise
    new_objects = sum(1 for new, _ in results if new) + int(tree_put.new)
    new_bytes = sum(size for new, size in results if new) + (tree_put.size if tree_put.new else 0)
    return DirectorySnapshot(tree, hashes.files, check, new_objects, new_bytes, taken_at, tree_id, unchanged)
