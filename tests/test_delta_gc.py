"""gc and repack store edited revisions as deltas: exports byte for byte, chains bounded, bases kept, fsck checks."""

from __future__ import annotations

import contextlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_compaction import make_wav
from test_delta import _edit_steps, _pattern

from casstore.bundles.exporter import export_revision
from casstore.clock import format_iso, utc_now_iso
from casstore.errors import CorruptObject
from casstore.history.fsck import fsck
from casstore.history.gc import gc
from casstore.importer import import_bundle
from casstore.storage.codec import HEADER_SIZE, MAGIC, ObjectReader
from casstore.storage.delta import CODEC_DELTA, DELTA_PREFIX, MAX_DEPTH, delta_base, make_patch
from casstore.storage.store import Store
from conftest import dirs_equal

REVISIONS = MAX_DEPTH + 4


def _revision(bundle: Path, index: int, pattern: bytes, sample: bytes) -> tuple[bytes, bytes]:
    """Edit the bundle as a tracker saves: two pattern steps changed, the take trimmed a little more."""
    pattern = _edit_steps(pattern, 2, index) if index else pattern
    # A trimmed take: its header rewritten by the editor (new lengths), its tail cut off.
    trimmed = bytearray(sample[: len(sample) - index * 4000])
    trimmed[4:8] = (len(trimmed) - 8).to_bytes(4, "little")
    (bundle / "extra").mkdir(exist_ok=True)
    (bundle / "extra" / "groove.json").write_bytes(pattern)
    (bundle / "extra" / "take.wav").write_bytes(bytes(trimmed))
    return pattern, bytes(trimmed)


@pytest.fixture()
def history(demo_data: Path, tmp_path: Path) -> tuple[Store, list[str], Path]:
    """A store with REVISIONS imports of one bundle; each revision's bundle is kept under tmp_path/revN."""
    store = Store.init(tmp_path / "store")
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_data / "demo_bundle", bundle)
    pattern, sample = _pattern(1), make_wav(frames=120_000)
    commits = []
    for index in range(REVISIONS):
        pattern, _ = _revision(bundle, index, pattern, sample)
        commits.append(import_bundle(store, bundle, project="demo-project").commit)
        shutil.copytree(bundle, tmp_path / f"rev{index}")
    return store, commits, tmp_path


def _deltas(store: Store) -> dict[str, str]:
    found: dict[str, str] = {}
    for pack in store.objects.packs:
        found.update(pack.delta_bases())
    return found


def _depth(deltas: dict[str, str], oid: str) -> int:
    depth = 0
    while oid in deltas:
        oid, depth = deltas[oid], depth + 1
        assert depth <= len(deltas), "a delta cycle"
    return depth


def test_gc_stores_revisions_as_deltas_and_every_export_is_byte_for_byte(
    history: tuple[Store, list[str], Path],
) -> None:
    store, commits, tmp = history
    before = sum(f.stat().st_size for f in store.root.rglob("*") if f.is_file())
    report = gc(store, timedelta(0), compact=False)
    assert report.deltas == 0  # --no-compact: no deltas either
    report = gc(store, timedelta(0), repack=True)
    after = sum(f.stat().st_size for f in store.root.rglob("*") if f.is_file())
    deltas = _deltas(Store.open(store.root))
    # Pattern, take and tree of every revision but the first (and one per chain reset).
    assert report.deltas == len(deltas) >= 3 * (REVISIONS - 2)
    assert after < before - report.deltas_saved * 0.9
    assert max(_depth(deltas, oid) for oid in deltas) == MAX_DEPTH
    for index, commit in enumerate(commits):
        export_revision(store, commit, tmp / f"out{index}")
        assert dirs_equal(tmp / f"out{index}", tmp / f"rev{index}"), f"revision {index} differs"
    assert fsck(store).ok
    # A second repack plans again from scratch and lands on the same deltas.
    again = gc(store, timedelta(0), repack=True)
    assert again.deltas == report.deltas and _deltas(Store.open(store.root)) == deltas


def test_gc_keeps_what_a_kept_delta_needs_when_its_base_becomes_garbage(
    history: tuple[Store, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _commits, tmp = history
    gc(store, timedelta(0))
    assert _deltas(store)
    # Only the last revision's files stay reachable, from a project with no history: the
    # bases of their deltas (older revisions) are now garbage.
    last = import_bundle(store, tmp / f"rev{REVISIONS - 1}", project="other").commit
    for name, oid in store.refs.list().items():
        if not name.startswith("other/"):
            store.refs.compare_and_swap(name, oid, None, "test: drop", utc_now_iso())
    monkeypatch.setenv("CASSTORE_NOW", format_iso(datetime.now(UTC) + timedelta(days=1)))  # reflogs expire
    report = gc(store, timedelta(0))
    assert report.removed
    reopened = Store.open(store.root)
    left = set(reopened.objects.iter_ids())
    assert all(base in left for base in _deltas(reopened).values())
    export_revision(reopened, last, tmp / "out")
    assert dirs_equal(tmp / "out", tmp / f"rev{REVISIONS - 1}")
    assert fsck(reopened).ok


def test_fsck_reports_a_delta_whose_base_is_missing(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    base, edited = _pattern(3), _edit_steps(_pattern(3), 2, 4)
    stored = make_patch("ab" * 32, base, edited)
    oid = __import__("hashlib").sha256(edited).hexdigest()
    pack = store.objects.new_pack()
    pack.add(oid, [stored])
    store.objects.publish(pack)
    for quick in (True, False):
        report = fsck(Store.open(store.root), quick=quick)
        assert not report.ok
        missing = [f for f in report.findings if f.kind == "missing" and f.subject == "ab" * 32]
        assert missing and oid in missing[0].detail
    full = fsck(Store.open(store.root))
    corrupt = [f for f in full.findings if f.kind == "corrupt" and f.subject == oid]
    assert corrupt and "delta base" in corrupt[0].detail


def test_what_leaves_the_store_needs_no_delta_base(history: tuple[Store, list[str], Path]) -> None:
    # push sends open_portable's bytes: a remote may not hold a delta's base.
    store, _commits, _tmp = history
    gc(store, timedelta(0))
    deltas = _deltas(store)
    for oid in sorted(deltas)[:5]:
        with contextlib.closing(store.objects.open_stored(oid)) as stored:
            assert delta_base(stored.read(DELTA_PREFIX)) == deltas[oid]
        with contextlib.closing(store.objects.open_portable(oid)) as portable:
            raw = portable.read()
        assert raw[:HEADER_SIZE] != MAGIC + CODEC_DELTA
        with ObjectReader(oid, _Bytes(raw)) as reader:  # no store to reach a base through
            assert reader.read_all()


class _Bytes:
    def __init__(self, raw: bytes) -> None:
        import io

        self._stream = io.BytesIO(raw)

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def close(self) -> None:
        pass


def test_reading_a_delta_without_its_store_is_refused_by_name(history: tuple[Store, list[str], Path]) -> None:
    store, _commits, _tmp = history
    gc(store, timedelta(0))
    oid = sorted(_deltas(store))[0]
    with contextlib.closing(store.objects.open_stored(oid)) as stored, pytest.raises(CorruptObject, match=oid):
        ObjectReader(oid, stored).read_all()  # type: ignore[arg-type]
