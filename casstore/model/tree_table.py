"""A stored tree held compactly for recover, the viewer and diffs: :class:`TreeScan`'s table, read from the store.

A 100,000-file tree decoded to :class:`TreeEntry` objects is ~30 MiB beside its ~17 MB of
bytes; the viewer and ``recover`` only look entries up, list a role, or check a tree is
sound, so they keep the paths, packed digests, sizes and roles instead (~12 MiB, issue 17).
The scan and the table are fsck's and gc's (``tree_scan.py``): one reader, one set of checks.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from casstore.model.objects import Tree
from casstore.model.tree_scan import TreeScan, scan_tree

if TYPE_CHECKING:
    from casstore.storage.store import Store

TreeTable = TreeScan
# Below glibc's mmap threshold: the pieces come and go from the heap, not mapped each time.
_READ_CHUNK = 64 << 10


def decode_table(oid: str, raw: bytes) -> TreeTable:
    """Parse a tree object as :meth:`Tree.decode` does (same checks, same errors), held as a table.

    The canonical encoding is scanned in place; any other shape, or any problem, goes through
    :meth:`Tree.decode`, which checks everything and names what is wrong.
    """
    return scan_tree((raw,)) or TreeScan.of(Tree.decode(oid, raw), len(raw))


def read_object(store: Store, oid: str) -> bytes:
    """Return an object's verified content, read in chunks into one buffer (no second whole copy)."""
    buffer = io.BytesIO()
    with store.objects.reader(oid) as reader:
        while chunk := reader.read(1 << 20):
            buffer.write(chunk)
    return buffer.getvalue()


def read_tree_table(store: Store, oid: str, *, share_paths: bool = True) -> TreeTable:
    """Read and verify tree ``oid`` as a table (errors as :func:`read_tree`'s).

    A canonical tree is scanned as it is read, never held whole beside its table (17 MB at
    100,000 files, issue 17); any other shape is read again whole and judged as before.
    Paths are interned unless ``share_paths`` is False (see :func:`scan_tree`).
    """
    with store.objects.reader(oid) as reader:
        table = scan_tree(iter(lambda: reader.read(_READ_CHUNK), b""), share_paths=share_paths)
    return table if table is not None else decode_table(oid, read_object(store, oid))
