"""Per-directory stat caches kept in the store, so repeated autosaves of one directory stay cheap."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from casstore.bundles.snapshot import CachedFile
from casstore.storage import canonical
from casstore.storage.backend import StoredFileMissing
from casstore.storage.store import Store


def _cache_key(root: Path) -> str:
    digest = hashlib.sha256(str(root.absolute()).encode()).hexdigest()[:32]
    return f"cache/dirs/{digest}.json"


def load_dir_cache(store: Store, root: Path) -> tuple[dict[str, CachedFile], int]:
    """Return the cached ``(files, written_at_ns)`` for ``root``, or empty when none is usable."""
    with contextlib.suppress(OSError, StoredFileMissing, ValueError, KeyError, TypeError, IndexError):
        item = canonical.loads(store.backend.get(_cache_key(root)))
        if item.get("directory") == str(root.absolute()):
            files = {path: CachedFile.from_json(value) for path, value in item["files"].items()}
            return files, int(item["written_at_ns"])
    return {}, 0


def save_dir_cache(store: Store, root: Path, files: dict[str, CachedFile], written_at_ns: int) -> None:
    """Remember ``files`` for ``root`` (a cache: losing it only costs re-hashing)."""
    item = {
        "directory": str(root.absolute()),
        "written_at_ns": written_at_ns,
        "files": {path: cached.as_json() for path, cached in files.items()},
    }
    store.backend.put(_cache_key(root), canonical.dumps_line(item))
