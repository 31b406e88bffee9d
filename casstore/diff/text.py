"""Diff changes in a musician's or QA engineer's words, shared by the CLI and the viewer.

``pattern p04 · track gm_snare_hard.wav · step 12: velocity 110 → 88``
"""

from __future__ import annotations

from typing import Any

from casstore.model.jsondiff import FieldChange, item_label
from casstore.units import human_bytes

# What names a record of each section, as a segment label, and the manifest key it comes from.
SUBJECT_LABELS = {"pattern": "pattern", "mixer": "mixer", "sample": "sample", "file": "file"}
SUBJECT_KEYS = {"pattern": "pattern_id", "mixer": "name", "sample": "asset_name", "file": "path"}
_SUMMARY_FIELDS = 6


def value_text(field: str | None, value: Any) -> str:
    """One value as people read it: sizes in KiB, digests shortened, long structures cut."""
    name = (field or "").rsplit(".", 1)[-1]
    if value is None:
        return "(none)"
    if name == "sha256" and isinstance(value, str):
        return value[:16]
    if name == "size" and isinstance(value, int) and not isinstance(value, bool):
        return human_bytes(value)
    if name == "duration_s" and isinstance(value, int | float):
        return f"{value:.3f} s"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        text = repr(value)
        return text if len(text) < 60 else text[:57] + "..."
    return str(value)


def identity_text(label: str, value: Any, key: str | None) -> str:
    """``step 12``, ``track kick``; an item matched by position: ``step #3``."""
    return f"{label} #{value}" if key is None else f"{label} {value}"


def item_summary(item: Any, skip: str | None) -> str:
    """What an added or removed item holds: ``note C-4, velocity 110``."""
    if not isinstance(item, dict):
        return value_text(None, item)
    parts = []
    for key, value in item.items():
        if key == skip or value is None:
            continue
        if isinstance(value, list):
            parts.append(f"{len(value)} {key}")
        elif isinstance(value, dict):
            parts.append(f"{key} {{{len(value)} fields}}")
        else:
            parts.append(f"{key} {value_text(key, value)}")
    more = f", +{len(parts) - _SUMMARY_FIELDS} more" if len(parts) > _SUMMARY_FIELDS else ""
    return ", ".join(parts[:_SUMMARY_FIELDS]) + more


def _order_text(values: list[Any]) -> str:
    text = ", ".join(str(v) for v in values[:8])
    return text + (", …" if len(values) > 8 else "")


def change_text(change: FieldChange) -> str:
    """The change below its record: ``track kick · step 12: velocity 110 → 88``."""
    describe = getattr(change, "describe", None)
    if describe is not None:  # a loudness value words itself: units, manifest or measured, method
        return str(describe())
    pairs = zip(change.segments, change.keys, strict=True)
    where = " · ".join(identity_text(label, value, key) for (label, value), key in pairs)
    if change.kind == "reordered":
        body = f"{item_label(change.attribute or '')} order {_order_text(change.old)} → {_order_text(change.new)}"
    elif change.attribute:
        old, new = value_text(change.attribute, change.old), value_text(change.attribute, change.new)
        body = f"{change.attribute} {old} → {new}"
    elif change.kind in ("added", "removed"):
        item = change.new if change.kind == "added" else change.old
        skip = change.keys[-1] if change.keys else None
        summary = item_summary(item, skip)
        body = f"{change.kind} ({summary})" if summary else change.kind
    else:
        body = f"{value_text(None, change.old)} → {value_text(None, change.new)}"
    return f"{where}: {body}" if where else body


def record_prefix(section: str, subject: str) -> str:
    """``pattern p04``, ``mixer chorus``, ``project``, ``manifest``."""
    if section in SUBJECT_LABELS:
        return f"{SUBJECT_LABELS[section]} {subject}"
    return section


def full_change_text(section: str, subject: str, change: FieldChange) -> str:
    """A change with its record: ``pattern p04 · track kick · step 12: velocity 110 → 88``."""
    prefix = record_prefix(section, subject)
    text = change_text(change)
    return f"{prefix} · {text}" if change.segments else f"{prefix}: {text}"
