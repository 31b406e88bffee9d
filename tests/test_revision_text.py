"""A revision's lines read compactly (streamed manifest, tree table) are revision_lines' lines, damage and all."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import casstore
from casstore.api import revision_lines, revision_text
from casstore.model import manifest_stream
from casstore.model.line_table import LineTable
from casstore.model.manifest_stream import stream_manifest
from casstore.model.manifest_view import SECTIONS, read_manifest_lenient
from casstore.storage.store import Store
from casstore.workdir import revision_text as module
from casstore.workdir.autosave import autosave

Edit = Callable[[dict[str, Any]], Any]


def _set(path: tuple[Any, ...], value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> dict[str, Any]:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return doc

    return edit


def _text(text: str) -> Edit:
    return lambda _doc: text


# Each turns the demo manifest (a dict) into another one: a dict is written as JSON, a str as it is.
EDITS: dict[str, Edit] = {
    "clean": lambda doc: doc,
    "sections reversed": lambda doc: dict(reversed(list(doc.items()))),
    "odd values": _set(("patterns", 0, "pattern_id"), {"nested": [1.5, None, True, "é\n"]}),
    "lone surrogate": _set(("patterns", 0, "pattern_id"), "\ud800 x"),
    # Entries are decoded a window at a time up to the last "}" before a "]": these put both
    # inside strings and nested values, where the window's entries must be read one by one.
    "brackets in strings": _set(("patterns", 0, "pattern_id"), '}, {"x": 1}] ,"y": [}'),
    "nested in an entry": _set(("patterns", 0, "grid"), {"rows": [{"a": [1, {"b": "]"}]}, {}]}),
    "astral": _set(("mixer_snapshots", 0, "name"), "🎹" * 30),
    "big numbers": _set(("project", "bpm"), 1.2345678901234567e300),
    "no project": lambda doc: {k: v for k, v in doc.items() if k != "project"},
    "no patterns": lambda doc: {k: v for k, v in doc.items() if k != "patterns"},
    "empty lists": lambda doc: {**doc, "patterns": [], "mixer_snapshots": [], "sampler_assets": []},
    "extra top key": lambda doc: {**doc, "notes": {"a": [1, 2, {"b": None}]}},
    "asset level": _set(("sampler_assets", 0, "lufs_lu"), -14),
    "asset level text": _set(("sampler_assets", 0, "lufs_lu"), "loud"),
    "asset unknown path": _set(("sampler_assets", 0, "relative_path"), "assets/nowhere.wav"),
    "pattern no path": lambda doc: _set(("patterns", 0), {"pattern_id": "x", "sha256": "0" * 64})(doc),
    "pattern not an object": lambda doc: {**doc, "patterns": [*doc["patterns"], "not an entry"]},
    "patterns not a list": _set(("patterns",), {"a": 1}),
    "project not an object": _set(("project",), [1]),
    "bad version": _set(("manifest_version",), "2.0.0"),
    "no version": lambda doc: {k: v for k, v in doc.items() if k != "manifest_version"},
    "empty object": lambda _doc: {},
    "a list": lambda _doc: [1, 2],
    "repeated top key": lambda doc: json.dumps(doc)[:-1] + ', "patterns": []}',
    "repeated entry key": lambda doc: json.dumps(doc).replace('"pattern_id": ', '"path": "x", "pattern_id": ', 1),
    "trailing data": lambda doc: json.dumps(doc) + " {}",
    "trailing comma": lambda doc: json.dumps(doc).replace("}]", "},]", 1),
    "nan": lambda doc: json.dumps(doc).replace('"bpm": 120.0', '"bpm": NaN', 1),
    "cut short": lambda doc: json.dumps(doc)[:-40],
    "not json": _text("not json at all"),
    "empty": _text(""),
}


def _raw(demo: dict[str, Any], name: str) -> bytes:
    made = EDITS[name](json.loads(json.dumps(demo)))
    text = made if isinstance(made, str) else json.dumps(made, indent=2, ensure_ascii=name != "astral")
    return text.encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def demo_manifest(demo_data: Path) -> dict[str, Any]:
    return dict(json.loads((demo_data / "demo_bundle" / "project_manifest.json").read_text()))


@pytest.mark.parametrize("name", sorted(EDITS))
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_the_stream_takes_exactly_the_manifests_the_lenient_reader_reads_cleanly(
    demo_manifest: dict[str, Any], name: str, chunk: int
) -> None:
    raw = _raw(demo_manifest, name)
    seen: dict[str, list[dict[str, Any]]] = {section: [] for section, *_ in SECTIONS}
    top = stream_manifest((raw[i : i + chunk] for i in range(0, len(raw), chunk)), lambda s, e: seen[s].append(e))
    view = read_manifest_lenient(raw)
    assert (top is None) == bool(view.problems), view.problems
    if top is not None:
        assert view.document is not None
        others = {k: v for k, v in view.document.items() if k not in seen}
        assert others == {k: v for k, v in top.items() if k not in seen}
        assert seen == {section: view.entries(section) for section in seen}


def _write(tmp: Path, demo_data: Path, raw: bytes | None, empty_pattern: bool = False) -> Path:
    work = tmp / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(demo_data / "demo_bundle", work)
    (work / "notes.txt").write_text("an other file\n")
    if empty_pattern:
        (work / "patterns" / "verse.json").write_bytes(b"")
    if raw is None:
        (work / "project_manifest.json").unlink()
    else:
        (work / "project_manifest.json").write_bytes(raw)
    return work


@pytest.mark.parametrize("name", sorted(EDITS))
def test_revision_text_is_revision_lines(
    tmp_path: Path, demo_data: Path, demo_manifest: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.init(tmp_path / "store")
    monkeypatch.setattr(manifest_stream, "_CHUNK", 5)  # entries and numbers cut at every place
    raw = _raw(demo_manifest, name)
    work = _write(tmp_path, demo_data, raw, empty_pattern=name == "clean")
    commit = autosave(store, work, "demo-project", "m1").commit
    # A clean manifest is streamed; any problem sends it the lenient reader's way.
    assert (module.table_lines(store, commit) is None) == bool(read_manifest_lenient(raw).problems)
    lines = revision_text(store, commit)
    assert lines == revision_lines(store, commit)
    assert list(lines) == revision_lines(store, commit)


def test_a_revision_without_a_manifest_and_a_damaged_one(tmp_path: Path, demo_data: Path) -> None:
    store = Store.init(tmp_path / "store")
    commit = autosave(store, _write(tmp_path, demo_data, None), "sketch", "m1").commit
    assert module.table_lines(store, commit) is not None  # read from the table, not the Tree
    assert revision_text(store, commit) == revision_lines(store, commit)
    bare = casstore.show_revision(store, commit).tree
    clean = autosave(store, _write(tmp_path, demo_data, (demo_data / "demo_bundle/project_manifest.json").read_bytes()))
    tree = casstore.show_revision(store, clean.commit).tree
    assert bare.manifest is None and tree.manifest is not None
    damaged = store.objects.path_for(tree.manifest)
    damaged.chmod(0o644)
    damaged.write_bytes(damaged.read_bytes()[:-3] + b"xyz")
    with pytest.raises(casstore.CasstoreError) as old:
        revision_lines(store, clean.commit)
    with pytest.raises(casstore.CasstoreError) as new:
        revision_text(store, clean.commit)
    assert type(new.value) is type(old.value) and str(new.value) == str(old.value)


def test_a_line_table_is_a_sequence_of_lines() -> None:
    lines = [("Head", True), ("  é \ud800 🎹\nx", False), ("", False), ("Tail", True)]
    table = LineTable(lines)
    assert table == lines and list(table) == lines and len(table) == 4
    assert table[-1] == ("Tail", True) and table[1:3] == lines[1:3] and table.headings() == [0, 3]
    assert table != lines[:3] and table == LineTable(lines) and table != LineTable(lines[:3])
    with pytest.raises(IndexError):
        table[4]
    more = LineTable(lines[:1])
    more.extend_table(LineTable(lines[1:]))
    assert more == table


@pytest.mark.parametrize("name", sorted(EDITS))
def test_version_samples_read_the_same_streamed(
    tmp_path: Path, demo_data: Path, demo_manifest: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casstore.diff import compare

    store = Store.init(tmp_path / "store")
    monkeypatch.setattr(manifest_stream, "_CHUNK", 5)
    commit = autosave(store, _write(tmp_path, demo_data, _raw(demo_manifest, name)), "demo-project", "m1").commit
    streamed = casstore.version_samples(store, commit)
    monkeypatch.setattr(compare, "clean_sampler_assets", lambda _store, _oid: None)  # the whole-manifest way
    assert streamed == casstore.version_samples(store, commit)


def test_last_import_reads_the_same_streamed(tmp_path: Path, demo_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.init(tmp_path / "store")
    casstore.import_bundle(store, demo_data / "demo_bundle")
    streamed = casstore.last_import(store, "demo-project")
    assert streamed is not None and streamed.sampler_assets
    monkeypatch.setattr(manifest_stream, "clean_sampler_assets", lambda _store, _oid: None)
    assert casstore.last_import(store, "demo-project") == streamed


@pytest.mark.parametrize("name", sorted(EDITS))
def test_the_version_pane_reads_the_tree_once_and_shows_the_same(
    tmp_path: Path, demo_data: Path, demo_manifest: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casstore.model import tree_table

    store = Store.init(tmp_path / "store")
    commit = autosave(store, _write(tmp_path, demo_data, _raw(demo_manifest, name)), "demo-project", "m1").commit
    expected = (revision_text(store, commit), casstore.version_samples(store, commit))
    reads: list[str] = []
    real = tree_table.read_tree_table

    def counted(store_: Store, oid: str, **kwargs: Any) -> Any:
        reads.append(oid)
        return real(store_, oid, **kwargs)

    for module_name in ("casstore.model.tree_table", "casstore.workdir.revision_text", "casstore.diff.compare"):
        monkeypatch.setattr(f"{module_name}.read_tree_table", counted)
    assert casstore.version_details(store, commit) == expected and len(reads) == 1  # each alone reads it


def test_the_version_pane_of_a_damaged_version_fails_as_before(tmp_path: Path, demo_data: Path) -> None:
    store = Store.init(tmp_path / "store")
    clean = autosave(store, _write(tmp_path, demo_data, (demo_data / "demo_bundle/project_manifest.json").read_bytes()))
    tree = store.objects.path_for(casstore.show_revision(store, clean.commit).tree.id)
    tree.chmod(0o644)
    tree.write_bytes(b"rotten")
    with pytest.raises(casstore.CasstoreError) as old:
        revision_text(store, clean.commit)
    with pytest.raises(casstore.CasstoreError) as new:
        casstore.version_details(store, clean.commit)
    assert type(new.value) is type(old.value) and str(new.value) == str(old.value)
