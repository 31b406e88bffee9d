"""Per-directory stat caches kept in the store, so repeated autosaves and imports of one directory stay cheap."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

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
    item: dict[str, Any] = {"directory": str(root.absolute()), "written_at_ns": written_at_ns}
    if tree is not None:
        item["tree"] = {"project": tree[0], "id": tree[1]}
    store.backend.put(_cache_key(root), bytes(files_json_line(item, files)))


def files_json_line(item: dict[str, Any], files: dict[str, CachedFile]) -> bytearray:
    """Return ``canonical.dumps_line({**item, "files": {path: cached.as_json()}})``, built file by file.

    The same bytes, without a list and a dict per file and the whole text alive at once:
    ~500 bytes a file, 50 MiB of a checkout's peak at 100,000 files (issue 17).
    """
    head = canonical.dumps_line({**item, "files": {}})
    cut = head.index(b'"files":{}') + len(b'"files":{')
    buf = bytearray(head[:cut])
    sep = ""
    for path in sorted(files):
        c, name, sha = files[path], encode_basestring(path), encode_basestring(files[path].sha256)
        buf += f"{sep}{name}:[{c.size},{c.mtime_ns},{c.ino},{sha},{c.ctime_ns}]".encode()
        sep = ","
    buf += head[cut:]
    return buf
