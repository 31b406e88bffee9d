"""The import's manifest parse (entries made records as they are parsed) reads what the usual parse reads.

And it holds little per entry (issue 17): the dict of every entry, alive until the last was
checked, was ~50 MiB of an import of 100,000 files. Traced memory, never wall time.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from typing import Any

import pytest

from casstore.errors import ManifestError
from casstore.model.manifest import parse_manifest, parse_manifest_text
from casstore.model.manifest_chunks import parse_manifest_chunks

SHA = "a" * 64


def _manifest(patterns: int = 2, **extra: Any) -> dict[str, Any]:
    project = {"id": "p", "name": "P", "bpm": 120, "swing": 0.0, "created_at": "t", "updated_at": "t"}
    return {
        "manifest_version": "1.0.0",
        "project": project,
        "patterns": [
            {
                "pattern_id": f"p{i:05d}",
                "path": f"patterns/p{i:05d}.json",
                "sha256": f"{i:064x}",
                "length_steps": 64,
                "step_count": 8.0,
            }
            for i in range(patterns)
        ],
        "mixer_snapshots": [{"name": "m", "path": "mixer/m.json", "sha256": SHA, "snapshot_type": "full"}],
        "sampler_assets": [{"asset_name": "s", "relative_path": "assets/s.wav", "sha256": SHA, "lufs_lu": None}],
        **extra,
    }


def _outcome(parse: Any, text: str) -> Any:
    try:
        return parse(text)
    except ManifestError as exc:
        return str(exc)


MIXER = {"name": "m2", "path": "mixer/m2.json", "sha256": SHA, "snapshot_type": "full"}
CASES = [
    _manifest(),
    _manifest(extra_top={"nested": dict(MIXER)}),  # a record-shaped object that must stay a dict
    _manifest(patterns=0) | {"patterns": [dict(MIXER)]},  # a record in another section's list
    _manifest() | {"mixer_snapshots": [MIXER | {"sha256": "nothex"}]},
    _manifest() | {"mixer_snapshots": [MIXER | {"colour": "red"}]},  # an unknown field, kept
    _manifest() | {"project": dict(MIXER)},
    _manifest(patterns=3) | {"mixer_snapshots": [MIXER, MIXER]},  # duplicate names
]


@pytest.mark.parametrize("data", CASES)
def test_records_made_while_parsing_are_the_usual_parse(data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2)
    assert _outcome(parse_manifest_text, text) == _outcome(parse_manifest, text.encode())


def test_a_repeated_key_is_refused_as_usual() -> None:
    text = json.dumps(_manifest(), indent=2).replace('"snapshot_type": "full"', '"snapshot_type": "a", "name": "x"')
    assert _outcome(parse_manifest_text, text) == _outcome(parse_manifest, text.encode())
    assert "duplicate key 'name'" in _outcome(parse_manifest_text, text)


def _peak(text: str) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        parse_manifest_text(text)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_parsing_holds_no_dict_per_entry() -> None:
    # Measured: ~485 bytes an entry (its record, its strs); ~870 when every entry was a dict first.
    small, large = (json.dumps(_manifest(n), indent=2) for n in (2_000, 8_000))
    # Paths are interned. Held interned throughout (as an import's listing holds them), so the
    # interpreter's one table of interned strs neither grows nor is cleaned up inside a
    # measurement: either was counted as the parse's, at a point set by whatever ran before
    # (736 bytes an entry instead of ~485, even run alone).
    held = parse_manifest_text(large)
    _peak(small)
    per_entry = (_peak(large) - _peak(small)) / 6_000
    assert 200 < per_entry < 650, per_entry
    assert held.patterns


def _chunks(text: str, size: int) -> list[bytes]:
    raw = text.encode()
    return [raw[at : at + size] for at in range(0, len(raw), size)]


@pytest.mark.parametrize("data", CASES)
@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_a_manifest_parsed_from_pieces_is_the_usual_parse(data: dict[str, Any], size: int) -> None:
    """The streamed parse makes what the usual one makes, or leaves the manifest to it (None), never another."""
    text = json.dumps(data, indent=2)
    streamed = parse_manifest_chunks(_chunks(text, size), "m.json")
    usual = _outcome(lambda raw: parse_manifest(raw, "m.json"), text.encode())
    if streamed is not None:
        assert streamed == usual
    if data is CASES[0] or data is CASES[1] or data is CASES[4]:
        assert streamed is not None  # a clean manifest, one with an object shaped like a record, an unknown field


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(_manifest(), indent=2) + " x",  # something after the document
        json.dumps(_manifest(), indent=2).replace('"swing": 0.0', '"swing": NaN'),
        json.dumps(_manifest(), indent=2).replace('"snapshot_type": "full"', '"snapshot_type": "a", "name": "x"'),
        "\ufeff" + json.dumps(_manifest()),
        json.dumps(_manifest() | {"manifest_version": "2.0.0"}),
    ],
)
def test_what_the_usual_parse_refuses_is_left_to_it(text: str) -> None:
    assert isinstance(_outcome(parse_manifest, text.encode()), str)
    assert parse_manifest_chunks(_chunks(text, 5)) is None


def _streamed_peak(text: str) -> int:
    gc.collect()
    pieces = _chunks(text, 1 << 16)
    tracemalloc.start()
    try:
        parse_manifest_chunks(iter(pieces))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_manifest_parsed_from_pieces_holds_no_text() -> None:
    # The whole text (~200 bytes an entry here) is not held beside the records being made.
    small, large = (json.dumps(_manifest(n), indent=2) for n in (2_000, 8_000))
    held = parse_manifest_text(large)  # its paths stay interned: see test_parsing_holds_no_dict_per_entry
    _streamed_peak(small)

    def whole_peak(text: str) -> int:  # as an import read it: the text decoded from the file's bytes
        raw = text.encode()
        gc.collect()
        tracemalloc.start()
        try:
            parse_manifest_text(raw.decode())
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole = (whole_peak(large) - whole_peak(small)) / 6_000
    streamed = (_streamed_peak(large) - _streamed_peak(small)) / 6_000
    print(f"bytes an entry: whole text {whole:.0f}, streamed {streamed:.0f}")
    assert streamed < whole - 150, (streamed, whole)
    assert held.patterns
