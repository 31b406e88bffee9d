"""Two versions side by side, as the viewer's diff pane draws them.

- patterns as a step grid (tracks × steps, in step order), each cell's old and new content;
- mixer values before and after, per snapshot and channel;
- samples added, removed, renamed or changed, with the blob ids to draw and play both.

The diff records (:func:`casstore.diff.semantic.diff_sides`) still say everything in words; this adds
the shapes a grid, a table and a waveform overlay need.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from casstore.diff.inputs import DiffSide, side_from_tree
from casstore.diff.semantic import DiffRecord, diff_sides
from casstore.history.commits import read_commit, read_tree
from casstore.history.revisions import resolve
from casstore.model.manifest_stream import clean_sampler_assets
from casstore.model.manifest_view import LEFT_OUT, read_sampler_assets
from casstore.model.tree_table import TreeTable, read_object, read_tree_table
from casstore.storage.store import Store


@dataclass(frozen=True)
class GridCell:
    """One step of one track: what it held before and after (None: empty), and how it changed."""

    track: str
    step: int
    old: str | None
    new: str | None

    @property
    def change(self) -> str:
        """Return ``same``, ``added``, ``removed`` or ``modified``."""
        if self.old == self.new:
            return "same"
        if self.old is None:
            return "added"
        return "removed" if self.new is None else "modified"

    @property
    def detail(self) -> str:
        """Return the cell in words: ``verse · choir · step 12: C-4 v90 → C-4 v96``."""
        return f"{self.track} · step {self.step}: {self.old or 'empty'} → {self.new or 'empty'}"


@dataclass(frozen=True)
class PatternGrid:
    """A pattern of two versions as tracks × steps."""

    pattern_id: str
    length: int
    tracks: tuple[str, ...]
    cells: tuple[GridCell, ...]  # every filled cell of either version, by track then step

    @property
    def changed(self) -> tuple[GridCell, ...]:
        """Return the cells that differ."""
        return tuple(c for c in self.cells if c.change != "same")


@dataclass(frozen=True)
class MixerValue:
    """One mixer value before and after: ``Verse Snapshot · choir_pad_soft.wav · gain_db -3.0 → -4.5``."""

    snapshot: str
    channel: str
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class SampleChange:
    """A sample that differs, with both blobs (None where absent) so both can be drawn and played."""

    name: str
    change: str  # added | removed | renamed | modified
    old_blob: str | None
    new_blob: str | None
    old_name: str | None
    suffix: str


@dataclass(frozen=True)
class Comparison:
    """Everything the diff pane shows for ``old → new``."""

    old: str
    new: str
    records: tuple[DiffRecord, ...]
    patterns: tuple[PatternGrid, ...]
    mixer: tuple[MixerValue, ...]
    samples: tuple[SampleChange, ...]


def _cell_text(step: dict[str, Any]) -> str:
    parts = [str(step["note"])] if step.get("note") is not None else []
    if step.get("velocity") is not None:
        parts.append(f"v{step['velocity']}")
    for key in ("effect", "fx"):
        if step.get(key):
            parts.append(str(step[key]))
    return " ".join(parts) or "on"


def _step_number(step: dict[str, Any]) -> int | None:
    for key in ("step", "position", "index"):
        value = step.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def pattern_cells(pattern: Any) -> tuple[list[str], dict[tuple[str, int], str]]:
    """Read a pattern's tracks and filled cells, from either layout trackers write.

    ``{"tracks": [names], "steps": [{"step", "track": index, …}]}`` or
    ``{"tracks": [{"instrument"|"name", "steps": [{"step", …}]}]}``.
    """
    tracks: list[str] = []
    cells: dict[tuple[str, int], str] = {}
    if not isinstance(pattern, dict):
        return tracks, cells
    raw_tracks: list[Any] = pattern["tracks"] if isinstance(pattern.get("tracks"), list) else []
    for index, track in enumerate(raw_tracks):
        if isinstance(track, dict):
            name = str(track.get("instrument") or track.get("name") or f"track {index + 1}")
            tracks.append(name)
            for step in track.get("steps") or []:
                number = _step_number(step) if isinstance(step, dict) else None
                if number is not None:
                    cells[(name, number)] = _cell_text(step)
        else:
            tracks.append(str(track))
    for step in pattern.get("steps") or []:
        number = _step_number(step) if isinstance(step, dict) else None
        if number is None:
            continue
        where = step.get("track")
        if isinstance(where, int) and not isinstance(where, bool) and 0 <= where < len(tracks):
            name = tracks[where]
        else:
            name = str(where if isinstance(where, str) else step.get("instrument") or "steps")
            if name not in tracks:
                tracks.append(name)
        cells[(name, number)] = _cell_text(step)
    return tracks, cells


def _grid(pattern_id: str, old: Any, new: Any) -> PatternGrid:
    old_tracks, old_cells = pattern_cells(old)
    new_tracks, new_cells = pattern_cells(new)
    tracks = list(old_tracks) + [t for t in new_tracks if t not in old_tracks]
    steps = [s for _t, s in (*old_cells, *new_cells)]
    declared = [p.get("length_steps") for p in (old, new) if isinstance(p, dict)]
    length = max([d for d in declared if isinstance(d, int)] + [max(steps, default=-1) + 1])
    keys = sorted(set(old_cells) | set(new_cells), key=lambda k: (tracks.index(k[0]), k[1]))
    cells = tuple(GridCell(t, s, old_cells.get((t, s)), new_cells.get((t, s))) for t, s in keys)
    return PatternGrid(pattern_id, length, tuple(tracks), cells)


def _by(manifest: dict[str, Any] | None, key: str, ident: str) -> dict[str, dict[str, Any]]:
    items = (manifest or {}).get(key) or []
    return {str(i[ident]): i for i in items if isinstance(i, dict) and i.get(ident) is not None}


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix or "value": value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict):
            out.update(_flat(item, name))
        elif not isinstance(item, list):
            out[name] = item
    return out


def _channels(snapshot: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(snapshot, dict):
        return {}
    found: dict[str, dict[str, Any]] = {}
    for index, channel in enumerate(snapshot.get("channels") or []):
        if isinstance(channel, dict):
            name = str(channel.get("name") or channel.get("instrument") or f"channel {index + 1}")
            found[name] = {k: v for k, v in _flat(channel).items() if k not in ("name", "instrument")}
    if isinstance(snapshot.get("master"), dict):
        found["master"] = _flat(snapshot["master"])
    return found


def _mixer(old: DiffSide, new: DiffSide) -> list[MixerValue]:
    values = []
    old_snaps, new_snaps = _by(old.manifest, "mixer_snapshots", "name"), _by(new.manifest, "mixer_snapshots", "name")
    for name in sorted(set(old_snaps) & set(new_snaps)):
        before = _channels(old.read_json(str(old_snaps[name].get("path"))))
        after = _channels(new.read_json(str(new_snaps[name].get("path"))))
        for channel in [*before, *[c for c in after if c not in before]]:
            a, b = before.get(channel, {}), after.get(channel, {})
            for field in [*a, *[f for f in b if f not in a]]:
                if a.get(field) != b.get(field):
                    values.append(MixerValue(name, channel, field, a.get(field), b.get(field)))
    return values


def _samples(old: DiffSide, new: DiffSide, records: list[DiffRecord]) -> list[SampleChange]:
    out = []
    for record in records:
        if record.section != "sample":
            continue
        old_path = record.old_path or (record.path if record.change != "added" else None)
        new_path = record.path if record.change != "removed" else None
        old_facts = old.files.get(old_path) if old_path else None
        new_facts = new.files.get(new_path) if new_path else None
        path = new_path or old_path or record.subject
        suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ".wav"
        old_name = old_path.rsplit("/", 1)[-1] if record.change == "renamed" and old_path else None
        out.append(
            SampleChange(
                record.subject,
                record.change,
                old_facts.sha256 if old_facts else None,
                new_facts.sha256 if new_facts else None,
                old_name,
                suffix,
            )
        )
    return out


def _side(store: Store, rev: str) -> DiffSide:
    oid = resolve(store, rev)
    return side_from_tree(store, read_tree(store, read_commit(store, oid).tree), rev)


def compare_versions(store: Store, old_rev: str, new_rev: str) -> Comparison:
    """Compare two stored versions for the diff pane: records, step grids, mixer values, samples."""
    old, new = _side(store, old_rev), _side(store, new_rev)
    records = diff_sides(old, new)
    grids = []
    old_patterns = _by(old.manifest, "patterns", "pattern_id")
    new_patterns = _by(new.manifest, "patterns", "pattern_id")
    for pattern_id in sorted(set(old_patterns) | set(new_patterns)):
        a, b = old_patterns.get(pattern_id), new_patterns.get(pattern_id)
        before = old.read_json(str(a.get("path"))) if a else None
        after = new.read_json(str(b.get("path"))) if b else None
        if before != after:
            grids.append(_grid(pattern_id, before, after))
    return Comparison(
        old_rev, new_rev, tuple(records), tuple(grids), tuple(_mixer(old, new)), tuple(_samples(old, new, records))
    )


@dataclass(frozen=True)
class SampleInfo:
    """A sampler asset of one version: name, blob, loudness and peak from its manifest entry."""

    name: str
    path: str
    blob: str | None
    size: int
    lufs_lu: float | None
    peak_dbfs: float | None

    @property
    def suffix(self) -> str:
        """Return the file suffix (``.wav``, ``.flac``), lower case."""
        return "." + self.path.rsplit(".", 1)[-1].lower() if "." in self.path else ""


def version_samples(store: Store, rev: str, table: TreeTable | None = None) -> list[SampleInfo]:
    """Return a version's sampler assets in manifest order, with the blobs to draw and play them.

    ``table`` is the version's tree, when the caller has read it already.
    """
    # The tree as a table and the manifest's assets only: a version of 100,000 patterns read
    # as a diff side held every file and every manifest entry (~90 MiB, issue 17).
    if table is None:
        table = read_tree_table(store, read_commit(store, resolve(store, rev)).tree)
    items = None
    if table.manifest:
        # Streamed when it reads cleanly (the manifest's bytes and text, ~40 MB at 100,000
        # entries, are never held whole); any problem reads it as before.
        items = clean_sampler_assets(store, table.manifest)
    if table.manifest and items is None:
        with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: no manifest, as diff sides read it
            items = read_sampler_assets(read_object(store, table.manifest).decode("utf-8"))
    if any(value is LEFT_OUT for item in items or () if isinstance(item, dict) for value in item.values()):
        items = (_side(store, rev).manifest or {}).get("sampler_assets")  # an asset holding objects: read it all
    out = []
    for name, item in _by({"sampler_assets": items}, "sampler_assets", "asset_name").items():
        path = str(item.get("relative_path") or f"assets/{name}")
        index = table.index(path)
        lufs, peak = item.get("lufs_lu"), item.get("peak_dbfs")
        out.append(
            SampleInfo(
                name,
                path,
                table.sha256(index) if index is not None else None,
                table.sizes[index] if index is not None else 0,
                float(lufs) if isinstance(lufs, int | float) else None,
                float(peak) if isinstance(peak, int | float) else None,
            )
        )
    return out
