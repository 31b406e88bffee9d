"""What ``diff`` compares: a stored revision, a bundle directory or a zip, seen the same way."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from casstore.bundles.bundle_source import BundleSource, open_source
from casstore.model.manifest_view import read_manifest_lenient, read_tree_manifest
from casstore.model.objects import Tree
from casstore.model.paths import MANIFEST_NAME
from casstore.storage import canonical
from casstore.storage.ids import hash_stream
from casstore.storage.store import Store

MAX_JSON_BYTES = 64 << 20  # bigger "JSON" is compared by digest only


@dataclass(frozen=True, slots=True)  # one per file of each side: no per-instance dict
class FileFacts:
    """One file of a side: its digest and size."""

    sha256: str
    size: int


@dataclass
class DiffSide:
    """A bundle as diff sees it: files by path, a way to open them, and its manifest object as written (if any)."""

    label: str
    files: dict[str, FileFacts]
    opener: Callable[[str], BinaryIO]
    manifest: dict[str, Any] | None
    closers: list[Callable[[], None]] = field(default_factory=list)
    project_id: str | None = None  # the store's project of a stored tree; None for a path
    tree_id: str | None = None  # a stored tree's id, when the caller knew it; None for a path
    manifest_id: str | None = None  # a stored tree's manifest object id; None for a path

    def read_json(self, path: str) -> Any | None:
        """Return a file parsed as JSON, or None when it is not valid JSON."""
        facts = self.files.get(path)
        if facts is None or facts.size > MAX_JSON_BYTES:
            return None
        try:
            with self.opener(path) as stream:
                return canonical.loads(stream.read())
        except (ValueError, UnicodeDecodeError):
            return None

    def close(self) -> None:
        """Release archives."""
        for closer in self.closers:
            closer()


def side_from_tree(store: Store, tree: Tree, label: str, tree_id: str | None = None) -> DiffSide:
    """View a stored tree (``tree_id``: its id, if known, so callers can tell equal trees apart cheaply)."""
    files = {entry.path: FileFacts(entry.sha256, entry.size) for entry in tree.entries}

    def opener(path: str) -> BinaryIO:
        return _ReaderStream(store, files[path].sha256)  # type: ignore[return-value]

    manifest = read_tree_manifest(store, tree).document
    return DiffSide(
        label, files, opener, manifest, project_id=tree.project_id, tree_id=tree_id, manifest_id=tree.manifest
    )


def side_from_path(location: Path) -> DiffSide:
    """View a bundle directory or zip as it is (its manifest need not match its files)."""
    source: BundleSource = open_source(location)
    files: dict[str, FileFacts] = {}
    for path, item in sorted(source.files.items()):
        with item.open() as stream:
            sha, size = hash_stream(stream)
        files[path] = FileFacts(sha, size)

    def opener(path: str) -> BinaryIO:
        return source.files[path].open()

    raw = None
    if MANIFEST_NAME in source.files:
        with source.files[MANIFEST_NAME].open() as stream:
            raw = stream.read()
    manifest = read_manifest_lenient(raw).document
    return DiffSide(str(location), files, opener, manifest, [source.close])


class _ReaderStream(io.RawIOBase):
    """A verifying object reader presented as a readable file."""

    def __init__(self, store: Store, oid: str) -> None:
        self._reader = store.objects.reader(oid)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return self._reader.read_all()
        return self._reader.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        # Forward skips only (audio chunk headers); reading verifies nothing until EOF.
        if whence != 1 or offset < 0:
            raise io.UnsupportedOperation("only forward relative seeks")
        while offset > 0:
            chunk = self._reader.read(min(offset, 1 << 20))
            if not chunk:
                break
            offset -= len(chunk)
        return 0

    def close(self) -> None:
        self._reader.close()
        super().close()
