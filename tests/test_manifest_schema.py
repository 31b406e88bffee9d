"""The fast manifest validator against pydantic models written from DESIGN.md's manifest section.

casstore validates ``project_manifest.json`` in plain Python (pydantic's import costs more than
casstore's start-up budget). These models are written independently, from the contract, in the
tracker app's own terms (pydantic, unknown fields kept), so any manifest on which the two
verdicts differ is a bug in one of them. Where casstore is deliberately stricter than pydantic's
lax mode the rule is stated here once, with why:

- strict JSON (docs/format.md): no NaN/Infinity, no number too large for a float, no key named
  twice in one object, anywhere in the file;
- a number is a JSON number: ``true`` is not a bpm and ``"16"`` is not a step count (pydantic's
  lax mode would take both; the tracker app never writes them, so seeing one means damage);
- entry ids are unique per list (entries are keyed by them when sorted, diffed and checked out).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import fields
from typing import Annotated, Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from casstore.errors import ManifestError
from casstore.model.manifest import (
    MixerSnapshotRecord,
    PatternFileRecord,
    ProjectRecord,
    SamplerAssetRecord,
    parse_manifest,
)


def _a_json_number(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("a number is a JSON number, not a boolean or text")
    return value


Number = Annotated[float, BeforeValidator(_a_json_number)]
Integer = Annotated[int, BeforeValidator(_a_json_number)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class Project(_Model):
    id: str
    name: str
    bpm: Number
    swing: Number
    created_at: str
    updated_at: str


class Pattern(_Model):
    pattern_id: str
    path: str
    sha256: Sha256
    length_steps: Integer
    step_count: Integer


class MixerSnapshot(_Model):
    name: str
    path: str
    sha256: Sha256
    snapshot_type: str


class SamplerAsset(_Model):
    asset_name: str
    relative_path: str
    sha256: Sha256
    lufs_lu: Number | None = None
    source_uri: str | None = None


class Manifest(_Model):
    manifest_version: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    project: Project
    patterns: list[Pattern] = []
    mixer_snapshots: list[MixerSnapshot] = []
    sampler_assets: list[SamplerAsset] = []

    @field_validator("manifest_version")
    @classmethod
    def _major_one(cls, value: str) -> str:
        if int(value.split(".")[0]) != 1:
            raise ValueError("only 1.x is read")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Manifest:
        for items, key in (
            (self.patterns, "pattern_id"),
            (self.mixer_snapshots, "name"),
            (self.sampler_assets, "asset_name"),
        ):
            ids = [getattr(item, key) for item in items]
            if len(ids) != len(set(ids)):
                raise ValueError(f"duplicate {key}")
        return self


def _strict_json(raw: bytes) -> bool:
    """The JSON rules casstore applies before the schema: finite numbers, each key once."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in items}) != len(items):
            raise ValueError("duplicate key")
        return dict(items)

    def finite(text: str) -> float:
        if not math.isfinite(float(text)):
            raise ValueError("not finite")
        return float(text)

    def refuse(name: str) -> None:
        raise ValueError(name)

    try:
        json.loads(raw, object_pairs_hook=pairs, parse_float=finite, parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    return True


def pydantic_accepts(raw: bytes) -> bool:
    """The contract's verdict: strict JSON, then the pydantic models."""
    if not _strict_json(raw):
        return False
    try:
        Manifest.model_validate_json(raw)
    except ValidationError:
        return False
    return True


def casstore_accepts(raw: bytes) -> bool:
    """casstore's verdict; a refusal must be one line that names the file."""
    try:
        parse_manifest(raw, "b/project_manifest.json")
    except ManifestError as exc:
        assert str(exc).startswith("b/project_manifest.json: ") and "\n" not in str(exc)
        return False
    return True


# -- generated manifests ------------------------------------------------------------------------

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
shas = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
numbers = st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)
unknown = st.dictionaries(st.sampled_from(["color", "muted", "notes"]), st.integers() | st.text(max_size=4) | st.none())


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid 1.x manifest, with some unknown fields."""
    patterns = [
        {"pattern_id": i, "path": f"patterns/{i}.json", "sha256": draw(shas), "length_steps": 16, "step_count": 4}
        | draw(unknown)
        for i in draw(st.lists(names, unique=True, min_size=1, max_size=2))
    ]
    snapshots = [
        {"name": n, "path": f"mixer/{n}.json", "sha256": draw(shas), "snapshot_type": "master"}
        for n in draw(st.lists(names, unique=True, min_size=1, max_size=2))
    ]
    assets = [
        {"asset_name": f"{n}.wav", "relative_path": f"assets/{n}.wav", "sha256": draw(shas)}
        | draw(st.fixed_dictionaries({}, optional={"lufs_lu": numbers | st.none(), "source_uri": st.text(max_size=6)}))
        for n in draw(st.lists(names, unique=True, min_size=1, max_size=2))
    ]
    project = {
        "id": draw(names),
        "name": draw(st.text(max_size=8)),
        "bpm": draw(numbers),
        "swing": draw(numbers),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z",
    } | draw(unknown)
    return {
        "manifest_version": f"1.{draw(st.integers(0, 12))}.{draw(st.integers(0, 12))}",
        "project": project,
        "patterns": patterns,
        "mixer_snapshots": snapshots,
        "sampler_assets": assets,
    } | draw(unknown)


# Near misses for each kind of field, and every one of them anywhere (a list where an object goes...).
NEAR_MISSES: dict[str, list[Any]] = {
    "sha256": ["A" * 64, "a" * 63, "a" * 65, "g" * 64, "a" * 64 + "\n", " " + "a" * 63, "٠" * 64, "0" * 64],
    "int": [True, False, "16", 16.0, 16.5, -0.0, 1e-300, 1e20, 9.2e18, 9.223372036854776e18, -9.223372036854776e18,
            2**63, 2**70, -3, 0],
    "number": [True, "120", 10**400, 1e308, float("nan"), float("inf"), 2**70, -0.0, 0, 120],
    "str": [1, 1.5, True, [], {}, "", "x"],
    "version": ["1.0", "2.0.0", "0.9.0", "01.0.0", "1.01.0", "1.0.0-beta", "1.2.3.4", " 1.0.0", "10.0.0",
                "١.0.0", "1.0.0\n", 1, 1.0],
    "shape": [None, [], [1], {}, {"a": 1}, "x", 0],
}  # fmt: skip
KIND_OF = {"sha256": "sha256", "length_steps": "int", "step_count": "int", "bpm": "number", "swing": "number"}
KIND_OF |= {"lufs_lu": "number", "manifest_version": "version"}
# Copied on each draw: a drawn [] may be appended to, and must not change the pool.
anything = st.sampled_from([value for values in NEAR_MISSES.values() for value in values]).map(copy.deepcopy)


def near_miss(key: str) -> st.SearchStrategy[Any]:
    """A value that is nearly right for ``key`` (or anything at all, now and then)."""
    return st.sampled_from(NEAR_MISSES[KIND_OF.get(key, "str")]).map(copy.deepcopy) | anything


SECTIONS = ("patterns", "mixer_snapshots", "sampler_assets")


def _records(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = [data["project"]] if isinstance(data.get("project"), dict) else []
    for section in SECTIONS:
        items = data.get(section)
        found += [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
    return found


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid manifest with a few subtle breaks: wrong kinds, missing fields, duplicates, extras."""
    data = copy.deepcopy(draw(manifests()))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
        how = draw(st.sampled_from(["set", "set", "delete", "top", "duplicate", "replace-record"]))
        records = _records(data)
        if how in ("set", "delete") and records:
            record = draw(st.sampled_from(records))
            key = draw(st.sampled_from([*sorted(record), "lufs_lu", "source_uri", "unknown_field"]))
            if how == "delete":
                record.pop(key, None)
            else:
                record[key] = draw(near_miss(key))
        elif how == "top":
            key = draw(
                st.sampled_from(["manifest_version", "project", "patterns", "mixer_snapshots", "sampler_assets"])
            )
            if draw(st.booleans()):
                data.pop(key, None)
            else:
                data[key] = draw(near_miss(key) if key == "manifest_version" else anything)
        elif how == "duplicate":
            lists = [
                s
                for s in ("patterns", "mixer_snapshots", "sampler_assets")
                if isinstance(data.get(s), list) and data[s]
            ]
            if lists:
                section = draw(st.sampled_from(lists))
                data[section].append(copy.deepcopy(draw(st.sampled_from(data[section]))))
        else:
            lists = [
                s
                for s in ("patterns", "mixer_snapshots", "sampler_assets")
                if isinstance(data.get(s), list) and data[s]
            ]
            if lists:
                section = draw(st.sampled_from(lists))
                data[section][draw(st.integers(0, len(data[section]) - 1))] = draw(anything)
    return data


def _encode(data: Any) -> bytes:
    def default(value: object) -> Any:
        raise TypeError(value)

    return json.dumps(data, default=default).encode()  # float("nan") becomes the bare token NaN


@settings(max_examples=400)
@given(manifests())
def test_both_accept_every_valid_manifest(data: dict[str, Any]) -> None:
    raw = _encode(data)
    assert pydantic_accepts(raw) and casstore_accepts(raw)


@settings(max_examples=1000)
@given(mutated())
@example({"manifest_version": "١.0.0", "project": {}})
def test_casstore_and_pydantic_agree_on_broken_manifests(data: dict[str, Any]) -> None:
    raw = _encode(data)
    assert casstore_accepts(raw) == pydantic_accepts(raw), raw.decode()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"manifest_version": "1.0.0", "project": {"id": "p", "bpm": 1, "bpm": 2}}',
        b'{"manifest_version": "1.0.0", "notes": NaN, "project": {}}',
        b'{"manifest_version": "1.0.0", "notes": 1e400, "project": {}}',
    ],
)
def test_strict_json_is_refused_even_where_pydantic_would_not_look(raw: bytes) -> None:
    assert not casstore_accepts(raw) and not _strict_json(raw)


def test_the_records_declare_the_fields_the_contract_names() -> None:
    """One declaration: the validator's rules are the dataclass's own fields, and the contract's."""
    pairs = [
        (ProjectRecord, Project),
        (PatternFileRecord, Pattern),
        (MixerSnapshotRecord, MixerSnapshot),
        (SamplerAssetRecord, SamplerAsset),
    ]
    for record, model in pairs:
        declared = [f.name for f in record.FIELDS]
        assert declared == [f.name for f in fields(record) if f.name != "extra"]
        assert declared == list(model.model_fields)
        optional = {f.name for f in record.FIELDS if f.optional}
        assert optional == {name for name, info in model.model_fields.items() if not info.is_required()}


def test_an_annotation_without_a_rule_is_refused_when_the_record_is_declared() -> None:
    from dataclasses import dataclass

    from casstore.model.manifest import _Record

    with pytest.raises(TypeError, match=r"Broken\.when: annotation 'datetime' has no manifest rule"):

        @dataclass
        class Broken(_Record):
            when: datetime  # type: ignore[name-defined]  # noqa: F821
