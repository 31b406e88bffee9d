"""Pure functions turning library records into the view's rows (lists of dicts, as RecycleView wants)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

import casstore

if TYPE_CHECKING:
    from casstore import Comparison, DiffRecord, SampleInfo, Version

KIND_COLORS = {
    "import": (0.35, 0.65, 1.0, 1),
    "save": (0.45, 0.85, 0.45, 1),
    "autosave": (1.0, 0.75, 0.3, 1),
    "checkpoint": (0.85, 0.5, 0.95, 1),
    "damaged": (1.0, 0.3, 0.3, 1),
}
SECTION_TITLES = {
    "project": "Project",
    "manifest": "Manifest",
    "pattern": "Patterns",
    "mixer": "Mixer",
    "sample": "Samples",
    "file": "Other files",
}


class LineRows(Sequence[dict[str, Any]]):
    """Lines ``start:stop`` of a revision's lines as ``{"text", "heading"}`` rows, each made when read.

    A list of 100,000 row dicts was ~18 MB beside the lines it repeats (issue 17). Equal to
    any sequence of the same rows, so a view-model property set to equal rows stays quiet.
    """

    __slots__ = ("_lines", "_start", "_stop")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, lines: Sequence[tuple[str, bool]], start: int, stop: int) -> None:
        self._lines, self._start, self._stop = lines, start, max(start, stop)

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError("row index out of range")
        text, heading = self._lines[self._start + index % len(self)]
        return {"text": text, "heading": heading}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineRows) and (other._lines, other._start, other._stop) == (
            self._lines,
            self._start,
            self._stop,
        ):
            return True
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(mine == theirs for mine, theirs in zip(self, other, strict=True))
        return NotImplemented

    def __repr__(self) -> str:
        return f"LineRows({len(self)} rows)"


def revision_rows(lines: Sequence[tuple[str, bool]]) -> LineRows:
    """The Version pane's rows: the lines after the title, up to the sampler assets (shown below as samples)."""
    headings = lines.headings() if hasattr(lines, "headings") else [i for i, (_t, h) in enumerate(lines) if h]
    cut = next((i for i in headings if i >= 1 and lines[i][0].startswith("Sampler assets")), len(lines))
    return LineRows(lines, 1, cut)


CELL_COLORS = {"same": (0.45, 0.45, 0.5, 1), "modified": (1.0, 0.7, 0.2, 1), "added": (0.4, 0.9, 0.4, 1)}
CELL_COLORS["removed"] = (1.0, 0.35, 0.35, 1)


def human_size(count: int) -> str:
    """Format a byte count as people read it: ``1.4 MiB``."""
    return str(casstore.diff_value_text("size", count))


def _row(version: Version, now: datetime, selected: list[str], depth: int) -> dict[str, Any]:
    when = f"{casstore.relative_time(version.created_at, now)} · {casstore.local_time_text(version.created_at)}"
    extras = [f"tag {t}" for t in version.tags]
    if version.folded:
        count = len(version.folded)
        extras.append(f"+{count} checkpoint{'s' if count > 1 else ''}")
    kind = "damaged" if version.damaged else version.kind
    return {
        "commit": version.oid,
        "kind": version.kind,
        "text": version.title,
        "detail": " · ".join([when.strip(" ·"), *extras]),
        "kind_color": KIND_COLORS.get(kind, (0.8, 0.8, 0.8, 1)),
        "selected": version.oid in selected,
        "focused": False,
        "damaged": bool(version.damaged),
        "depth": depth,
    }


def history_rows(
    versions: list[Version], now: datetime, selected: list[str], show_checkpoints: bool, filter_text: str = ""
) -> list[dict[str, Any]]:
    """Rows newest first; folded checkpoints appear indented under their action when shown."""
    words = filter_text.lower().split()
    rows = []
    for version in versions:
        candidates = [(version, 0)] + ([(c, 1) for c in version.folded] if show_checkpoints else [])
        for item, depth in candidates:
            row = _row(item, now, selected, depth)
            haystack = f"{row['text']} {row['detail']} {item.kind} {item.message}".lower()
            if all(w in haystack for w in words):
                rows.append(row)
    return rows


def sample_rows(samples: list[SampleInfo], peaks: dict[str, float | None]) -> list[dict[str, Any]]:
    """One row per sampler asset: name, loudness, peak (the manifest's, else the sampler manifest's), size."""
    rows = []
    for sample in samples:
        peak = sample.peak_dbfs if sample.peak_dbfs is not None else peaks.get(sample.name)
        facts = [
            f"LUFS {sample.lufs_lu:.1f}" if sample.lufs_lu is not None else "LUFS not recorded",
            f"peak {peak:.1f} dBFS" if peak is not None else "peak not recorded",
            human_size(sample.size),
        ]
        rows.append(
            {"name": sample.name, "facts": " · ".join(facts), "blob": sample.blob or "", "suffix": sample.suffix}
        )
    return rows


def diff_rows(records: list[DiffRecord]) -> list[dict[str, Any]]:
    """Group diff records under section headings, in the words QA reads."""
    rows: list[dict[str, Any]] = []
    for section in SECTION_TITLES:
        members = [r for r in records if r.section == section]
        if not members:
            continue
        rows.append({"text": SECTION_TITLES[section], "heading": True})
        for record in members:
            rows.append({"text": f"  {casstore.diff_headline(record)}", "heading": False})
            if record.change in ("modified", "renamed"):
                rows.extend({"text": f"      {line}", "heading": False} for line in record.lines())
    return rows


def comparison_view(comparison: Comparison) -> dict[str, Any]:
    """The diff pane's data: step grids, mixer before/after rows, and changed samples."""
    grids = []
    for grid in comparison.patterns:
        grids.append(
            {
                "pattern": grid.pattern_id,
                "length": grid.length,
                "tracks": list(grid.tracks),
                "cells": [
                    {"track": c.track, "step": c.step, "change": c.change, "detail": c.detail} for c in grid.cells
                ],
                "changed": len(grid.changed),
            }
        )
    mixer = [
        {
            "where": f"{m.snapshot} · {m.channel}",
            "field": m.field,
            "old": casstore.diff_value_text(m.field, m.old),
            "new": casstore.diff_value_text(m.field, m.new),
        }
        for m in comparison.mixer
    ]
    samples = []
    for s in comparison.samples:
        what = {"renamed": f"renamed from {s.old_name}", "modified": "changed"}.get(s.change, s.change)
        samples.append(
            {"name": s.name, "what": what, "old": s.old_blob or "", "new": s.new_blob or "", "suffix": s.suffix}
        )
    return {"grids": grids, "mixer": mixer, "samples": samples}
