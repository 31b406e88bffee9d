"""Structural JSON diff: every changed value by its path, lists of named things matched by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IDENTITY_KEYS = ("name", "id", "pattern_id", "asset_name", "channel", "track_id")


@dataclass(frozen=True)
class FieldChange:
    """One value that changed: where it is, what it was and what it is (None when absent)."""

    field: str
    old: Any
    new: Any

    def as_json(self) -> dict[str, Any]:
        """Return the change as a JSON object."""
        return {"field": self.field, "old": self.old, "new": self.new}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _names_uniquely(items: list[Any], key: str) -> bool:
    values = [item.get(key) if isinstance(item, dict) else None for item in items]
    valid = all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
    return valid and len(set(values)) == len(values)


def _identity(old: list[Any], new: list[Any]) -> str | None:
    """Return the key that names every item of each list uniquely (channels by name, …), if any."""
    if not old and not new:
        return None
    for key in IDENTITY_KEYS:
        if _names_uniquely(old, key) and _names_uniquely(new, key):
            return key
    return None


def json_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Return every leaf that differs between ``old`` and ``new``."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(old) | set(new), key=str):
            here = _join(path, str(key))
            if key not in old:
                changes.append(FieldChange(here, None, new[key]))
            elif key not in new:
                changes.append(FieldChange(here, old[key], None))
            else:
                changes.extend(json_changes(old[key], new[key], here))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        key = _identity(old, new)
        if key is not None:
            by_old = {item[key]: item for item in old}
            by_new = {item[key]: item for item in new}
            changes = []
            for ident in list(by_old) + [i for i in by_new if i not in by_old]:
                here = f"{path}[{ident}]"
                changes.extend(json_changes(by_old.get(ident), by_new.get(ident), here))
            return changes
        if len(old) == len(new):
            changes = []
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                changes.extend(json_changes(a, b, f"{path}[{index}]"))
            return changes
    if old == new and type(old) is type(new):
        return []
    return [FieldChange(path, old, new)]
