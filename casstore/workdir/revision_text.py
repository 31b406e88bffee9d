"""A revision's display lines, as ``casstore.api.revision_lines`` gives them, held compactly.

At 100,000 files ``revision_lines`` held the whole tree as objects, the parsed manifest
(a dict per entry) and a tuple per line at once: ~80 MB for lines of ~6 MB (issue 17).
Here the tree is a :class:`TreeTable`, a clean manifest is streamed entry by entry and
each entry becomes its line as it is read, into a :class:`LineTable`. A manifest with any
problem, or any error, goes the ``revision_lines`` way (``casstore.api.revision_text``),
so every line and every error message is that function's (tests/test_revision_text.py).
"""

from __future__ import annotations

from typing import Any

from casstore.bundles.inspect import asset_line, head_lines, pattern_line, snapshot_line
from casstore.errors import CasstoreError
from casstore.history.commits import read_commit
from casstore.model.line_table import LineTable
from casstore.model.manifest_stream import stream_stored_manifest
from casstore.model.objects import ROLES
from casstore.model.paths import MANIFEST_NAME
from casstore.model.tree_table import TreeTable, read_tree_table
from casstore.storage.store import Store
from casstore.units import human_bytes

_FILE_ROLE = ROLES.index("file")


def table_lines(store: Store, commit: str, table: TreeTable | None = None) -> LineTable | None:
    """Return ``revision_lines(store, commit)`` read from the tree table and a streamed manifest.

    ``table`` is the commit's tree, when the caller has read it already. None when the
    manifest has any problem, or anything cannot be read: ``revision_lines`` then names the
    problem or raises the error, as it always did.
    """
    try:
        return _from_table(store, commit, table)
    except CasstoreError:
        return None


def _from_table(store: Store, commit: str, table: TreeTable | None) -> LineTable | None:
    record = read_commit(store, commit)
    table = read_tree_table(store, record.tree) if table is None else table
    lines = LineTable([(f"{record.kind} {commit[:12]} — {record.created_at}", True)])
    if table.manifest is None:
        lines.append(f"Project {table.project_id} — this {record.kind} has no {MANIFEST_NAME}", True)
        lines.append(f"Files ({len(table)})", True)
        for index, path in enumerate(table.paths):
            lines.append(f"  {path}  {human_bytes(table.sizes[index])}  {table.sha256(index)[:16]}")
        return lines
    sections = {name: LineTable() for name in ("patterns", "mixer_snapshots", "sampler_assets")}

    def entry(section: str, item: dict[str, Any]) -> None:
        sections[section].append(_entry_line(table, section, item))

    top = stream_stored_manifest(store, table.manifest, entry)
    if top is None:
        return None
    for number, text in enumerate(head_lines(top, table.manifest)):
        lines.append(text, number == 0)
    for section, heading in (("patterns", "Patterns"), ("mixer_snapshots", "Mixer snapshots")):
        lines.append(f"{heading} ({len(sections[section])})", True)
        lines.extend_table(sections.pop(section))  # one section's copy at a time
    lines.append(f"Sampler assets ({len(sections['sampler_assets'])})", True)
    lines.extend_table(sections.pop("sampler_assets"))
    others = [index for index, role in enumerate(table.roles) if role == _FILE_ROLE]
    if others:
        lines.append(f"Other files ({len(others)})", True)
        for index in others:
            lines.append(f"  {table.paths[index]}  {human_bytes(table.sizes[index])}")
    return lines


def _size(table: TreeTable, path: str) -> int | None:
    index = table.index(path)
    return table.sizes[index] if index is not None else None


def _entry_line(table: TreeTable, section: str, item: dict[str, Any]) -> str:
    """Return the line ``manifest_lines`` prints for one clean entry (its path and digest are strings)."""
    if section == "patterns":
        return pattern_line(item, _size(table, item["path"]))
    if section == "mixer_snapshots":
        return snapshot_line(item)
    return asset_line(item, _size(table, item["relative_path"]))
