"""The tracker app's ``project_manifest.json``, schema 1.x: typed records, unknown fields kept.

Validation is plain Python, its rules read from the records' annotations: every import,
export, diff and autosave reads a manifest, and pydantic's import alone cost more
(~90 ms) than casstore's whole start-up budget. Messages follow pydantic's wording
(``Field required``, ``Input should be a valid number``) so they read the same as
the sampler manifest's, which still uses pydantic.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias

from casstore.errors import ManifestError
from casstore.model.manifest_json import _finite, _join, _refuse_constant, load_json_once, version_problem
from casstore.model.paths import MANIFEST_NAME
from casstore.storage import canonical

_SHA256 = re.compile(r"[0-9a-f]{64}")
# A float taken as an integer must fit in 64 bits, as in pydantic (the tracker app's reader).
_INT_FROM_FLOAT_LIMIT = float(2**63)

Sha256: TypeAlias = str
"""A field annotated ``Sha256`` holds 64 lowercase hex digits."""

# Each record's fields are declared once, as dataclass annotations; the validator reads its
# rules from them (``str | None`` makes a field optional: absent or null means None).
_KIND_OF_ANNOTATION = {"str": "str", "Sha256": "sha256", "float": "number", "int": "int"}
_MESSAGES = {
    "str": "Input should be a valid string",
    "number": "Input should be a valid number",
    "int": "Input should be a valid integer",
    "sha256": "Input should be a valid string",
}


@dataclass(frozen=True)
class DeclaredField:
    """One declared field of a manifest record: its name, its kind and whether it may be absent."""

    name: str
    kind: str  # str | sha256 | number | int
    optional: bool


def _declared(annotation: str, owner: str, name: str) -> DeclaredField:
    """Read a field's rule from its annotation; an annotation the validator cannot check is a bug."""
    base, _, rest = annotation.partition(" | ")
    optional = rest == "None"
    if base not in _KIND_OF_ANNOTATION or (rest and not optional):
        raise TypeError(f"{owner}.{name}: annotation {annotation!r} has no manifest rule")
    return DeclaredField(name, _KIND_OF_ANNOTATION[base], optional)


def _convert(kind: str, value: Any) -> tuple[Any, str | None]:
    """Return ``(value, None)`` converted to ``kind``, or ``(None, message)``."""
    if kind in ("str", "sha256"):
        if not isinstance(value, str):
            return None, _MESSAGES[kind]
        if kind == "sha256" and not _SHA256.fullmatch(value):
            return None, "must be 64 lowercase hex digits"
        return value, None
    if isinstance(value, bool):
        return None, _MESSAGES[kind]
    if kind == "number" and isinstance(value, int | float):
        try:
            return float(value), None
        except OverflowError:  # an integer of hundreds of digits
            return None, "Input should be a finite number"
    if kind == "int":
        if isinstance(value, int):
            return value, None
        if isinstance(value, float) and value.is_integer() and abs(value) < _INT_FROM_FLOAT_LIMIT:
            return int(value), None
    return None, _MESSAGES[kind]


# Interned: the tree, the stat cache and the listing hold the same paths (issue 17). Digests are
# not: the tree takes the manifest's own digest strs, and interning them only grew the
# interpreter's never-shrinking table of interned strs (~3.5 MiB at 100,000 files).
_SHARED = frozenset({"path", "relative_path"})
# The ``extra`` of a record without unknown fields: one read-only empty map, not a dict each.
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


class _Errors:
    """Collects ``(location, message)`` pairs; the first is reported, the rest counted."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, location: str, message: str) -> None:
        self.found.append((location or "(top level)", message))


@dataclass(slots=True)  # one per manifest entry: no per-instance dict (issue 17)
class _Record:
    """A manifest record: its annotated fields (see ``FIELDS``) plus any unknown ones in ``extra``."""

    FIELDS: ClassVar[tuple[DeclaredField, ...]] = ()
    NAMES: ClassVar[frozenset[str]] = frozenset()
    extra: Mapping[str, Any] = field(default_factory=lambda: _NO_EXTRA, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Not super(): a slotted dataclass is a new class, which a zero-argument super() does not know.
        object.__init_subclass__(**kwargs)
        # This class's own annotations, as written (strings: see the __future__ import); read from the
        # class dict rather than inspect.get_annotations, whose import costs every command ~4 ms.
        own: dict[str, Any] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        cls.FIELDS = tuple(_declared(str(annotation), cls.__name__, name) for name, annotation in own.items())
        cls.NAMES = frozenset(f.name for f in cls.FIELDS)

    @classmethod
    def parse(cls, data: object, location: str, errors: _Errors) -> Any:
        """Build the record from JSON ``data``, adding any problems to ``errors``; None if it failed."""
        if type(data) is cls:
            return data  # made from the entry's pairs as it was parsed (parse_manifest_text)
        if not isinstance(data, dict):
            errors.add(location, "Input should be a valid object")
            return None
        values: dict[str, Any] = {}
        failed = False
        for declared in cls.FIELDS:
            name = declared.name
            value = data.get(name)
            if value is None and declared.optional:
                values[name] = None
                continue
            if name not in data:
                errors.add(_join(location, name), "Field required")
                failed = True
                continue
            values[name], problem = _convert(declared.kind, value)
            if name in _SHARED and type(values[name]) is str:
                values[name] = sys.intern(values[name])
            if problem:
                errors.add(_join(location, name), problem)
                failed = True
        if failed:
            return None
        extra = {key: value for key, value in data.items() if key not in cls.NAMES}
        return cls(**values, extra=extra or _NO_EXTRA)

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> Any:
        """Build the record from an entry's JSON pairs when they are exactly its valid fields; else None.

        What :meth:`parse` would build, for the common entry (no unknown field, no problem),
        without the dict of the entry first; anything else returns None and is parsed as usual.
        """
        if len(pairs) != len(cls.FIELDS):  # optional fields absent, unknown or repeated ones: parse()
            return None
        values = dict(pairs)
        if values.keys() != cls.NAMES:
            return None
        for declared in cls.FIELDS:
            name = declared.name
            value = values[name]
            if value is None and declared.optional:
                continue
            value, problem = _convert(declared.kind, value)
            if problem:
                return None
            values[name] = sys.intern(value) if name in _SHARED else value
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        """Return the record as JSON: declared fields (optional ones as null) and unknown ones."""
        out = dict(self.extra)
        out.update({f.name: getattr(self, f.name) for f in self.FIELDS})
        return out


@dataclass(slots=True)
class ProjectRecord(_Record):
    """The ``project`` block: id, name, tempo and timestamps."""

    id: str
    name: str
    bpm: float
    swing: float
    created_at: str
    updated_at: str


@dataclass(slots=True)
class PatternFileRecord(_Record):
    """One tracker pattern file."""

    pattern_id: str
    path: str
    sha256: Sha256
    length_steps: int
    step_count: int


@dataclass(slots=True)
class MixerSnapshotRecord(_Record):
    """One mixer snapshot file."""

    name: str
    path: str
    sha256: Sha256
    snapshot_type: str


@dataclass(slots=True)
class SamplerAssetRecord(_Record):
    """One sampler asset (a WAV/FLAC sample) with its loudness and source."""

    asset_name: str
    relative_path: str
    sha256: Sha256
    lufs_lu: float | None = None
    source_uri: str | None = None


_SECTIONS: tuple[tuple[str, type[_Record], str], ...] = (
    ("patterns", PatternFileRecord, "pattern_id"),
    ("mixer_snapshots", MixerSnapshotRecord, "name"),
    ("sampler_assets", SamplerAssetRecord, "asset_name"),
)
# Each listing section's record: its path field and the role its file takes in a tree.
_LISTED: dict[type[_Record], tuple[str, str, str, str]] = {
    PatternFileRecord: ("patterns", "pattern_id", "path", "pattern"),
    MixerSnapshotRecord: ("mixer_snapshots", "name", "path", "mixer_snapshot"),
    SamplerAssetRecord: ("sampler_assets", "asset_name", "relative_path", "sampler_asset"),
}
_RECORD_OF_KEYS = {cls.NAMES: cls for cls in _LISTED}


def entry_label(record: Any) -> str:
    """Return how messages name a listed record: ``patterns['p1']``."""
    section, key, _path, _role = _LISTED[type(record)]
    return f"{section}[{getattr(record, key)!r}]"


def entry_file(record: Any) -> tuple[str, str, str]:
    """Return a listed record's ``(path, sha256, role)``."""
    _section, _key, path, role = _LISTED[type(record)]
    return getattr(record, path), record.sha256, role


@dataclass
class ProjectManifest:
    """``project_manifest.json`` version 1.x."""

    manifest_version: str
    project: ProjectRecord
    patterns: list[PatternFileRecord] = field(default_factory=list)
    mixer_snapshots: list[MixerSnapshotRecord] = field(default_factory=list)
    sampler_assets: list[SamplerAssetRecord] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def listed_files(self) -> list[tuple[str, str, str, str]]:
        """Return ``(entry label, path, sha256, role)`` for every file the manifest lists."""
        return [(entry_label(record), *entry_file(record)) for record in self.listed_records()]

    def listed_records(self) -> Iterator[PatternFileRecord | MixerSnapshotRecord | SamplerAssetRecord]:
        """Yield every record that lists a file, in :meth:`listed_files` order (no label or tuple per file)."""
        yield from self.patterns
        yield from self.mixer_snapshots
        yield from self.sampler_assets

    def as_json(self) -> dict[str, Any]:
        """Return the manifest as JSON, entry lists sorted by key (casstore's canonical order)."""
        out = dict(self.extra)
        out["manifest_version"] = self.manifest_version
        out["project"] = self.project.as_json()
        for section, _cls, key in _SECTIONS:
            items = sorted(getattr(self, section), key=attrgetter(key))
            out[section] = [item.as_json() for item in items]
        return out

    def canonical_bytes(self) -> bytes:
        """Return this manifest in casstore's canonical form (entry lists sorted by key)."""
        return canonical.dumps(self.as_json())


def _check_version(value: object, errors: _Errors) -> str | None:
    problem = version_problem(value)
    if problem:
        errors.add("manifest_version", problem)
        return None
    return value if isinstance(value, str) else None


def manifest_from_json(data: object, source: str = MANIFEST_NAME) -> ProjectManifest:
    """Validate decoded manifest JSON; errors name the file, the entry and the rule."""
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: the manifest must be a JSON object")
    errors = _Errors()
    version = _check_version(data["manifest_version"], errors) if "manifest_version" in data else None
    if "manifest_version" not in data:
        errors.add("manifest_version", "Field required")
    project = ProjectRecord.parse(data["project"], "project", errors) if "project" in data else None
    if "project" not in data:
        errors.add("project", "Field required")
    sections: dict[str, list[Any]] = {}
    for section, cls, _key in _SECTIONS:
        items = data.get(section, [])
        if not isinstance(items, list):
            errors.add(section, "Input should be a valid list")
            continue
        sections[section] = [cls.parse(item, f"{section}[{index}]", errors) for index, item in enumerate(items)]
    if errors.found:
        location, message = errors.found[0]
        more = f" (and {len(errors.found) - 1} more problems)" if len(errors.found) > 1 else ""
        raise ManifestError(f"{source}: {location}: {message}{more}")
    extra = {key: value for key, value in data.items() if key not in ("manifest_version", "project", *sections)}
    manifest = ProjectManifest(version, project, **sections, extra=extra)  # type: ignore[arg-type]
    _refuse_duplicates(manifest, source)
    return manifest


def parse_manifest(raw: bytes, source: str = MANIFEST_NAME) -> ProjectManifest:
    """Parse and validate manifest bytes; errors name the file, the entry and the rule."""
    return manifest_from_json(load_json_once(raw, source), source)


def parse_manifest_text(text: str, source: str = MANIFEST_NAME) -> ProjectManifest:
    """Parse and validate a manifest decoded from UTF-8, as :func:`parse_manifest` does its bytes.

    Each valid entry becomes its record as it is parsed: the dict of every entry, all alive
    until the last was checked, was ~50 MiB of an import of 100,000 files (issue 17). Anything
    unusual (a repeated key, an entry in the wrong list or elsewhere, a problem) is parsed
    again the usual way, which reports it.
    """
    manifest = _parse_records(text, source)
    return manifest if manifest is not None else parse_manifest(text.encode("utf-8"), source)


def _parse_records(text: str, source: str) -> ProjectManifest | None:
    """Parse with entries made records on the way; None when the usual parse must decide."""
    made = 0
    repeated = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> Any:
        nonlocal made, repeated
        cls = _RECORD_OF_KEYS.get(frozenset(key for key, _value in pairs))
        record = cls.from_pairs(pairs) if cls is not None else None
        if record is not None:
            made += 1
            return record
        obj = dict(pairs)
        repeated = repeated or len(obj) != len(pairs)
        return obj

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        return None
    if repeated or not isinstance(data, dict) or not isinstance(data.get("project"), dict):
        return None
    placed = 0
    for section, cls, _key in _SECTIONS:
        items = data.get(section, [])
        if isinstance(items, list):
            records = sum(1 for item in items if isinstance(item, _Record))
            if records != sum(1 for item in items if type(item) is cls):
                return None  # a record in another section's list: the usual parse names the problem
            placed += records
    if placed != made:
        return None  # a record-shaped object elsewhere (an unknown field): it must stay a dict
    return manifest_from_json(data, source)


def _refuse_duplicates(manifest: ProjectManifest, source: str) -> None:
    for section, _cls, key in _SECTIONS:
        seen: set[str] = set()
        for item in getattr(manifest, section):
            value = getattr(item, key)
            if value in seen:
                raise ManifestError(f"{source}: {section}[{value!r}]: duplicate {key} {value!r}")
            seen.add(value)
