"""Semantic diff of two bundles: project fields, pattern steps, mixer values, samples, other files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from casstore.audio.wav import audio_facts
from casstore.bundles.loudness_report import sample_loudness_changes, sample_loudness_facts
from casstore.diff.inputs import DiffSide, differing_paths, side_from_path, side_from_tree
from casstore.diff.manifest import manifest_changes
from casstore.diff.text import SUBJECT_KEYS, SUBJECT_LABELS, full_change_text, record_prefix
from casstore.history.commits import read_commit, read_tree
from casstore.history.revisions import resolve
from casstore.model.jsondiff import FieldChange, json_changes
from casstore.model.paths import MANIFEST_NAME
from casstore.storage.store import Store

SECTIONS = ("project", "manifest", "pattern", "mixer", "sample", "file")


@dataclass(frozen=True)
class DiffRecord:
    """One change QA reads: which section, what changed, and each field before → after."""

    section: str
    change: str  # added | removed | modified | renamed
    subject: str
    path: str | None
    old_path: str | None = None
    changes: tuple[FieldChange, ...] = field(default_factory=tuple)
    note: str | None = None

    def identity(self) -> list[list[Any]]:
        """The record's own identity segment (``[["pattern", "verse"]]``; none for project/manifest)."""
        return [[SUBJECT_LABELS[self.section], self.subject]] if self.section in SUBJECT_LABELS else []

    def lines(self) -> list[str]:
        """Each change in words, with the record it belongs to (see ``casstore.diff.text``)."""
        return [full_change_text(self.section, self.subject, c) for c in self.changes]

    def as_json(self) -> dict[str, Any]:
        """Return the record as a JSON object."""
        own = self.identity()
        own_keys = [SUBJECT_KEYS[self.section]] if own else []
        changes = []
        for change, line in zip(self.changes, self.lines(), strict=True):
            item = change.as_json()
            item["identity"] = own + item["identity"]
            item["identity_keys"] = own_keys + item["identity_keys"]
            item["display"] = line
            changes.append(item)
        return {
            "section": self.section,
            "change": self.change,
            "subject": self.subject,
            "path": self.path,
            "old_path": self.old_path,
            "changes": changes,
            "identity": own,
            "note": self.note,
            "display": headline(self),
        }


def headline(record: DiffRecord) -> str:
    """The record in one line: ``pattern verse (patterns/verse.json): modified``."""
    if record.section == "project":
        return "project fields"
    subject = record_prefix(record.section, record.subject)
    if record.change == "renamed":
        same = "same content" if not any(c.field == "sha256" for c in record.changes) else "changed"
        return f"{subject}: renamed {record.old_path} → {record.path} ({same})"
    if record.section in ("file", "manifest"):
        note = f" ({record.note})" if record.note else ""
        return f"{subject}: {record.change}{note}"
    return f"{subject} ({record.path or record.old_path}): {record.change}"


def open_side(store: Store | None, spec: str) -> DiffSide:
    """Open ``spec`` as a bundle directory or zip if such a path exists, else as a revision."""
    location = Path(spec)
    if location.exists():
        return side_from_path(location)
    if store is None:
        from casstore.errors import RevisionError

        raise RevisionError(f"{spec!r} is not a bundle path, and there is no store to resolve it as a revision")
    commit = read_commit(store, resolve(store, spec))
    return side_from_tree(store, read_tree(store, commit.tree), spec)


def diff_specs(store: Store | None, old_spec: str, new_spec: str) -> list[DiffRecord]:
    """Diff two revisions, bundle directories or zips, in any mix."""
    old = open_side(store, old_spec)
    try:
        new = open_side(store, new_spec)
        try:
            return diff_sides(old, new)
        finally:
            new.close()
    finally:
        old.close()


def _listed(manifest: dict[str, Any] | None, key: str, ident: str, path_key: str) -> dict[str, dict[str, Any]]:
    items = (manifest or {}).get(key) or []
    return {
        str(item[ident]): item
        for item in items
        if isinstance(item, dict) and ident in item and isinstance(item.get(path_key), str)
    }


def diff_sides(old: DiffSide, new: DiffSide) -> list[DiffRecord]:
    """Return every semantic difference between two sides, in section order."""
    records = _project(old, new) + _manifest(old, new)
    claimed: set[str] = {MANIFEST_NAME}
    for section, key, ident, path_key in (
        ("pattern", "patterns", "pattern_id", "path"),
        ("mixer", "mixer_snapshots", "name", "path"),
        ("sample", "sampler_assets", "asset_name", "relative_path"),
    ):
        old_items = _listed(old.manifest, key, ident, path_key)
        new_items = _listed(new.manifest, key, ident, path_key)
        claimed |= {item[path_key] for item in [*old_items.values(), *new_items.values()]}
        records += _entries(section, old, new, old_items, new_items, path_key)
    records += _other_files(old, new, claimed)
    return records + _unexplained(old, new, records)


def _manifest(old: DiffSide, new: DiffSide) -> list[DiffRecord]:
    changes, note = manifest_changes(old, new)
    if not changes:
        return []
    return [DiffRecord("manifest", "modified", MANIFEST_NAME, MANIFEST_NAME, None, tuple(changes), note)]


def _unexplained(old: DiffSide, new: DiffSide, records: list[DiffRecord]) -> list[DiffRecord]:
    """Files that differ yet no record names (a manifest listing one path twice, …): by bytes."""
    named = {p for r in records for p in (r.path, r.old_path) if p}
    if records:
        named.add(MANIFEST_NAME)  # its entries changed with the files their records name
    extra = []
    for path in sorted(differing_paths(old.files, new.files) - named):
        if old.files.get(path) != new.files.get(path):
            changes = _byte_changes(old, new, path if path in old.files else None, path if path in new.files else None)
            extra.append(DiffRecord("file", "modified", path, path, None, tuple(changes)))
    return extra


def _project(old: DiffSide, new: DiffSide) -> list[DiffRecord]:
    if old.manifest is None or new.manifest is None:
        if old.files.get(MANIFEST_NAME) != new.files.get(MANIFEST_NAME):
            return [_bytes_record("project", "modified", MANIFEST_NAME, MANIFEST_NAME, old, new, MANIFEST_NAME)]
        return []
    skip = {"patterns", "mixer_snapshots", "sampler_assets"}
    old_top = {k: v for k, v in old.manifest.items() if k not in skip}
    new_top = {k: v for k, v in new.manifest.items() if k not in skip}
    changes = []
    for change in json_changes(old_top, new_top):
        name = change.field.removeprefix("project.")
        attribute = change.attribute.removeprefix("project.") if change.attribute else None
        changes.append(replace(change, field=name, attribute=attribute))
    if old.project_id and new.project_id and old.project_id != new.project_id:
        changes.append(FieldChange("store project", old.project_id, new.project_id))
    if not changes:
        return []
    return [DiffRecord("project", "modified", "project", MANIFEST_NAME, None, tuple(changes))]


def _entries(
    section: str,
    old: DiffSide,
    new: DiffSide,
    old_items: dict[str, dict[str, Any]],
    new_items: dict[str, dict[str, Any]],
    path_key: str,
) -> list[DiffRecord]:
    records = []
    removed = {k: v for k, v in old_items.items() if k not in new_items}
    added = {k: v for k, v in new_items.items() if k not in old_items}
    # Same content under a new name: a rename, not a removal plus an addition.
    for new_name, new_item in list(added.items()):
        new_facts = new.files.get(new_item[path_key])
        for old_name, old_item in list(removed.items()):
            if new_facts is not None and old.files.get(old_item[path_key]) == new_facts:
                meta = _meta_changes(old_item, new_item, path_key, section)
                records.append(
                    DiffRecord(section, "renamed", new_name, new_item[path_key], old_item[path_key], tuple(meta))
                )
                del added[new_name], removed[old_name]
                break
    for name in sorted(set(old_items) & set(new_items)):
        old_item, new_item = old_items[name], new_items[name]
        if old_item == new_item and old.files.get(old_item[path_key]) == new.files.get(new_item[path_key]):
            continue  # same entry, same file: nothing to say, and json_changes per entry is costly at scale
        record = _modified(section, name, old, new, old_item, new_item, path_key)
        if record is not None:
            records.append(record)
    for name, item in sorted(added.items()):
        facts = _facts(section, new, item[path_key], added=True)
        records.append(DiffRecord(section, "added", name, item[path_key], None, tuple(facts)))
    for name, item in sorted(removed.items()):
        facts = _facts(section, old, item[path_key], added=False)
        records.append(DiffRecord(section, "removed", name, None, item[path_key], tuple(facts)))
    order = {"modified": 0, "renamed": 1, "added": 2, "removed": 3}
    return sorted(records, key=lambda r: (order[r.change], r.subject))


def _meta_changes(old_item: dict[str, Any], new_item: dict[str, Any], path_key: str, section: str) -> list[FieldChange]:
    """Manifest fields that changed, other than the identity, the path and the recorded digest."""
    ignore = {"sha256", "pattern_id", "name", "asset_name", path_key}
    return [c for c in json_changes(old_item, new_item) if c.field.split(".")[0] not in ignore]


def _modified(
    section: str,
    name: str,
    old: DiffSide,
    new: DiffSide,
    old_item: dict[str, Any],
    new_item: dict[str, Any],
    path_key: str,
) -> DiffRecord | None:
    old_path, new_path = old_item[path_key], new_item[path_key]
    changes = [FieldChange(path_key, old_path, new_path)] if old_path != new_path else []
    old_facts, new_facts = old.files.get(old_path), new.files.get(new_path)
    if old_facts != new_facts:
        if section == "sample":
            changes += _sample_changes(old, new, old_path, new_path)
        else:
            changes += _content_changes(section, old, new, old_path, new_path)
    changes += _meta_changes(old_item, new_item, path_key, section)
    if section == "sample":  # loudness: manifest or measured, how it was measured, QA findings
        changes = sample_loudness_changes(changes, old, new, old_item, new_item, path_key)
    if not changes:
        return None
    return DiffRecord(section, "modified", name, new_path, old_path if old_path != new_path else None, tuple(changes))


def _content_changes(section: str, old: DiffSide, new: DiffSide, old_path: str, new_path: str) -> list[FieldChange]:
    old_json, new_json = old.read_json(old_path), new.read_json(new_path)
    if old_json is None or new_json is None:
        return _byte_changes(old, new, old_path, new_path)
    return json_changes(old_json, new_json) or _byte_changes(old, new, old_path, new_path)


def _byte_changes(old: DiffSide, new: DiffSide, old_path: str | None, new_path: str | None) -> list[FieldChange]:
    a = old.files.get(old_path) if old_path else None
    b = new.files.get(new_path) if new_path else None
    changes = []
    if (a and a.size) != (b and b.size):
        changes.append(FieldChange("size", a.size if a else None, b.size if b else None))
    if (a and a.sha256) != (b and b.sha256):
        changes.append(FieldChange("sha256", a.sha256 if a else None, b.sha256 if b else None))
    return changes


def _audio(side: DiffSide, path: str) -> dict[str, Any]:
    if path not in side.files:
        return {}
    try:
        with side.opener(path) as stream:
            facts = audio_facts(stream)
    except (OSError, ValueError):
        facts = None
    if not facts:
        return {}
    return {k: facts[k] for k in ("duration_s", "sample_rate", "channels", "bit_depth")}


def _sample_changes(old: DiffSide, new: DiffSide, old_path: str, new_path: str) -> list[FieldChange]:
    changes = _byte_changes(old, new, old_path, new_path)
    before, after = _audio(old, old_path), _audio(new, new_path)
    for key in ("duration_s", "sample_rate", "channels", "bit_depth"):
        if key in before and key in after and before[key] != after[key]:
            changes.append(FieldChange(key, before[key], after[key]))
    return changes


def _facts(section: str, side: DiffSide, path: str, added: bool) -> list[FieldChange]:
    """Describe an added (None → value) or removed (value → None) file: size, digest, audio facts."""
    facts = side.files.get(path)
    values: list[tuple[str, Any]] = [("file", "missing")]
    if facts is not None:
        values = [("size", facts.size), ("sha256", facts.sha256)]
        if section == "sample":
            values += list(_audio(side, path).items())
    changes = [FieldChange(k, None, v) if added else FieldChange(k, v, None) for k, v in values]
    if section == "sample" and facts is not None:
        changes += sample_loudness_facts(side, path, added)
    return changes


def _bytes_record(
    section: str, change: str, subject: str, path: str, old: DiffSide, new: DiffSide, old_path: str
) -> DiffRecord:
    return DiffRecord(section, change, subject, path, None, tuple(_byte_changes(old, new, old_path, path)))


def _other_files(old: DiffSide, new: DiffSide, claimed: set[str]) -> list[DiffRecord]:
    records = []
    for path in sorted(differing_paths(old.files, new.files) - claimed):
        a, b = old.files.get(path), new.files.get(path)
        if a == b:
            continue
        if a is None:
            records.append(DiffRecord("file", "added", path, path, None, tuple(_facts("file", new, path, True))))
        elif b is None:
            records.append(DiffRecord("file", "removed", path, None, path, tuple(_facts("file", old, path, False))))
        else:
            changes = _content_changes("file", old, new, path, path)
            records.append(DiffRecord("file", "modified", path, path, None, tuple(changes)))
    return records


@dataclass(frozen=True)
class StatLine:
    """One changed file of ``diff --stat``: its path, how many changes, and which records."""

    path: str
    changes: int
    summary: str

    def text(self) -> str:
        """``patterns/verse.json | 3 change(s): pattern verse modified``."""
        return f"{self.path} | {self.changes} change(s): {self.summary}"

    def as_json(self) -> dict[str, Any]:
        """Return the line as a JSON object."""
        return {"path": self.path, "changes": self.changes, "summary": self.summary}


def _weight(record: DiffRecord) -> int:
    """A whole file added or removed is one change; otherwise each field (a bare rename is one)."""
    return 1 if record.change in ("added", "removed") else max(1, len(record.changes))


def stat(records: list[DiffRecord]) -> list[StatLine]:
    """One line per changed file (records of the same file together); their counts sum to the total."""
    grouped: dict[str, list[DiffRecord]] = {}
    for record in records:
        where = record.path or record.old_path or ""
        if record.change == "renamed":
            where = f"{record.old_path} => {record.path}"
        grouped.setdefault(where, []).append(record)
    lines = []
    for where, members in grouped.items():
        words = "; ".join(
            f"{'project fields' if r.section == 'project' else record_prefix(r.section, r.subject)} {r.change}"
            for r in members
        )
        lines.append(StatLine(where, sum(_weight(r) for r in members), words))
    return lines


def stat_total(lines: list[StatLine]) -> str:
    """The total line: as many files as lines, as many changes as the lines add up to."""
    return f"{len(lines)} file(s) changed, {sum(line.changes for line in lines)} change(s)"


def stat_lines(records: list[DiffRecord]) -> list[str]:
    """Return ``diff --stat`` as text: one line per changed file, then the total."""
    lines = stat(records)
    return [line.text() for line in lines] + [stat_total(lines)]
