"""Fuzzing every parser of outside bytes: only CasstoreError may escape, nothing hangs, memory stays bounded.

Targets: the manifest parser, the zip reader (listing and reading, and the real import into a
store, which a refusal leaves unchanged), the revision grammar, the tree and commit decoders,
the pack index loader, reads and fsck over a damaged pack or index, and crash-report import.
``CASSTORE_FUZZ_EXAMPLES=N`` runs N cases per target; ``make fuzz`` runs 1,250 per target
(docs/fuzzing.md).
"""

from __future__ import annotations

import io
import json
import resource
import shutil
import struct
import tempfile
import wave
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from fuzzing import COUNTS, OUTCOMES, fuzz_settings, json_mutated, mutated, outcome
from hypothesis import given
from hypothesis import strategies as st

from casstore.bundles.bundle_source import opened
from casstore.crashreport import import_crash_report, is_crash_report, write_crash_report
from casstore.errors import CasstoreError
from casstore.history.commits import read_commit
from casstore.history.fsck import fsck
from casstore.history.gc import gc
from casstore.history.revisions import resolve
from casstore.importer import import_bundle
from casstore.model.manifest import parse_manifest
from casstore.model.objects import Commit, Tree
from casstore.storage.backend_local import LocalBackend
from casstore.storage.packs import Pack, list_packs
from casstore.storage.store import Store
from casstore.workdir.autosave import autosave
from conftest import snapshot_tree

# Every crash point / fuzz case: the slow tier (make quick leaves it out; make test runs it).
pytestmark = pytest.mark.slow

PROJECT = "fuzz-project"


def _tiny_wav(path: Path) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(200)))


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_small_bundle(root: Path, demo: Path, edit: str = "") -> Path:
    """A small real bundle (one pattern, one mixer snapshot, one short WAV) cut from the demo."""
    root.mkdir(parents=True)
    for rel in ("patterns/intro.json", "mixer/verse_snapshot.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(demo / rel, root / rel)
    if edit:
        (root / "patterns/intro.json").write_text((demo / "patterns/intro.json").read_text() + edit)
    (root / "assets").mkdir()
    _tiny_wav(root / "assets/tick.wav")
    manifest = json.loads((demo / "project_manifest.json").read_text())
    manifest["project"]["id"] = PROJECT
    manifest["patterns"] = [
        dict(p, sha256=_sha(root / p["path"])) for p in manifest["patterns"] if "intro" in p["path"]
    ]
    manifest["mixer_snapshots"] = [m for m in manifest["mixer_snapshots"] if "verse" in m["path"]]
    asset = dict(manifest["sampler_assets"][0], asset_name="tick.wav", relative_path="assets/tick.wav")
    manifest["sampler_assets"] = [dict(asset, sha256=_sha(root / "assets/tick.wav"))]
    (root / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def zip_of(root: Path, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The bundle at ``root`` as zip bytes, files in sorted order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def header_offsets(data: bytes) -> list[int]:
    """Where the zip's local headers, central directory entries and end record start."""
    found = []
    for magic in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"):
        at = data.find(magic)
        while at >= 0:
            found.append(at)
            at = data.find(magic, at + 1)
    return sorted(found)


class World(dict):
    """The fuzz targets' shared seeds; a short repr keeps hypothesis's failure reports readable."""

    def __repr__(self) -> str:
        return f"World({', '.join(self)})"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> World:
    """A small store with history, its objects, a packed copy, a crash report and seed zips."""
    base = tmp_path_factory.mktemp("fuzz-world")
    demo = demo_data / "demo_bundle"
    one = make_small_bundle(base / "small", demo)
    two = make_small_bundle(base / "small2", demo, edit="\n")
    store = Store.init(base / "store")
    import_bundle(store, one)
    second = import_bundle(store, two)
    autosave(store, one, project=PROJECT)
    commit = read_commit(store, second.commit)
    report = base / "report.zip"
    write_crash_report(store, PROJECT, report)
    packed = base / "packed"
    shutil.copytree(store.root, packed)
    gc(Store.open(packed), timedelta(0))
    indexes = [packed / "packs" / f"{name}.idx" for name in list_packs(LocalBackend(packed))]
    assert len(indexes) == 1, "gc should leave one pack"
    return World(
        base=base,
        store=store,
        head=second.commit,
        tree_raw=store.objects.read_bytes(commit.tree),
        tree_id=commit.tree,
        commit_raw=store.objects.read_bytes(second.commit),
        bundle_zip=zip_of(one),
        bundle_zip_stored=zip_of(one, zipfile.ZIP_STORED),
        manifest=(one / "project_manifest.json").read_bytes(),
        report=report.read_bytes(),
        packed=packed,
        index=indexes[0],
    )


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="casstore-fuzz-"))


# --- the manifest parser ---------------------------------------------------------------------------


def _manifest_cases(world_manifest: bytes) -> st.SearchStrategy[bytes]:
    doc = json.loads(world_manifest)
    return st.one_of(mutated(world_manifest), json_mutated(doc), json_mutated(doc, lambda d: json.dumps(d, indent=1)))


def _demo_manifest() -> bytes:
    from conftest import ROOT

    made = ROOT / "testdata" / "out" / "demo_bundle" / "project_manifest.json"
    if made.exists():
        return made.read_bytes()
    return json.dumps(
        {
            "manifest_version": "1.0.0",
            "project": {"id": "p", "name": "P", "bpm": 120.0, "swing": 0.0, "created_at": "x", "updated_at": "x"},
            "patterns": [{"pattern_id": "a", "path": "patterns/a.json", "sha256": "0" * 64, "length_steps": 16}],
        }
    ).encode()


@fuzz_settings()
@given(raw=st.deferred(lambda: _manifest_cases(_demo_manifest())))
def test_fuzz_manifest_parser(raw: bytes) -> None:
    outcome("manifest", lambda: parse_manifest(raw, "fuzz/project_manifest.json"))


# --- the zip reader --------------------------------------------------------------------------------


def read_whole_zip(path: Path) -> int:
    """List a zip bundle and read every entry to the end, as import and diff do; return bytes read."""
    total = 0
    with opened(path) as source:
        for item in [*source.files.values(), *source.junk.values()]:
            with item.open() as stream:
                read = 0
                while chunk := stream.read(1 << 16):
                    read += len(chunk)
                assert read <= item.size, f"{item.path}: yielded {read} bytes, declared {item.size}"
                total += read
    return total


@fuzz_settings()
@given(data=st.data())
def test_fuzz_zip_reader(world: World, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from([world["bundle_zip"], world["bundle_zip_stored"], world["report"]]))
    raw = data.draw(mutated(seed, header_offsets(seed)))
    scratch = _scratch()
    try:
        path = scratch / "bundle.zip"
        path.write_bytes(raw)
        outcome("zip reader", lambda: read_whole_zip(path))
        outcome("crash-report detection", lambda: is_crash_report(path), count=False)
    finally:
        shutil.rmtree(scratch)


@fuzz_settings()
@given(data=st.data())
def test_fuzz_zip_import_leaves_store_unchanged_on_refusal(world: World, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from([world["bundle_zip"], world["bundle_zip_stored"]]))
    raw = data.draw(mutated(seed, header_offsets(seed)))
    scratch = _scratch()
    try:
        store_dir = scratch / "store"
        shutil.copytree(world["store"].root, store_dir)
        before = snapshot_tree(store_dir)
        path = scratch / "bundle.zip"
        path.write_bytes(raw)
        result = outcome("zip import", lambda: import_bundle(Store.open(store_dir), path))
        if isinstance(result, CasstoreError):
            assert snapshot_tree(store_dir) == before, f"refused ({result}) but the store changed"
    finally:
        shutil.rmtree(scratch)


# --- the revision grammar --------------------------------------------------------------------------


def _revisions(head: str) -> st.SearchStrategy[str]:
    bases = st.one_of(
        st.sampled_from([head, PROJECT, f"{PROJECT}/heads/main", f"{PROJECT}/autosave/latest", f"{PROJECT}/tags/v1"]),
        st.integers(min_value=1, max_value=64).map(lambda n: head[:n]),
        st.text(alphabet="0123456789abcdefABCDEF", max_size=70),
        st.lists(st.text(max_size=12), min_size=1, max_size=5).map("/".join),
        st.text(alphabet="abc.-_/~\x00\n \\:", max_size=30),
    )
    steps = st.lists(
        st.one_of(
            st.just("~"),
            st.integers(min_value=0, max_value=10**6).map(lambda n: f"~{n}"),
            st.integers(min_value=1, max_value=20_000).map(lambda n: "~" + "9" * n),
        ),
        max_size=4,
    ).map("".join)
    return st.one_of(st.tuples(bases, steps).map("".join), st.text(max_size=200))


@fuzz_settings()
@given(data=st.data())
def test_fuzz_revision_grammar(world: World, data: st.DataObject) -> None:
    text = data.draw(_revisions(world["head"]))
    outcome("revision", lambda: resolve(world["store"], text))


# --- the tree and commit decoders ------------------------------------------------------------------


def _object_cases(raw: bytes) -> st.SearchStrategy[bytes]:
    doc = json.loads(raw)
    return st.one_of(mutated(raw), json_mutated(doc), json_mutated(doc, lambda d: json.dumps(d, indent=2)))


@fuzz_settings()
@given(data=st.data())
def test_fuzz_tree_decoder(world: World, data: st.DataObject) -> None:
    raw = data.draw(_object_cases(world["tree_raw"]))
    outcome("tree decoder", lambda: Tree.decode(world["tree_id"], raw))


@fuzz_settings()
@given(data=st.data())
def test_fuzz_commit_decoder(world: World, data: st.DataObject) -> None:
    raw = data.draw(_object_cases(world["commit_raw"]))
    outcome("commit decoder", lambda: Commit.decode(world["head"], raw))


# --- the pack and index readers --------------------------------------------------------------------


def _read_everything(store: Store, ids: list[str]) -> int:
    """Read every object the undamaged store holds, each refusal allowed on its own."""
    done = 0
    for oid in ids:
        if not isinstance(
            outcome("damaged pack read", lambda oid=oid: store.objects.read_bytes(oid), count=False), CasstoreError
        ):
            done += 1
    return done


@fuzz_settings()
@given(data=st.data())
def test_fuzz_pack_and_index_readers(world: World, data: st.DataObject) -> None:
    index = world["index"]
    which = data.draw(st.sampled_from(["idx", "pack"]))
    original = index.read_bytes() if which == "idx" else index.with_suffix(".pack").read_bytes()
    hot = [0, 8, 16, 24, 40, 48, 56] if which == "idx" else [0, 8, len(original) - 32]
    raw = data.draw(mutated(original, hot))
    scratch = _scratch()
    try:
        root = scratch / "store"
        shutil.copytree(world["packed"], root)
        damaged = root / "packs" / (index.name if which == "idx" else index.with_suffix(".pack").name)
        damaged.chmod(0o644)
        damaged.write_bytes(raw)
        outcome("pack index load", lambda: Pack.load(LocalBackend(root), damaged.stem), count=False)
        store = Store.open(root)
        ids = Pack.load(LocalBackend(world["packed"]), index.stem).ids
        _read_everything(store, ids)
        report = outcome("pack/index: load, read, fsck", lambda: fsck(Store.open(root)))
        assert not isinstance(report, CasstoreError), f"fsck raised instead of reporting: {report}"
        if raw != original:
            assert not report.ok, f"fsck passed a damaged {which}"
    finally:
        shutil.rmtree(scratch)


# --- crash-report import ---------------------------------------------------------------------------


@fuzz_settings()
@given(data=st.data())
def test_fuzz_crash_report_import(world: World, data: st.DataObject) -> None:
    seed = world["report"]
    raw = data.draw(mutated(seed, header_offsets(seed)))
    scratch = _scratch()
    try:
        store_dir = scratch / "store"
        Store.init(store_dir)
        before = snapshot_tree(store_dir)
        path = scratch / "report.zip"
        path.write_bytes(raw)
        result = outcome("crash-report import", lambda: import_crash_report(Store.open(store_dir), path))
        if isinstance(result, CasstoreError):
            assert snapshot_tree(store_dir) == before, f"refused ({result}) but the store changed"
        else:
            assert fsck(Store.open(store_dir)).ok, "an accepted crash report left fsck errors"
    finally:
        shutil.rmtree(scratch)


# --- the figures -----------------------------------------------------------------------------------

# Peak resident memory of the whole test process: fuzzing must not balloon it (a huge declared
# size honoured anywhere would take gigabytes).
PEAK_RSS_LIMIT = 1536 << 20


def test_fuzz_figures_and_peak_memory(capsys: pytest.CaptureFixture[str]) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    lines = [f"fuzz cases: {sum(COUNTS.values())} in {len(COUNTS)} targets, peak RSS {peak >> 20} MiB"]
    for target, count in sorted(COUNTS.items()):
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(OUTCOMES.get(target, {}).items()))
        lines.append(f"  {target}: {count} ({kinds})")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak >> 20} MiB"
