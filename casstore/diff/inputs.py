"""What ``diff`` compares: a stored revision, a bundle directory or a zip, seen the same way."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from casstore.bundles.bundle_source import BundleSource, open_source
from casstore.model.manifest_view import read_manifest_lenient
from casstore.model.objects import Tree
from casstore.model.paths import MANIFEST_NAME
from casstore.storage import canonical
from casstore.storage.ids import hash_stream
from casstore.storage.store import Store

if TYPE_CHECKING:
    from casstore.model.tree_table import TreeTable

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
    files: Mapping[str, FileFacts]
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


def side_from_tree(
    store: Store, tree: Tree, label: str, tree_id: str | None = None, like: DiffSide | None = None
) -> DiffSide:
    """View a stored tree (``tree_id``: its id, if known, so callers can tell equal trees apart cheaply).

    With ``like``, manifest entries equal to one of ``like``'s are that side's own objects:
    two versions of a 100,000-entry manifest then cost about one (issue 17).
    """
    files = {entry.path: FileFacts(entry.sha256, entry.size) for entry in tree.entries}

    def opener(path: str) -> BinaryIO:
        return _ReaderStream(store, files[path].sha256)  # type: ignore[return-value]

    text = None
    if tree.manifest:
        with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: no document, as the lenient reader says
            # Decoded here so the bytes are freed before parsing: 20 MB at 100,000 entries.
            text = store.objects.read_bytes(tree.manifest).decode("utf-8")
    manifest = manifest_document(text, like.manifest if like is not None else None)
    del text
    return DiffSide(
        label, files, opener, manifest, project_id=tree.project_id, tree_id=tree_id, manifest_id=tree.manifest
    )


class TableFiles(Mapping[str, FileFacts]):
    """A stored tree's files by path, read from its :class:`TreeTable` (a fact is made when asked for).

    A dict of 100,000 :class:`FileFacts` and digest strings is ~25 MiB beside the table's ~12 (issue 17).
    """

    def __init__(self, table: TreeTable) -> None:
        self.table = table
        # The paths differing from another table's, once asked (a diff asks two or three times).
        self.differing: tuple[TreeTable, set[str]] | None = None

    def __getitem__(self, path: str) -> FileFacts:
        index = self.table.index(path)
        if index is None:
            raise KeyError(path)
        return FileFacts(self.table.sha256(index), self.table.sizes[index])

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.table.index(path) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.paths)

    def __len__(self) -> int:
        return len(self.table.paths)


def differing_paths(old: Mapping[str, FileFacts], new: Mapping[str, FileFacts]) -> set[str]:
    """Return the paths whose facts differ between two sides (held by one side only included)."""
    if isinstance(old, TableFiles) and isinstance(new, TableFiles):
        if old.differing is None or old.differing[0] is not new.table:
            old.differing = (new.table, _differing_tables(old.table, new.table))
        return set(old.differing[1])
    return {path for path in set(old) | set(new) if old.get(path) != new.get(path)}


def _differing_tables(old: TreeTable, new: TreeTable) -> set[str]:
    # A merge of the two sorted path lists: no fact object per file (two trees of 100,000 files).
    found: set[str] = set()
    a_paths, b_paths, a_digests, b_digests = old.paths, new.paths, old.digests, new.digests
    i = j = 0
    while i < len(a_paths) and j < len(b_paths):
        a, b = a_paths[i], b_paths[j]
        if a == b:
            if old.sizes[i] != new.sizes[j] or a_digests[i * 32 : i * 32 + 32] != b_digests[j * 32 : j * 32 + 32]:
                found.add(a)
            i, j = i + 1, j + 1
        elif a < b:
            found.add(a)
            i += 1
        else:
            found.add(b)
            j += 1
    found.update(a_paths[i:], b_paths[j:])
    return found


def side_from_table(
    store: Store, table: TreeTable, label: str, tree_id: str | None = None, like: DiffSide | None = None
) -> DiffSide:
    """View a stored tree held as a :class:`TreeTable`, as :func:`side_from_tree` views a :class:`Tree`."""
    manifest = manifest_document(_manifest_text(store, table.manifest), like.manifest if like is not None else None)
    return table_side(store, table, label, tree_id, manifest)


def table_side(
    store: Store,
    table: TreeTable,
    label: str,
    tree_id: str | None,
    manifest: dict[str, Any] | None,
    files: TableFiles | None = None,
) -> DiffSide:
    """View a stored tree held as a :class:`TreeTable` (its ``files``, if made) with ``manifest`` as its manifest."""
    files = TableFiles(table) if files is None else files

    def opener(path: str) -> BinaryIO:
        return _ReaderStream(store, files[path].sha256)  # type: ignore[return-value]

    return DiffSide(
        label, files, opener, manifest, project_id=table.project_id, tree_id=tree_id, manifest_id=table.manifest
    )


def _manifest_text(store: Store, manifest: str | None) -> str | None:
    if not manifest:
        return None
    try:
        # Decoded here so the bytes are freed before parsing: 20 MB at 100,000 entries.
        return store.objects.read_bytes(manifest).decode("utf-8")
    except UnicodeDecodeError:
        return None  # not UTF-8: no document, as the lenient reader says


# The identity key of each manifest entry list's entries (see casstore.diff.manifest.ENTRY_LISTS).
_ENTRY_IDENTS = {"patterns": "pattern_id", "mixer_snapshots": "name", "sampler_assets": "asset_name"}
# An entry's strings that the tree holds too (interned there): one str for both.
_SHARED_STRINGS = ("path", "relative_path", "sha256")


def manifest_document(raw: bytes | str | None, like: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Return ``read_manifest_lenient(raw).document``: the manifest object as written, or None.

    Without the lenient reader's per-entry records (diff needs only the document). Entries'
    paths and digests are the interned strings the tree holds. Entries equal to an entry of
    ``like`` (same identity, same content) are ``like``'s objects, so an equal entry is
    dropped as soon as it is parsed instead of held twice.
    """
    if raw is None:
        return None
    known: dict[str, dict[str, Any]] = {ident: {} for ident in _ENTRY_IDENTS.values()}
    for key, ident in _ENTRY_IDENTS.items():
        items = like.get(key) if like is not None else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and isinstance(item.get(ident), str):
                known[ident][item[ident]] = item

    def hook(item: dict[str, Any]) -> dict[str, Any]:
        for ident, seen in known.items():
            name = item.get(ident)
            if isinstance(name, str):
                other: dict[str, Any] | None = seen.get(name)
                if other is not None and other == item:
                    return other
                for key in _SHARED_STRINGS:
                    value = item.get(key)
                    if type(value) is str:
                        item[key] = sys.intern(value)
                break
        return item

    try:
        data = canonical.loads(raw, hook)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


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
