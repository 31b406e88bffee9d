"""Per-directory stat caches kept in the store, so repeated autosaves and imports of one directory stay cheap."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from casstore.bundles.snapshot import CachedFile, cached_files
from casstore.storage import canonical
from casstore.storage.backend import StoredFileMissing
from casstore.storage.store import Store


@dataclass
class DirCache:
    """What the store remembers of a directory: each file's stat and digest, when, and the tree they made."""

    files: dict[str, CachedFile] = field(default_factory=dict)
    written_at_ns: int = 0
    project: str | None = None  # the project and tree id of the last autosave of exactly these files
    tree: str | None = None

    def tree_for(self, project: str) -> str | None:
        """Return the tree these files made for ``project``, if the cache knows it."""
        return self.tree if self.project == project else None


def _cache_key(root: Path) -> str:
    digest = hashlib.sha256(str(root.absolute()).encode()).hexdigest()[:32]
    return f"cache/dirs/{digest}.json"


def load_dir_cache(store: Store, root: Path) -> DirCache:
    """Return the cache of ``root``, or an empty one when none is usable."""
    with contextlib.suppress(OSError, StoredFileMissing, ValueError, KeyError, TypeError, IndexError):
        item = canonical.loads(store.backend.get(_cache_key(root)))
        if item.get("directory") == str(root.absolute()):
            files = cached_files(item.pop("files"))
            made = item.get("tree") or {}
            return DirCache(files, int(item["written_at_ns"]), made.get("project"), made.get("id"))
    return DirCache()


def save_dir_cache(
    store: Store, root: Path, files: dict[str, CachedFile], written_at_ns: int, tree: tuple[str, str] | None = None
) -> None:
    """Remember ``files`` for ``root``, and ``tree`` (project, tree id) they made; losing it only costs re-hashing."""
    item = {
        "directory": str(root.absolute()),
        "written_at_ns": written_at_ns,
        "files": {path: cached.as_json() for path, cached in files.items()},
    }
    if tree is not None:
        item["tree"] = {"project": tree[0], "id": tree[1]}
    store.backend.put(_cache_key(root), canonical.dumps_line(item))
