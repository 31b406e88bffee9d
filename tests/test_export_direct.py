"""Export's small files: decoded into a reused page-aligned buffer and written around the page cache.

The bytes on disk must be exactly the object's whatever the buffer held before, a damaged
object must still fail the export, and a file system that refuses O_DIRECT (at open or at
write) must still get a byte-for-byte export.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from torture import DiskImage, FaultInjector, PowerCut

from casstore.bundles.exporter import export_revision
from casstore.errors import CasstoreError, CorruptObject
from casstore.importer import import_bundle
from casstore.storage import fileops
from casstore.storage.codec import decode_into, encode_parts
from casstore.storage.fileops import installed, ops, page_buffer
from casstore.storage.store import Store

SIZES = [0, 1, 511, 4095, 4096, 4097, 3 * 4096 + 5, 70_000]


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("size", SIZES)
def test_a_new_file_holds_exactly_its_bytes_whatever_the_buffer_held_before(tmp_path: Path, size: int) -> None:
    buffer = page_buffer(80_000)
    buffer[:] = b"\xee" * len(buffer)  # an earlier, longer file's bytes
    content = os.urandom(size)
    buffer[:size] = content
    target = tmp_path / "f.bin"
    ops().write_new_file(target, buffer, size)
    assert target.read_bytes() == content
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    buffer.close()


@given(
    content=st.one_of(st.binary(max_size=3000), st.binary(min_size=1, max_size=40).map(lambda b: b * 200)),
    flip=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_decoding_into_a_buffer_never_yields_wrong_bytes(content: bytes, flip: int, bit: int) -> None:
    oid, parts = encode_parts(content)
    stored = b"".join(parts)
    buffer = page_buffer(8192)
    buffer[:] = b"\x5a" * len(buffer)
    with memoryview(buffer) as view:
        length = decode_into(oid, stored, len(content), view)
        assert bytes(view[:length]) == content
        damaged = bytearray(stored)
        damaged[flip % len(damaged)] ^= 1 << bit
        # A flipped bit either still decodes to exactly the content (zstd ignores it) or is refused.
        try:
            length = decode_into(oid, bytes(damaged), len(content), view)
            assert bytes(view[:length]) == content
        except CorruptObject as exc:
            assert oid in str(exc)
    buffer.close()


def _bundle(root: Path) -> Path:
    """A bundle of files of many sizes around the 4 KiB block, so buffers are reused with longer leftovers."""
    bundle = root / "bundle"
    (bundle / "patterns").mkdir(parents=True)
    (bundle / "mixer").mkdir()
    patterns, mixers = [], []
    for index, size in enumerate([9000, *SIZES, 300, 4096 * 2]):
        path = f"patterns/p{index:02}.json"
        body = (f'{{"pattern_id": "p{index:02}", "pad": "' + "x" * size + '"}\n').encode()
        (bundle / path).write_bytes(body)
        patterns.append(
            {
                "pattern_id": f"p{index:02}",
                "path": path,
                "sha256": hashlib.sha256(body).hexdigest(),
                "length_steps": 16,
                "step_count": 16,
            }
        )
    mixer = os.urandom(5000)  # incompressible: stored raw, the other decoding path
    (bundle / "mixer" / "m.json").write_bytes(mixer)
    mixers.append({"name": "m", "path": "mixer/m.json", "sha256": hashlib.sha256(mixer).hexdigest()})
    manifest = {
        "manifest_version": "1.0.0",
        "project": {"id": "direct", "name": "direct", "bpm": 120, "swing": 0, "created_at": "", "updated_at": ""},
        "patterns": patterns,
        "mixer_snapshots": [{**m, "snapshot_type": "scene"} for m in mixers],
        "sampler_assets": [],
    }
    (bundle / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    return bundle


@pytest.fixture()
def stored(tmp_path: Path) -> tuple[Store, str, Path]:
    bundle = _bundle(tmp_path)
    store = Store.init(tmp_path / "store")
    result = import_bundle(store, bundle)
    return store, result.commit, bundle


def test_export_writes_every_file_byte_for_byte(stored: tuple[Store, str, Path], tmp_path: Path) -> None:
    store, commit, bundle = stored
    export_revision(store, commit, tmp_path / "out")
    assert _tree_bytes(tmp_path / "out") == _tree_bytes(bundle)


def test_a_file_system_refusing_o_direct_at_open_still_gets_every_byte(
    stored: tuple[Store, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, commit, bundle = stored
    real_open = os.open

    def refusing(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & fileops._O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument", path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(fileops.os, "open", refusing)
    export_revision(store, commit, tmp_path / "out")
    assert _tree_bytes(tmp_path / "out") == _tree_bytes(bundle)


def test_a_file_system_refusing_the_alignment_at_write_still_gets_every_byte(
    stored: tuple[Store, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, commit, bundle = stored
    real_pwrite = os.pwrite

    def refusing(fd: int, data: memoryview, offset: int) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & fileops._O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(fileops.os, "pwrite", refusing)
    export_revision(store, commit, tmp_path / "out")
    assert _tree_bytes(tmp_path / "out") == _tree_bytes(bundle)


def test_a_damaged_object_fails_the_export_and_leaves_no_destination(
    stored: tuple[Store, str, Path], tmp_path: Path
) -> None:
    store, commit, bundle = stored
    # The mixer snapshot: a blob (the tree and the commit still read), stored raw.
    victim = store.objects.path_for(hashlib.sha256((bundle / "mixer" / "m.json").read_bytes()).hexdigest())
    damaged = bytearray(victim.read_bytes())
    damaged[-10] ^= 0x40
    victim.chmod(0o644)
    victim.write_bytes(bytes(damaged))
    with pytest.raises(CorruptObject):
        export_revision(store, commit, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _export_case(stored: tuple[Store, str, Path], scratch: Path) -> Callable[[], None]:
    store, commit, _bundle_dir = stored
    (scratch / "out").mkdir(parents=True)
    return lambda: export_revision(Store.open(store.root), commit, scratch / "out" / "bundle")


@pytest.mark.parametrize("syncfs", ["1", "0"], ids=["one syncfs", "an fsync a file"])
@pytest.mark.parametrize("kind", ["error", "power"])
def test_every_crash_point_of_an_export_leaves_all_or_nothing(
    stored: tuple[Store, str, Path], tmp_path: Path, kind: str, syncfs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At each durable operation, failed or cut: the export is whole or absent; once it returned, it is on disk."""
    monkeypatch.setenv("CASSTORE_SYNCFS", syncfs)
    bundle = stored[2]
    counter = FaultInjector()
    with installed(counter):
        _export_case(stored, tmp_path / "count")()
    total = len(counter.log)
    fsyncs, files = [op for op, _ in counter.log].count("fsync"), len(_tree_bytes(bundle))
    # One syncfs makes every file durable (then each directory is fsynced), or an fsync each does.
    assert fsyncs < files if syncfs == "1" else fsyncs >= files
    for point in range(1, total + 2):  # total + 1: the power goes right after the export returned
        case = tmp_path / f"{kind}-{point}"
        export = _export_case(stored, case)
        before = DiskImage.read([case / "out"])
        injector = FaultInjector(cut_at=point) if kind == "power" else FaultInjector(fail_at=point, error=errno.EIO)
        finished = False
        with contextlib.suppress(PowerCut, OSError, CasstoreError), installed(injector):
            export()
            finished = True
        if kind == "power":
            injector.after_power_cut(before, case / "disk")
            left = case / "disk" / "out"
        else:
            left = case / "out"
        result = left / "bundle"
        if finished or result.exists():
            assert _tree_bytes(result) == _tree_bytes(bundle), point
        if kind == "error" and not finished:
            # Nothing is left: not the partial copy, nor a whole bundle whose rename failed to
            # become durable (its folder's fsync, the last point, fails after the rename).
            assert list(left.iterdir()) == [], point
