"""The manifest validator: valid manifests survive a round trip; every broken field is named, once."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casstore.errors import ManifestError
from casstore.model.manifest import manifest_from_json, parse_manifest
from casstore.model.manifest_view import read_manifest_lenient, read_sampler_asset_names

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=10)
shas = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
numbers = st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False))
extras = st.dictionaries(st.sampled_from(["color", "muted", "notes", "extra"]), st.integers() | st.text(max_size=5))


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid 1.x manifest with unique keys per section and some unknown fields."""
    patterns = [
        {"pattern_id": pid, "path": f"patterns/{pid}.json", "sha256": draw(shas), "length_steps": 16, "step_count": 4}
        | draw(extras)
        for pid in draw(st.lists(names, unique=True, max_size=4))
    ]
    snapshots = [
        {"name": name, "path": f"mixer/{name}.json", "sha256": draw(shas), "snapshot_type": "scene"}
        for name in draw(st.lists(names, unique=True, max_size=3))
    ]
    assets = [
        {"asset_name": f"{name}.wav", "relative_path": f"assets/{name}.wav", "sha256": draw(shas)}
        | draw(st.fixed_dictionaries({}, optional={"lufs_lu": numbers | st.none(), "source_uri": st.text(max_size=8)}))
        for name in draw(st.lists(names, unique=True, max_size=3))
    ]
    project = {
        "id": draw(names),
        "name": draw(st.text(max_size=12)),
        "bpm": draw(numbers),
        "swing": draw(numbers),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z",
    } | draw(extras)
    return {
        "manifest_version": f"1.{draw(st.integers(0, 9))}.{draw(st.integers(0, 9))}",
        "project": project,
        "patterns": patterns,
        "mixer_snapshots": snapshots,
        "sampler_assets": assets,
    } | draw(extras)


@given(manifests())
def test_a_valid_manifest_round_trips_with_its_unknown_fields(data: dict[str, Any]) -> None:
    manifest = manifest_from_json(data)
    again = manifest_from_json(json.loads(manifest.canonical_bytes()))
    assert again.as_json() == manifest.as_json() and again.canonical_bytes() == manifest.canonical_bytes()
    dumped = manifest.as_json()
    for key, value in data.items():
        if not isinstance(value, list | dict):
            assert dumped[key] == value
    assert dumped["project"]["bpm"] == float(data["project"]["bpm"])
    assert len(manifest.listed_files()) == sum(len(data[k]) for k in ("patterns", "mixer_snapshots", "sampler_assets"))


REQUIRED = {
    "patterns": ["pattern_id", "path", "sha256", "length_steps", "step_count"],
    "mixer_snapshots": ["name", "path", "sha256", "snapshot_type"],
    "sampler_assets": ["asset_name", "relative_path", "sha256"],
}
WRONG = {  # a value of the wrong kind for each field kind, and the rule the error must state
    "str": ([1, 2], "valid string"),
    "int": ("16", "valid integer"),
    "number": ("fast", "valid number"),
    "sha256": ("ABC", "64 lowercase hex digits"),
}
KIND = {"length_steps": "int", "step_count": "int", "sha256": "sha256", "bpm": "number", "swing": "number"}


@given(manifests(), st.data())
def test_a_missing_or_wrong_field_is_named_with_its_rule(data: dict[str, Any], pick: st.DataObject) -> None:
    sections = [s for s in REQUIRED if data[s]] + ["project"]
    section = pick.draw(st.sampled_from(sections))
    broken = copy.deepcopy(data)
    if section == "project":
        record, location = broken["project"], "project"
        field = pick.draw(st.sampled_from(["id", "name", "bpm", "swing", "created_at", "updated_at"]))
    else:
        index = pick.draw(st.integers(0, len(broken[section]) - 1))
        record, location = broken[section][index], f"{section}[{index}]"
        field = pick.draw(st.sampled_from(REQUIRED[section]))
    if pick.draw(st.booleans()):
        del record[field]
        rule = "Field required"
    else:
        record[field], rule = WRONG[KIND.get(field, "str")]
    with pytest.raises(ManifestError) as raised:
        manifest_from_json(broken, "b/project_manifest.json")
    message = str(raised.value)
    assert message.startswith(f"b/project_manifest.json: {location}.{field}: ") and rule in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"[1, 2]", "must be a JSON object"),
        (b'{"project": {}}', "manifest_version: Field required (and 6 more problems)"),
        (b'{"manifest_version": 1, "project": {}}', "manifest_version: Input should be a valid string"),
        (b'{"manifest_version": "2.0.0"}', "version 2.0.0 is not supported"),
        (b'{"manifest_version": "1.0"}', "'1.0' is not a MAJOR.MINOR.PATCH version"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b'{"manifest_version": "1.0.0", "project": [], "patterns": {}}', "project: Input should be a valid object"),
    ],
)
def test_malformed_manifests_get_one_line(raw: bytes, fragment: str) -> None:
    with pytest.raises(ManifestError) as raised:
        parse_manifest(raw, "m.json")
    assert fragment in str(raised.value) and str(raised.value).startswith("m.json: ")


def test_booleans_are_not_numbers_and_integral_floats_are_integers() -> None:
    data = {
        "manifest_version": "1.0.0",
        "project": {"id": "p", "name": "P", "bpm": True, "swing": 0, "created_at": "", "updated_at": ""},
    }
    with pytest.raises(ManifestError, match=r"project\.bpm: Input should be a valid number"):
        manifest_from_json(data)
    data["project"]["bpm"] = 120
    sha = "0" * 64
    data["patterns"] = [{"pattern_id": "a", "path": "a", "sha256": sha, "length_steps": 16.0, "step_count": 4}]
    manifest = manifest_from_json(data)
    assert manifest.patterns[0].length_steps == 16 and manifest.project.bpm == 120.0


# -- the lenient reader (display paths: show, log, diff, recover, the viewer) -------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
manifest_keys = st.sampled_from(["manifest_version", "project", "patterns", "mixer_snapshots", "sampler_assets"])


@given(st.binary(max_size=200) | st.dictionaries(manifest_keys, json_values).map(lambda d: json.dumps(d).encode()))
def test_the_lenient_reader_never_raises_and_names_what_it_left_out(raw: bytes) -> None:
    view = read_manifest_lenient(raw, "w/project_manifest.json")
    assert all(problem.startswith(("w/project_manifest.json", "no ")) for problem in view.problems)
    if not view.readable:
        assert view.shown() == {} and view.problem()
    for section in ("patterns", "mixer_snapshots", "sampler_assets"):
        assert all(isinstance(item, dict) for item in view.shown().get(section, []))


@given(manifests())
def test_a_valid_manifest_reads_leniently_as_it_parses_strictly(data: dict[str, Any]) -> None:
    raw = json.dumps(data).encode()
    view = read_manifest_lenient(raw)
    strict = parse_manifest(raw)
    assert view.problems == () and view.shown() == data
    assert [(f.label, f.path, f.sha256, f.role) for f in view.listed] == strict.listed_files()
    assert view.sampler_asset_names() == [a.asset_name for a in strict.sampler_assets]


def test_the_lenient_reader_keeps_the_readable_rest_of_a_damaged_manifest() -> None:
    sha = "0" * 64
    raw = json.dumps(
        {
            "manifest_version": "2.0.0",
            "project": "oops",
            "patterns": [{"pattern_id": "a", "path": "p/a.json", "sha256": sha}, 7, {"pattern_id": "b"}],
            "sampler_assets": {"not": "a list"},
        }
    ).encode()
    view = read_manifest_lenient(raw, "m.json")
    assert [f.ident for f in view.listed] == ["a"] and view.entries("patterns")[1] == {"pattern_id": "b"}
    assert "project" not in view.shown() and view.shown()["sampler_assets"] == []
    assert view.problems == (
        "m.json: manifest_version: version 2.0.0 is not supported (this casstore reads 1.x)",
        "m.json: project: not an object, left out",
        "m.json: patterns[1]: not an object, left out",
        "m.json: patterns[2]: no pattern_id, path and sha256 to follow",
        "m.json: sampler_assets: not a list, left out",
    )
    assert view.problem() == view.problems[0] + " (and 4 more problems)"
    repeated = read_manifest_lenient(b'{"manifest_version": "1.0.0", "project": {"bpm": 1, "bpm": 2}}', "m.json")
    assert repeated.project == {"bpm": 2}
    assert repeated.problems == ("m.json: project: duplicate key 'bpm' (the last value is shown)",)


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)
asset = st.dictionaries(st.sampled_from(["asset_name", "relative_path", "sha256", "extra"]), json_value, max_size=4)
top = st.fixed_dictionaries(
    {},
    optional={
        "manifest_version": st.just("1.0.0"),
        "patterns": st.lists(
            st.dictionaries(st.sampled_from(["pattern_id", "path", "asset_name"]), json_value), max_size=3
        ),
        "sampler_assets": st.lists(asset | json_value, max_size=4) | json_value,
    },
)


@given(top | json_value)
def test_sampler_asset_names_read_alone_are_the_lenient_readers(document: Any) -> None:
    """The viewer's last-import panel reads only the asset names; they are the lenient view's exactly."""
    raw = json.dumps(document).encode()
    assert read_sampler_asset_names(raw) == read_manifest_lenient(raw).sampler_asset_names()


@pytest.mark.parametrize("raw", [None, b"", b"\xff", b"[1, 2]", b'{"sampler_assets": NaN}', b'{"sampler_assets": 5}'])
def test_sampler_asset_names_of_a_damaged_manifest_are_none(raw: bytes | None) -> None:
    assert read_sampler_asset_names(raw) == read_manifest_lenient(raw).sampler_asset_names() == []
