"""Narrowed diffs (issue 17): the head held as a digest per manifest entry diffs as the whole manifests do.

``recover`` and the viewer's recovery offer diff each recovery point against the head. They
now hold the head's manifest as one digest per entry and parse only the entries that may
differ (``casstore.diff.narrow``). These compare that with the whole diff they replaced (the
head and the point read whole, the point sharing the head's equal entries) on generated
manifests: edits, reorders, repeated and non-text ids, nested look-alikes, lists that are
no lists, entries moved between lists, paths listed twice or missing, equal values written
otherwise (1, 1.0, true), and manifests that do not parse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casstore.diff import narrow
from casstore.diff.inputs import side_from_table
from casstore.diff.semantic import DiffRecord, diff_sides
from casstore.model.manifest_view import asset_names
from casstore.model.objects import Tree, TreeEntry
from casstore.model.paths import MANIFEST_NAME
from casstore.model.tree_table import read_tree_table
from casstore.storage.backend_memory import MemoryBackend
from casstore.storage.store import Store

SECTIONS = {
    "patterns": ("pattern_id", "path"),
    "mixer_snapshots": ("name", "path"),
    "sampler_assets": ("asset_name", "relative_path"),
}
PATHS = ["patterns/a.json", "patterns/b.json", "patterns/c.json", "mixer/a.json", "assets/a.wav", "notes.txt"]
CONTENTS = [b'{"steps": [1]}\n', b'{"steps": [2]}\n', b'{"steps": [1], "swing": 0.5}\n', b"not json\n"]
IDS = st.sampled_from(["a", "b", "c", "d", "e"])


def _entry(section: str) -> st.SearchStrategy[Any]:
    ident, path_key = SECTIONS[section]
    entry = st.fixed_dictionaries(
        {
            ident: IDS,
            path_key: st.sampled_from([*PATHS, "patterns/missing.json"]),
            "sha256": st.sampled_from(["0" * 64, "1" * 64]),
        },
        optional={
            # Another list's identity: an entry moved between lists may read cleanly there.
            **{key: IDS for key in ("pattern_id", "name", "asset_name") if key != ident},
            **{key: st.sampled_from(PATHS) for key in ("path", "relative_path") if key != path_key},
            "length_steps": st.sampled_from([16, 16.0, True, 1, 1.0, -0.0, 0.0]),
            "lufs_lu": st.sampled_from([-14.0, None, "loud"]),
            "nested": st.sampled_from([{"pattern_id": "a", "path": "patterns/a.json"}, {"name": "b"}, [1, {"x": 2}]]),
        },
    )
    odd = st.sampled_from(
        [1, "entry", None, {ident: 7, path_key: "patterns/a.json", "sha256": "0" * 64}, {path_key: "patterns/b.json"}]
    )
    return _mostly(entry, odd, 24)


def _mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int) -> st.SearchStrategy[Any]:
    """``usual`` ``odds`` times in ``odds + 1`` (``st.one_of`` would draw each branch as often)."""
    return st.sampled_from([True] * odds + [False]).flatmap(lambda common: usual if common else rare)


def _key(section: str) -> Any:
    ident = SECTIONS[section][0]
    return lambda item: json.dumps(item.get(ident)) if isinstance(item, dict) else repr(item)


def _manifests() -> st.SearchStrategy[dict[str, Any]]:
    lists = {
        section: _mostly(
            st.lists(_entry(section), max_size=6, unique_by=_key(section)),
            st.one_of(st.lists(_entry(section), max_size=6), st.just({"not": "a list"})),
            4,
        )
        for section in SECTIONS
    }
    return st.fixed_dictionaries(
        {
            "manifest_version": st.sampled_from(["1.0.0"] * 12 + ["2.0.0"]),
            "project": st.fixed_dictionaries({"id": st.just("p"), "bpm": st.sampled_from([120, 120.0, 96])}),
        },
        optional=lists,
    )


@st.composite
def _edited(draw: st.DrawFn, manifest: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``manifest`` with a few edits of the kinds a tracker (or damage) makes."""
    edited = json.loads(json.dumps(manifest))
    lists = [key for key in SECTIONS if isinstance(edited.get(key), list)]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["field", "add", "remove", "swap", "repeat", "move", "id", "top", "unlist"]))
        if kind == "top":
            edited["project"]["bpm"] = draw(st.sampled_from([120, 121, True]))
            continue
        if not lists:
            continue
        key = draw(st.sampled_from(lists))
        items = edited[key]
        if kind == "add" or not items:
            items.insert(draw(st.integers(0, len(items))), draw(_entry(key)))
            continue
        at = draw(st.integers(0, len(items) - 1))
        if kind == "field" and isinstance(items[at], dict):
            items[at][draw(st.sampled_from(["sha256", "length_steps", SECTIONS[key][1]]))] = draw(
                st.sampled_from(["1" * 64, 15, 16.0, "patterns/c.json"])
            )
        elif kind == "remove":
            del items[at]
        elif kind == "swap":
            other = draw(st.integers(0, len(items) - 1))
            items[at], items[other] = items[other], items[at]
        elif kind == "repeat":
            items.insert(draw(st.integers(0, len(items))), json.loads(json.dumps(items[at])))
        elif kind == "move":
            target = draw(st.sampled_from(list(SECTIONS)))
            if isinstance(edited.get(target), list):
                edited[target].append(items.pop(at))
        elif kind == "id" and isinstance(items[at], dict):
            items[at][SECTIONS[key][0]] = draw(st.sampled_from([1, "a", "z", None]))
        elif kind == "unlist":
            edited[key] = {"entries": items}
            lists.remove(key)
    return edited


def _encode(manifest: dict[str, Any], style: str) -> bytes:
    if style == "unparseable":
        return b'{"manifest_version": "1.0.0", "patterns": ['
    if style == "repeated key":
        return (
            json.dumps(manifest, indent=2)
            .replace('{\n  "manifest_version"', '{"project": 1,\n  "manifest_version"', 1)
            .encode()
        )
    if style == "compact":
        return json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
    return (json.dumps(manifest, indent=2) + "\n").encode()


STYLES = st.sampled_from(["indented"] * 12 + ["compact", "compact", "unparseable", "repeated key"])
FILES = st.dictionaries(st.sampled_from(PATHS), st.sampled_from(CONTENTS), max_size=len(PATHS))


def _store_tree(store: Store, manifest: bytes | None, files: dict[str, bytes]) -> str:
    entries = []
    for path, content in sorted(files.items()):
        entries.append(TreeEntry(path, store.objects.put_bytes(content).oid, len(content), "file"))
    manifest_id = None
    if manifest is not None:
        manifest_id = store.objects.put_bytes(manifest).oid
        entries.append(TreeEntry(MANIFEST_NAME, manifest_id, len(manifest), "manifest"))
    tree = Tree("p", manifest_id, tuple(sorted(entries, key=lambda e: e.path)))
    return store.objects.put_bytes(tree.encode()).oid


def _whole_diff(store: Store, head: str, other: str) -> tuple[list[DiffRecord], tuple[str, ...]]:
    """What recover did before: the head read whole, the point read whole sharing its equal entries."""
    old = side_from_table(store, read_tree_table(store, head), "head", head)
    new = side_from_table(store, read_tree_table(store, other), "point", other, like=old)
    return diff_sides(old, new), tuple(asset_names((new.manifest or {}).get("sampler_assets", [])))


def _narrow_diff(store: Store, head: str, other: str) -> tuple[list[DiffRecord], tuple[str, ...], bool]:
    base = narrow.mark_side(store, read_tree_table(store, head), "head", head)
    pair = narrow.narrow_sides(base, read_tree_table(store, other), "point", other)
    return diff_sides(pair.old, pair.new), pair.sampler_asset_names, base._whole is None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), _manifests(), STYLES, STYLES, FILES)
def test_a_narrowed_diff_is_the_whole_diff(
    data: st.DataObject, manifest: dict[str, Any], head_style: str, other_style: str, files: dict[str, bytes]
) -> None:
    store = Store(Path("/memory"), MemoryBackend())
    edited = data.draw(_edited(manifest))
    other_files = dict(files)
    for path in data.draw(st.lists(st.sampled_from(PATHS), max_size=3)):
        content = data.draw(st.sampled_from([None, *CONTENTS]))
        if content is None:
            other_files.pop(path, None)
        else:
            other_files[path] = content
    head_bytes = None if data.draw(st.integers(0, 20)) == 0 else _encode(manifest, head_style)
    other_bytes = None if data.draw(st.integers(0, 20)) == 0 else _encode(edited, other_style)
    head = _store_tree(store, head_bytes, files)
    other = _store_tree(store, other_bytes, other_files)
    records, assets = _whole_diff(store, head, other)
    narrowed, narrowed_assets, _sure = _narrow_diff(store, head, other)
    assert narrowed == records
    assert narrowed_assets == assets


def _pattern(ident: str, sha: str = "0" * 64, steps: int = 16) -> dict[str, Any]:
    return {"pattern_id": ident, "path": f"patterns/{ident}.json", "sha256": sha, "length_steps": steps}


def _bundle(patterns: list[dict[str, Any]], mixer: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "manifest_version": "1.0.0",
        "project": {"id": "p"},
        "patterns": patterns,
        "mixer_snapshots": mixer or [],
        "sampler_assets": [{"asset_name": "kick.wav", "relative_path": "assets/kick.wav", "sha256": "2" * 64}],
    }


def test_an_edit_is_narrowed_and_the_fallbacks_read_whole() -> None:
    store = Store(Path("/memory"), MemoryBackend())
    ids = [f"p{n}" for n in range(12)]  # not sorted as text: the shortcut needs no order of its own
    files = {f"patterns/{i}.json": CONTENTS[0] for i in ids}
    both = {**_pattern("p11"), "name": "p11"}  # reads as a pattern and as a mixer snapshot
    head = _store_tree(store, _encode(_bundle([*[_pattern(i) for i in ids[:-1]], both]), "indented"), files)

    def point(
        patterns: list[dict[str, Any]],
        changed: dict[str, bytes] | None = None,
        mixer: list[dict[str, Any]] | None = None,
    ) -> tuple[bool, list[DiffRecord]]:
        other = _store_tree(store, _encode(_bundle(patterns, mixer), "indented"), {**files, **(changed or {})})
        records, assets = _whole_diff(store, head, other)
        narrowed, narrowed_assets, sure = _narrow_diff(store, head, other)
        assert (narrowed, narrowed_assets) == (records, assets) and assets == ("kick.wav",)
        return sure, records

    same = [*[_pattern(i) for i in ids[:-1]], both]
    assert point(same) == (True, [])
    edited = [{**entry, "length_steps": 32} if entry["pattern_id"] == "p3" else entry for entry in same]
    sure, records = point(edited, {"patterns/p3.json": CONTENTS[1]})
    assert sure and [(r.subject, r.change) for r in records] == [("p3", "modified")]
    assert point([*same, _pattern("p99")])[0]  # an entry added
    assert point(same[1:])[0]  # an entry removed
    assert point(same, {"patterns/p5.json": CONTENTS[2]})[0]  # a file changed, not its entry
    sure, records = point(same[:-1], mixer=[both])  # the same entry, now in another list
    assert sure and {(r.section, r.change) for r in records} == {("pattern", "removed"), ("mixer", "added")}
    # Each of these the shortcut cannot be sure of: the sides are read whole.
    reordered = [same[1], same[0], *same[2:]]
    repeated = [*same, _pattern("p4")]
    not_text = [*same, {**_pattern("p4"), "pattern_id": 4}]
    for patterns in (reordered, repeated, not_text):
        sure, records = point(patterns)
        assert not sure and records
