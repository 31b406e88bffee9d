"""Diffing other trees against one held as a digest per manifest entry, not a parsed manifest (issue 17).

``recover`` and the viewer's recovery offer diff each recovery point against the project head.
They held the head's manifest parsed (~40 MiB at 100,000 entries) while each other tree was
read and diffed: 140 MiB at 100,000 files. Here the head keeps, at the tree-table index of
the path each entry lists, a 16-byte digest of that entry (its list and its value)
and the entry's place in its list. Another manifest is streamed, and an entry equal to the
head's at the same path, naming a file that is the same on both sides, is dropped: a diff
says nothing about it. The head's manifest is streamed again for the entries left, and
:func:`diff_sides` of the two narrowed sides gives the records the whole sides give.

Why that holds when both manifests stream cleanly (every entry a dict with a text id, path
and digest), no list repeats an id, and the ids both sides list come in the same order: a
dropped id is in both lists with equal entries and an equal file, so the entry diff skips
it, the order and digest checks find nothing in it, and its path claims no file that
differs; both lists drop the same ids, so the narrowed manifests are equal exactly when the
whole ones are. Where any of that is not known, both sides are read whole, as before.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from casstore.diff.inputs import DiffSide, TableFiles, differing_paths, side_from_table, table_side
from casstore.model.manifest_stream import stream_stored_manifest
from casstore.model.manifest_view import SECTIONS, asset_names

if TYPE_CHECKING:
    from casstore.model.tree_table import TreeTable
    from casstore.storage.store import Store

MARK_BYTES = 16
_KEYS = {section: (ident, path_key) for section, ident, path_key, _role in SECTIONS}
# What a table index's state says: no entry lists its path, one does (its digest is marked),
# or more than one (none of them can be told apart by path, so none is dropped).
_UNLISTED, _ONE, _SEVERAL = 0, 1, 2


class _Unsure(Exception):
    """The shortcut cannot be sure of a manifest: read it whole."""


def _mark(section: str, item: dict[str, Any]) -> bytes:
    """The digest of an entry in its list: equal digests, equal entries in the same list.

    An entry's repr names its value exactly (``ast.literal_eval`` reads it back; 1, 1.0 and
    True differ), in its keys' order: equal entries written in another order differ here,
    and are then diffed, not dropped. It is made twice as fast as canonical JSON.
    """
    try:
        text = repr(item)
    except RecursionError:
        raise _Unsure from None
    return hashlib.blake2b(f"{section}{text}".encode("utf-8", "surrogatepass"), digest_size=MARK_BYTES).digest()


class _Ids:
    """Each list's ids as entries stream by: their places, and a check that none repeats."""

    def __init__(self) -> None:
        self.hashes: dict[str, array[int]] = {section: array("q") for section in _KEYS}

    def add(self, section: str, item: dict[str, Any]) -> tuple[str, int]:
        """Return the entry's id (a str: the stream hands on no entry without one) and its place in its list."""
        ident: str = item[_KEYS[section][0]]
        seen = self.hashes[section]
        seen.append(hash(ident))
        return ident, len(seen) - 1

    def check_unique(self) -> None:
        """Raise :class:`_Unsure` when a list may repeat an id (equal hashes: rarely a false alarm)."""
        for seen in self.hashes.values():
            if any(a == b for a, b in pairwise(sorted(seen))):
                raise _Unsure


@dataclass
class MarkedSide:
    """A stored tree that other trees are diffed against: its table, and its manifest marked entry by entry.

    ``top`` holds the manifest's top-level values with each list emptied; None when the
    manifest could not be marked, and then :meth:`whole` holds it parsed, as a diff side.
    At each table index whose path one entry lists, ``marks`` holds that entry's digest and
    ``places`` its place in its list.
    """

    store: Store
    table: TreeTable
    label: str
    tree_id: str | None
    top: dict[str, Any] | None = None
    marks: bytearray = field(default_factory=bytearray)
    states: bytearray = field(default_factory=bytearray)
    places: array[int] = field(default_factory=lambda: array("l"))
    sampler_asset_names: tuple[str, ...] = ()
    entries: int = 0  # entries the manifest lists
    _whole: DiffSide | None = None

    @property
    def manifest_id(self) -> str | None:
        """Return the tree's manifest object id (None when it has none)."""
        return self.table.manifest

    def whole(self) -> DiffSide:
        """Return the tree as a diff side with its manifest parsed (read once, then kept)."""
        if self._whole is None:
            self._whole = side_from_table(self.store, self.table, self.label, self.tree_id)
        return self._whole

    def asset_names(self) -> tuple[str, ...]:
        """Return the manifest's sampler asset names, in order, as :func:`asset_names` reads them."""
        if self.top is not None:
            return self.sampler_asset_names
        return _asset_names(self.whole().manifest)

    def close(self) -> None:
        """Release what the whole side holds."""
        if self._whole is not None:
            self._whole.close()


def _asset_names(manifest: dict[str, Any] | None) -> tuple[str, ...]:
    return tuple(asset_names((manifest or {}).get("sampler_assets", [])))


def mark_side(store: Store, table: TreeTable, label: str, tree_id: str | None = None) -> MarkedSide:
    """Hold tree ``table`` to diff others against: one digest per manifest entry (or, failing that, whole)."""
    side = MarkedSide(store, table, label, tree_id)
    if table.manifest is None:
        return side
    marks, states, places = bytearray(MARK_BYTES * len(table)), bytearray(len(table)), array("l", bytes(8 * len(table)))
    assets: list[str] = []
    ids = _Ids()

    def entry(section: str, item: dict[str, Any]) -> None:
        ident, place = ids.add(section, item)
        if section == "sampler_assets":
            assets.append(ident)
        at = table.index(item[_KEYS[section][1]])
        if at is None:
            return  # listed but not in the tree: never dropped
        if states[at] != _UNLISTED:
            states[at] = _SEVERAL
            return
        states[at], places[at] = _ONE, place
        marks[at * MARK_BYTES : (at + 1) * MARK_BYTES] = _mark(section, item)

    try:
        top = stream_stored_manifest(store, table.manifest, entry)
        ids.check_unique()
    except _Unsure:
        top = None
    if top is not None:
        side.top, side.marks, side.states, side.places = top, marks, states, places
        side.sampler_asset_names = tuple(assets)
        side.entries = sum(len(seen) for seen in ids.hashes.values())
    return side


@dataclass
class NarrowPair:
    """Two sides to diff in place of the whole ones, and the new side's sampler asset names (of the whole)."""

    old: DiffSide
    new: DiffSide
    sampler_asset_names: tuple[str, ...]

    def close(self) -> None:
        """Release the new side (the old one is its :class:`MarkedSide`'s)."""
        self.new.close()


def narrow_sides(base: MarkedSide, table: TreeTable, label: str, tree_id: str | None = None) -> NarrowPair:
    """Return ``base`` and tree ``table`` as sides whose diff equals the whole sides' diff.

    Entries equal on both sides, naming a file equal on both, are left out of both
    manifests; when that cannot be done surely, the sides are the whole ones.
    """
    try:
        return _narrowed(base, table, label, tree_id)
    except _Unsure:
        old = base.whole()
        new = side_from_table(base.store, table, label, tree_id, like=old)
        return NarrowPair(old, new, _asset_names(new.manifest))


class _Kept:
    """The entries of one side that a diff still needs, by list, and where each id sits in its list."""

    def __init__(self) -> None:
        self.entries: dict[str, list[dict[str, Any]]] = {section: [] for section in _KEYS}
        self.places: dict[str, dict[str, int]] = {section: {} for section in _KEYS}

    def keep(self, section: str, ident: str, place: int, item: dict[str, Any]) -> None:
        """Keep ``item``, the entry with id ``ident`` at ``place`` in its list."""
        self.entries[section].append(item)
        self.places[section][ident] = place

    def document(self, top: dict[str, Any]) -> dict[str, Any]:
        """The manifest ``top`` with each list it has holding the entries kept."""
        return {key: self.entries.get(key, value) for key, value in top.items()}


def _narrowed(base: MarkedSide, table: TreeTable, label: str, tree_id: str | None) -> NarrowPair:
    if base.top is None or base.table.manifest is None or table.manifest is None:
        raise _Unsure
    marks, states, places = base.marks, base.states, base.places
    old_files, new_files = TableFiles(base.table), TableFiles(table)
    differing = differing_paths(old_files, new_files)  # kept by old_files for the diff to ask again
    dropped = bytearray(len(base.table))
    # Per list, in the new side's order: the base's place of each id both list (-1: not known yet).
    base_places: dict[str, array[int]] = {section: array("l") for section in _KEYS}
    kept_new, ids, assets = _Kept(), _Ids(), []

    index, hashes, keep = base.table.index, ids.hashes, kept_new.keep

    def new_entry(section: str, item: dict[str, Any]) -> None:
        ident_key, path_key = _KEYS[section]
        ident, seen = item[ident_key], hashes[section]
        seen.append(hash(ident))  # what _Ids.add does, inline: this runs once per entry
        if section == "sampler_assets":
            assets.append(ident)
        path = item[path_key]
        at = None if path in differing else index(path)
        if (
            at is not None
            and states[at] == _ONE
            and marks[at * MARK_BYTES : (at + 1) * MARK_BYTES] == _mark(section, item)
        ):
            if dropped[at]:
                raise _Unsure  # two equal entries: an id repeated
            dropped[at] = 1
            base_places[section].append(places[at])
        else:
            keep(section, ident, len(seen) - 1, item)
            base_places[section].append(-1)

    new_top = stream_stored_manifest(base.store, table.manifest, new_entry)
    if new_top is None:
        raise _Unsure
    ids.check_unique()
    kept_old = _Kept()
    # Each drop is one entry of the base; when every one went, no id of the new side's kept
    # entries is the base's (no list repeats one), so its manifest need not be read again.
    if sum(dropped) < base.entries:
        counts = dict.fromkeys(_KEYS, 0)

        def old_entry(section: str, item: dict[str, Any]) -> None:
            place = counts[section]
            counts[section] += 1
            # A dropped index has one entry listing its path: this one, equal to the new side's.
            at = base.table.index(item[_KEYS[section][1]])
            if at is None or not dropped[at]:
                kept_old.keep(section, item[_KEYS[section][0]], place, item)

        if stream_stored_manifest(base.store, base.table.manifest, old_entry) is None:
            raise _Unsure
    _check_order(base_places, kept_new, kept_old)
    old = table_side(base.store, base.table, base.label, base.tree_id, kept_old.document(base.top), old_files)
    new = table_side(base.store, table, label, tree_id, kept_new.document(new_top), new_files)
    return NarrowPair(old, new, tuple(assets))


def _check_order(base_places: dict[str, array[int]], kept_new: _Kept, kept_old: _Kept) -> None:
    """Raise :class:`_Unsure` unless the ids both sides list come in the same order in both (no reordering)."""
    for section, order in base_places.items():
        old_places = kept_old.places[section]
        for ident, place in kept_new.places[section].items():
            order[place] = old_places.get(ident, -1)
        last = -1
        for place in order:
            if place >= 0:
                if place <= last:
                    raise _Unsure
                last = place
