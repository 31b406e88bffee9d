"""What the growth and memory guards share: a store holding one generated bundle, and counted object reads."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

import casstore.storage.pack_scan as pack_scan
from casstore import import_bundle
from casstore.storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import scale_build  # noqa: E402
from workload import Preset, write_workload  # noqa: E402


def bundle_store(scratch: Path, files: int, name: str = "mem") -> tuple[Store, Path]:
    """Import a generated bundle of ``files`` files (3/4 patterns, 1/4 mixer snapshots) as ``p0``: (store, bundle)."""
    preset = Preset(samples=2, sample_bytes=2_000, patterns=files * 3 // 4, snapshots=files // 4)
    work, rev2 = write_workload(scratch / "work", name, preset=preset)
    shutil.rmtree(rev2)
    store = Store.init(scratch / "store")
    with scale_build.fast_writes():
        import_bundle(store, work, "p0")
    return store, work


def count_reads(store: Store) -> Counter[str]:
    """Count, from now on, every object ``store`` reads (by id, repeats included)."""
    reads: Counter[str] = Counter()
    read_bytes, reader = store.objects.read_bytes, store.objects.reader

    def counted_read_bytes(oid: str, size: int | None = None) -> bytes:
        reads[oid] += 1
        return read_bytes(oid, size)

    def counted_reader(oid: str) -> object:
        reads[oid] += 1
        return reader(oid)

    store.objects.read_bytes = counted_read_bytes  # type: ignore[method-assign]
    store.objects.reader = counted_reader  # type: ignore[method-assign, assignment]
    return reads


def count_span_reads(monkeypatch: pytest.MonkeyPatch, reads: Counter[str]) -> None:
    """Also count into ``reads`` each object fsck re-hashes from a pack a span at a time (by id)."""
    checked = pack_scan._checked

    def counted(oid: str, stored: object, open_base: object) -> pack_scan.Rehashed:
        reads[oid] += 1
        return checked(oid, stored, open_base)  # type: ignore[arg-type]

    monkeypatch.setattr(pack_scan, "_checked", counted)
