"""Per-directory stat caches kept in the store, so repeated autosaves and imports of one directory stay cheap.

On disk (docs/format.md, "Stat cache"): ``cache/dirs/<key>.stat``, a binary file of fixed-size
records sorted by path, so that 100,000 files load as two arrays rather than as an object per
file. A cache is only ever a shortcut: one that is missing, damaged or of an older form
(``<key>.json``) costs re-hashing the directory once, nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from casstore.bundles.stat_table import RECORD, CachedFile, StatTable, as_table
from casstore.storage import canonical
from casstore.storage.backend import StoredFileMissing
from casstore.storage.store import Store

MAGIC = b"casstore-stat-cache 1\n"
_COUNTS = struct.Struct("<II")  # header bytes, records
_TRAILER = hashlib.sha256().digest_size
_PATHS_AT_ONCE = 4096  # paths joined per piece: the whole text at once was a copy of every path


@dataclass
class DirCache:
    """What the store remembers of a directory: each file's stat and digest, when, and the tree they made."""

    files: StatTable = field(default_factory=lambda: StatTable([], b""))
    written_at_ns: int = 0
    project: str | None = None  # the project and tree id of the last autosave of exactly these files
    tree: str | None = None
    check: Any = None  # what the manifest check found for exactly these files (ManifestCheck.memo)

    def tree_for(self, project: str) -> str | None:
        """Return the tree these files made for ``project``, if the cache knows it."""
        return self.tree if self.project == project else None


def _key(root: Path) -> str:
    return f"cache/dirs/{hashlib.sha256(str(root.absolute()).encode()).hexdigest()[:32]}"


def cache_key(root: Path) -> str:
    """Return the store key of ``root``'s stat cache."""
    return _key(root) + ".stat"


def encode_dir_cache(header: dict[str, Any], files: StatTable) -> bytes:
    """Return the cache file: magic, sizes, a JSON header, the records, the paths, then a SHA-256 of it all."""
    head = canonical.dumps_line(header)
    # A BytesIO hands its buffer over; bytes(bytearray) copied the whole file (9 MiB at 100,000 files).
    body = io.BytesIO()
    digest = hashlib.sha256()
    for part in (MAGIC, _COUNTS.pack(len(head), len(files)), head, files.records):
        body.write(part)
        digest.update(part)
    for index in range(0, len(files), _PATHS_AT_ONCE):  # no bundle path holds a NUL
        part = ("\0" if index else "").encode() + "\0".join(files.paths[index : index + _PATHS_AT_ONCE]).encode()
        body.write(part)
        digest.update(part)
    body.write(digest.digest())
    return body.getvalue()


def decode_dir_cache(raw: bytes) -> tuple[dict[str, Any], StatTable]:
    """Parse a cache file; raise ValueError when it is damaged or not one."""
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + _COUNTS.size + _TRAILER:
        raise ValueError("not a stat cache")
    view = memoryview(raw)
    if hashlib.sha256(view[:-_TRAILER]).digest() != raw[-_TRAILER:]:
        raise ValueError("stat cache: checksum mismatch")
    head_size, count = _COUNTS.unpack_from(raw, len(MAGIC))
    start = len(MAGIC) + _COUNTS.size
    header = canonical.loads(bytes(view[start : start + head_size]))
    if not isinstance(header, dict):
        raise ValueError("stat cache: header is not an object")
    start += head_size
    records = view[start : start + count * RECORD.size]  # a view: the file's bytes are not copied
    text = bytes(view[start + count * RECORD.size : -_TRAILER]).decode("utf-8")
    paths = [sys.intern(path) for path in text.split("\0")] if count else []
    if len(paths) != count or len(records) != count * RECORD.size:
        raise ValueError("stat cache: truncated")
    if any(a >= b for a, b in pairwise(paths)):
        raise ValueError("stat cache: paths are not sorted")
    return header, StatTable(paths, records)


def load_dir_cache(store: Store, root: Path) -> DirCache:
    """Return the cache of ``root``, or an empty one when none is usable."""
    with contextlib.suppress(OSError, StoredFileMissing, ValueError, KeyError, TypeError, UnicodeDecodeError):
        header, files = decode_dir_cache(store.backend.get(cache_key(root)))
        if header.get("directory") == str(root.absolute()):
            made = header.get("tree") or {}
            return DirCache(
                files, int(header["written_at_ns"]), made.get("project"), made.get("id"), header.get("manifest_check")
            )
    return DirCache()


def save_dir_cache(
    store: Store,
    root: Path,
    files: Mapping[str, CachedFile],
    written_at_ns: int,
    tree: tuple[str, str] | None = None,
    check: dict[str, Any] | None = None,
) -> None:
    """Remember ``files`` for ``root``, the ``tree`` (project, tree id) they made and the manifest ``check``.

    Losing it only costs re-hashing.
    """
    header: dict[str, Any] = {"directory": str(root.absolute()), "written_at_ns": written_at_ns}
    if tree is not None:
        header["tree"] = {"project": tree[0], "id": tree[1]}
    if check is not None:
        header["manifest_check"] = check
    key = _key(root)
    store.backend.put(cache_key(root), encode_dir_cache(header, as_table(files)))
    store.backend.delete(key + ".json")  # the JSON form of older versions, superseded


def files_json_line(item: dict[str, Any], files: Mapping[str, CachedFile]) -> bytearray:
    """Return ``canonical.dumps_line({**item, "files": {path: cached.as_json()}})``, built file by file.

    The same bytes, without a list and a dict per file and the whole text alive at once:
    ~500 bytes a file, 50 MiB of a checkout's peak at 100,000 files (issue 17).
    """
    head = canonical.dumps_line({**item, "files": {}})
    cut = head.index(b'"files":{}') + len(b'"files":{')
    buf = bytearray(head[:cut])
    sep = ""
    for path in sorted(files):
        c = files[path]
        name, sha = encode_basestring(path), encode_basestring(c.sha256)
        buf += f"{sep}{name}:[{c.size},{c.mtime_ns},{c.ino},{sha},{c.ctime_ns}]".encode()
        sep = ","
    buf += head[cut:]
    return buf
