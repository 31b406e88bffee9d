"""Properties: random edits to layouts of several shapes are each reported, and nothing else."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from casstore.diff.text import change_text
from casstore.model.jsondiff import FieldChange, json_changes, natural_key

NOTES = ["C-4", "D-4", "E-4", "F#4", "G-4", "A-4"]
FX = ["arp", "slide", "retrig", "none"]


def _reported(changes: list[FieldChange]) -> set[tuple[Any, ...]]:
    return {(c.kind, c.segments, c.attribute, repr(c.old), repr(c.new)) for c in changes}


# --- dense step arrays: no identity, aligned by content ---------------------------------------


@st.composite
def dense_edits(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[tuple[Any, ...]]]:
    """Unique items; edits on even old positions only, so each edit has an untouched neighbour."""
    size = draw(st.integers(3, 12))
    old = [
        {"note": f"N{i}", "velocity": draw(st.integers(0, 127)), "fx": draw(st.sampled_from(FX))} for i in range(size)
    ]
    new: list[dict[str, Any]] = []
    expected: set[tuple[Any, ...]] = set()
    for i, item in enumerate(old):
        action = "keep" if i % 2 else draw(st.sampled_from(["keep", "modify", "delete", "insert"]))
        if action == "insert":
            # nothing in common with any old item: it cannot pass for a modified one
            fresh = {"note": f"X{i}", "velocity": 200 + i, "fx": "fresh"}
            expected.add(("added", (("step", len(new)),), None, "None", repr(fresh)))
            new.append(fresh)
        if action == "delete":
            expected.add(("removed", (("step", i),), None, repr(item), "None"))
            continue
        if action == "modify":
            key = draw(st.sampled_from(["velocity", "fx"]))
            value = draw(st.integers(0, 127) if key == "velocity" else st.sampled_from(FX))
            if value != item[key]:
                expected.add(("modified", (("step", len(new)),), key, repr(item[key]), repr(value)))
                item = {**item, key: value}
        new.append(item)
    return old, new, expected


@settings(max_examples=150)
@given(case=dense_edits())
def test_dense_step_arrays_report_each_insert_delete_and_change(case: Any) -> None:
    old, new, expected = case
    changes = json_changes({"steps": old}, {"steps": new})
    assert _reported(changes) == expected
    assert all(key is None for c in changes for key in c.keys)  # matched by position, shown as "step #n"


# --- sparse steps keyed by `step` --------------------------------------------------------------


@st.composite
def sparse_steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    numbers = draw(st.lists(st.integers(0, 63), min_size=2, max_size=16, unique=True))
    return [
        {"step": n, "note": draw(st.sampled_from(NOTES)), "velocity": draw(st.integers(0, 127))}
        for n in sorted(numbers)
    ]


def _edit_steps(
    draw: st.DrawFn, steps: list[dict[str, Any]], where: tuple[tuple[str, Any], ...]
) -> tuple[list[dict[str, Any]], set[tuple[Any, ...]]]:
    """Edit every step but the first (kept so the identities overlap): modify, remove, or add."""
    new = [steps[0]]
    expected: set[tuple[Any, ...]] = set()
    for step in steps[1:]:
        action = draw(st.sampled_from(["keep", "modify", "remove"]))
        here = (*where, ("step", step["step"]))
        if action == "remove":
            expected.add(("removed", here, None, repr(step), "None"))
            continue
        if action == "modify":
            velocity = draw(st.integers(0, 127))
            if velocity != step["velocity"]:
                expected.add(("modified", here, "velocity", repr(step["velocity"]), repr(velocity)))
                step = {**step, "velocity": velocity}
        new.append(step)
    used = {s["step"] for s in steps}
    for number in draw(st.lists(st.integers(64, 127) | st.integers(0, 63), max_size=4, unique=True)):
        if number not in used:
            added = {"step": number, "note": draw(st.sampled_from(NOTES)), "velocity": draw(st.integers(0, 127))}
            expected.add(("added", (*where, ("step", number)), None, "None", repr(added)))
            new.append(added)
    if draw(st.booleans()):
        new.sort(key=lambda s: s["step"])  # as an app writes them; unsorted lists must work as well
    return new, expected


@settings(max_examples=150)
@given(steps=sparse_steps(), data=st.data())
def test_sparse_steps_keyed_by_step_report_each_edit(steps: list[dict[str, Any]], data: st.DataObject) -> None:
    new, expected = _edit_steps(data.draw, steps, ())
    changes = [c for c in json_changes({"steps": steps}, {"steps": new}) if c.kind != "reordered"]
    assert _reported(changes) == expected
    numbers = [c.segments[0][1] for c in changes]
    assert numbers == sorted(numbers, key=natural_key)  # numerically: 2 before 10
    for change in changes:
        assert change_text(change).startswith(f"step {change.segments[0][1]}: ")


# --- tracks keyed by instrument, each with sparse steps -----------------------------------------


@settings(max_examples=100)
@given(data=st.data())
def test_tracks_keyed_by_instrument_report_each_edit(data: st.DataObject) -> None:
    names = data.draw(
        st.lists(st.sampled_from(["kick", "snare", "hat", "clap", "tom", "ride"]), min_size=2, unique=True)
    )
    tracks = [{"instrument": name, "mute": False, "steps": data.draw(sparse_steps())} for name in names]
    new_tracks = [copy.deepcopy(tracks[0])]  # the first track stays as it was: some identity overlaps
    expected: set[tuple[Any, ...]] = set()
    for track in tracks[1:]:
        action = data.draw(st.sampled_from(["keep", "edit steps", "mute", "remove"]))
        here = (("track", track["instrument"]),)
        if action == "remove":
            expected.add(("removed", here, None, repr(track), "None"))
            continue
        if action == "mute":
            expected.add(("modified", here, "mute", "False", "True"))
            track = {**track, "mute": True}
        if action == "edit steps":
            steps, found = _edit_steps(data.draw, track["steps"], here)
            expected |= found
            track = {**track, "steps": steps}
        new_tracks.append(track)
    if "ride" not in names and data.draw(st.booleans()):
        ride = {"instrument": "ride", "mute": False, "steps": [{"step": 0, "note": "C-4", "velocity": 90}]}
        expected.add(("added", (("track", "ride"),), None, "None", repr(ride)))
        new_tracks.append(ride)
    changes = [c for c in json_changes({"tracks": tracks}, {"tracks": new_tracks}) if c.kind != "reordered"]
    assert _reported(changes) == expected
    assert all(c.keys[0] == "instrument" for c in changes)


# --- unkeyed mixer channels (no identity at all) and a reorder of keyed ones ----------------------


@settings(max_examples=100)
@given(gains=st.lists(st.floats(-60, 6).map(lambda v: round(v, 1)), min_size=2, max_size=8), data=st.data())
def test_reordering_a_keyed_list_is_one_reorder_and_nothing_else(gains: list[float], data: st.DataObject) -> None:
    channels = [{"instrument": f"ch{i}.wav", "gain_db": gain} for i, gain in enumerate(gains)]
    shuffled = data.draw(st.permutations(channels))
    changes = json_changes({"channels": channels}, {"channels": shuffled})
    before, after = [c["instrument"] for c in channels], [c["instrument"] for c in shuffled]
    if before == after:
        assert changes == []
    else:
        assert [(c.kind, c.old, c.new) for c in changes] == [("reordered", before, after)]
        assert change_text(changes[0]).startswith("channel order ")


def test_a_long_list_rewritten_whole_is_paired_item_by_item() -> None:
    # 1000 x 1000 candidate pairs pass the pairing cap: items pair by position, still exactly
    old = [{"note": f"N{i}", "velocity": i % 128, "fx": "arp"} for i in range(1000)]
    new = [{**item, "fx": "slide"} for item in old]
    changes = json_changes({"steps": old}, {"steps": new})
    assert len(changes) == 1000 and all(c.attribute == "fx" for c in changes)
