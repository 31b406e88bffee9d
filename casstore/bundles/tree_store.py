"""A bundle's tree held compactly (a TreeScan) as an import makes it: encoded, hashed and stored piece by piece.

A TreeEntry per file, its digest str and the tree's whole encoding were ~250 bytes a file
of an import's peak at 100,000 files (issue 17: <= 100 MiB). The bytes are
``Tree.encode``'s exactly (tests/test_tree_encoding.py), so ids do not depend on which
encoder ran.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from casstore.model.objects import ROLES, Tree, encode_tree
from casstore.model.tree_scan import TreeScan
from casstore.storage.ids import CHUNK_SIZE
from casstore.storage.object_store import PutResult
from casstore.storage.packs import PackWriter
from casstore.storage.store import Store


def table_chunks(table: TreeScan, chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """Yield the canonical encoding of the tree ``table`` holds in pieces of about ``chunk_size``."""
    digests, sizes, codes = table.digests, table.sizes, table.roles
    entries = (
        (path, ROLES[codes[at]], digests[at * 32 : at * 32 + 32].hex(), sizes[at])
        for at, path in enumerate(table.paths)
    )
    return encode_tree(entries, table.manifest, table.project_id, chunk_size)


def table_tree(table: TreeScan) -> Tree:
    """Return the tree ``table`` holds with an entry object a file (for small bundles' callers)."""
    return Tree(table.project_id, table.manifest, tuple(table.entries()))


class ChunkStream(io.RawIOBase):
    """A readable stream over byte chunks, made as they are read."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        """Say that the stream can be read."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the chunks; 0 at their end."""
        while not self._left:
            self._left = next(self._chunks, b"")
            if not self._left:
                return 0
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def put_table(store: Store, table: TreeScan, tree_id: str, pack: PackWriter | None = None) -> PutResult:
    """Store the tree ``table`` holds, whose id is ``tree_id``; encoded again, piece by piece, only if it is new."""

    def opened() -> BinaryIO:
        return io.BufferedReader(ChunkStream(table_chunks(table)), CHUNK_SIZE)

    return store.objects.put_stream(opened, table.length, expected=tree_id, pack=pack)
