"""diff's manifest reading: the lenient reader's document, sharing equal entries with another version."""

from __future__ import annotations

import json

import pytest

from casstore.diff.inputs import manifest_document
from casstore.model.manifest_view import read_manifest_lenient

BASE = {
    "manifest_version": "1.0.0",
    "project": {"id": "p", "name": "verse"},
    "patterns": [
        {"pattern_id": "verse", "path": "patterns/verse.json", "sha256": "a" * 64, "length_steps": 16},
        {"pattern_id": "chorus", "path": "patterns/chorus.json", "sha256": "b" * 64, "length_steps": 16},
    ],
    "mixer_snapshots": [{"name": "verse", "path": "mixer/verse.json", "sha256": "c" * 64}],
    "sampler_assets": [{"asset_name": "kick.wav", "relative_path": "assets/kick.wav", "sha256": "d" * 64}],
}


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(BASE).encode(),
        b'{"patterns": [], "patterns": [{"pattern_id": "x"}], "project": {"id": 1, "id": 2}}',
        b"[1, 2]",
        b'{"bpm": NaN}',
        b'{"bpm": 1e999}',
        b"\xff\xfe not utf-8",
        b"{" * 100_000,
        b"",
    ],
)
def test_the_document_is_the_lenient_readers(raw: bytes) -> None:
    assert manifest_document(raw) == read_manifest_lenient(raw).document
    assert manifest_document(raw, BASE) == read_manifest_lenient(raw).document


def test_equal_entries_are_the_other_versions_objects_and_changed_ones_are_not() -> None:
    like = json.loads(json.dumps(BASE))
    edited = json.loads(json.dumps(BASE))
    edited["patterns"][1]["sha256"] = "e" * 64
    edited["mixer_snapshots"][0]["name"] = "chorus"
    document = manifest_document(json.dumps(edited).encode(), like)
    assert document == edited
    assert document is not None
    assert document["patterns"][0] is like["patterns"][0]
    assert document["sampler_assets"][0] is like["sampler_assets"][0]
    assert document["patterns"][1] is not like["patterns"][1]
    assert document["mixer_snapshots"][0] is not like["mixer_snapshots"][0]
    assert document["project"] is not like["project"]  # "name" is no entry identity there
