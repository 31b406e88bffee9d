"""Structural JSON diff: every change by its identity path, list items matched by what they are.

A list of objects is keyed by an identity inferred from the data (see ``identity_key``);
any other list is aligned by content (an LCS over canonical item hashes), so an inserted
or deleted item is reported as such and the items around it are not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from typing import Any

# Keys whose name says "this names the item", most specific first. Only such keys (and
# keys ending in _id, _uuid or _name) may be identities: a key that merely happens to be
# unique (a velocity, a gain) would pair items by coincidence.
IDENTITY_KEYS = (
    "id",
    "uuid",
    "pattern_id",
    "asset_name",
    "step",
    "position",
    "index",
    "row",
    "slot",
    "instrument",
    "track",
    "channel",
    "sample",
    "asset",
    "name",
    "label",
    "title",
    "key",
)
_ID_SUFFIX = re.compile(r".+_(id|uuid)$")
_NAME_SUFFIX = re.compile(r".+_name$")
_SIMILAR = 0.5  # an unkeyed item pairs with another (as "modified") when at least this alike
_MAX_PAIRING = 250_000  # item pairs a replaced run may compare; past it, pair by position (bounded time)
_IRREGULAR = {"entries": "entry", "buses": "bus", "busses": "bus", "indices": "index", "children": "child"}


@dataclass(frozen=True)
class FieldChange:
    """One change: where it is (legacy path and identity segments), what it was and is, and how."""

    field: str
    old: Any
    new: Any
    kind: str = "modified"  # modified | added | removed | reordered
    segments: tuple[tuple[str, Any], ...] = ()  # (label, identity) of each list item on the way
    keys: tuple[str | None, ...] = ()  # the identity key of each segment; None: matched by position
    attribute: str | None = None  # dotted path below the last segment (the list, when reordered); None: whole item

    def __post_init__(self) -> None:
        if self.attribute is None and not self.segments:
            object.__setattr__(self, "attribute", self.field)

    def as_json(self) -> dict[str, Any]:
        """Return the change as a JSON object (``field``/``old``/``new`` plus its identity path)."""
        return {
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "kind": self.kind,
            "identity": [[label, value] for label, value in self.segments],
            "identity_keys": list(self.keys),
            "attribute": self.attribute,
        }


@dataclass(frozen=True)
class _At:
    """Where the walk is: the legacy path, the identity segments, and the path below them."""

    field: str = ""
    segments: tuple[tuple[str, Any], ...] = ()
    keys: tuple[str | None, ...] = ()
    attribute: str = ""

    def key(self, name: str) -> _At:
        return replace(
            self,
            field=f"{self.field}.{name}" if self.field else name,
            attribute=f"{self.attribute}.{name}" if self.attribute else name,
        )

    def item(self, value: Any, key: str | None) -> _At:
        label = item_label(self.attribute)
        return _At(f"{self.field}[{value}]", (*self.segments, (label, value)), (*self.keys, key), "")

    def change(self, old: Any, new: Any, kind: str = "modified") -> FieldChange:
        return FieldChange(self.field, old, new, kind, self.segments, self.keys, self.attribute or None)


def singular(name: str) -> str:
    """Return the word for one item of a list called ``name`` (tracks → track, entries → entry)."""
    if name in _IRREGULAR:
        return _IRREGULAR[name]
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss") and len(name) > 1:
        return name[:-1]
    return name


def item_label(list_path: str) -> str:
    """Return the label of an item of the list at dotted ``list_path`` (``a.steps`` → ``a.step``)."""
    if not list_path:
        return "item"
    head, _, last = list_path.rpartition(".")
    return f"{head}.{singular(last)}" if head else singular(last)


def _specificity(key: str) -> float:
    if key in IDENTITY_KEYS:
        return IDENTITY_KEYS.index(key)
    if _ID_SUFFIX.fullmatch(key):
        return IDENTITY_KEYS.index("id") + 0.5
    if _NAME_SUFFIX.fullmatch(key):
        return IDENTITY_KEYS.index("name") - 0.5
    return -1  # not an identity


def _is_identity_value(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _unique_values(items: list[Any], key: str) -> set[Any] | None:
    values = [item[key] for item in items]
    if not all(_is_identity_value(v) for v in values):
        return None
    found = set(values)
    return found if len(found) == len(values) else None


def identity_key(old: list[Any], new: list[Any]) -> str | None:
    """Return the key that names the items of both lists, if any.

    A candidate is a name-like key (``IDENTITY_KEYS``, or ending in ``_id``/``_uuid``/``_name``)
    present in every item of both lists, with str/int values unique within each list. When both
    lists have items, some value must appear in both (else nothing is "the same item" and the
    lists are aligned by content instead). The most specific candidate wins.
    """
    items = [*old, *new]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    common = set.intersection(*(set(item) for item in items))
    best: tuple[float, str] | None = None
    for key in common:
        rank = _specificity(key)
        if rank < 0:
            continue
        old_values, new_values = _unique_values(old, key), _unique_values(new, key)
        if old_values is None or new_values is None:
            continue
        if old and new and not old_values & new_values:
            continue
        if best is None or (rank, key) < best:
            best = (rank, key)
    return best[1] if best else None


def natural_key(value: Any) -> tuple[Any, ...]:
    """Sort key: numbers numerically and before text; text with digit runs compared as numbers."""
    if isinstance(value, int):
        return (0, value)
    chunks = re.split(r"(\d+)", str(value))
    return (1, tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in chunks))


def json_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Return every change between ``old`` and ``new`` (``path`` prefixes the legacy field path)."""
    at = _At(field=path, attribute=path)
    return list(_walk(old, new, at))


def _walk(old: Any, new: Any, at: _At) -> list[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(old) | set(new), key=str):
            here = at.key(str(key))
            if key not in old:
                changes.append(here.change(None, new[key], "added"))
            elif key not in new:
                changes.append(here.change(old[key], None, "removed"))
            else:
                changes.extend(_walk(old[key], new[key], here))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        key = identity_key(old, new)
        return _keyed(old, new, key, at) if key is not None else _aligned(old, new, at)
    if old == new and type(old) is type(new):
        return []
    return [at.change(old, new)]


def _keyed(old: list[dict[str, Any]], new: list[dict[str, Any]], key: str, at: _At) -> list[FieldChange]:
    by_old = {item[key]: item for item in old}
    by_new = {item[key]: item for item in new}
    changes: list[FieldChange] = []
    for ident in sorted(set(by_old) | set(by_new), key=natural_key):
        here = at.item(ident, key)
        if ident not in by_old:
            changes.append(here.change(None, by_new[ident], "added"))
        elif ident not in by_new:
            changes.append(here.change(by_old[ident], None, "removed"))
        else:
            changes.extend(_walk(by_old[ident], by_new[ident], here))
    kept_old = [i for i in by_old if i in by_new]
    kept_new = [i for i in by_new if i in by_old]
    if kept_old != kept_new:
        changes.append(at.change(kept_old, kept_new, "reordered"))
    return changes


def _digest(item: Any) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _similarity(a: Any, b: Any) -> float:
    """How alike two unequal items are, 0..1: shared equal fields of objects, shared items of lists."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        same = sum(1 for k in keys if k in a and k in b and _digest(a[k]) == _digest(b[k]))
        return same / len(keys) if keys else 1.0
    if isinstance(a, list) and isinstance(b, list):
        return SequenceMatcher(None, [_digest(x) for x in a], [_digest(x) for x in b], autojunk=False).ratio()
    return 0.0


def _pairs(old: list[Any], new: list[Any]) -> list[tuple[int | None, int | None]]:
    """Align a replaced run: the monotone pairing of most total similarity; the rest stand alone."""
    if len(old) == len(new) and not any(isinstance(x, dict | list) for x in [*old, *new]):
        return [(i, i) for i in range(len(old))]  # scalars in place: a changed value
    n, m = len(old), len(new)
    if n * m > _MAX_PAIRING:
        common = min(n, m)
        return (
            [(i, i) for i in range(common)]
            + [(i, None) for i in range(common, n)]
            + [(None, j) for j in range(common, m)]
        )
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best = max(score[i + 1][j], score[i][j + 1])
            alike = _similarity(old[i], new[j])
            if alike >= _SIMILAR:
                best = max(best, alike + score[i + 1][j + 1])
            score[i][j] = best
    pairs: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n and j < m:
        alike = _similarity(old[i], new[j])
        if alike >= _SIMILAR and score[i][j] == alike + score[i + 1][j + 1]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif score[i][j] == score[i + 1][j]:
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    pairs += [(k, None) for k in range(i, n)] + [(None, k) for k in range(j, m)]
    return pairs


def _aligned(old: list[Any], new: list[Any], at: _At) -> list[FieldChange]:
    """Align lists without identity by content: unchanged items stay silent, wherever they moved to."""
    matcher = SequenceMatcher(None, [_digest(x) for x in old], [_digest(x) for x in new], autojunk=False)
    changes: list[FieldChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for i, j in _pairs(old[i1:i2], new[j1:j2]):
            if i is not None and j is not None:
                changes.extend(_walk(old[i1 + i], new[j1 + j], at.item(j1 + j, None)))
            elif i is not None:
                changes.append(at.item(i1 + i, None).change(old[i1 + i], None, "removed"))
            elif j is not None:
                changes.append(at.item(j1 + j, None).change(None, new[j1 + j], "added"))
    return changes
