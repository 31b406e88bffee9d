"""import of a directory casstore saw before: the stat cache decides what is read again, as git's index does."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from casstore.bundles import listing
from casstore.bundles.stat_table import CachedFile, StatTable
from casstore.importer import import_bundle
from casstore.storage.store import Store
from casstore.workdir.statcache import cache_key, decode_dir_cache, encode_dir_cache
from conftest import Cli, dirs_equal, sha256_file

SAMPLE = "assets/choir_pad_soft.wav"


def _age(directory: Path, seconds: int = 30) -> None:
    """Move every file's mtime into the past, out of the stat cache's racy window."""
    for path in directory.rglob("*"):
        if path.is_file():
            info = path.stat()
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - seconds * 10**9))


def _imported(cli: Cli, bundle: Path, *extra: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(cli.ok("import", bundle, "--json", *extra).out)
    return summary


def _flip_byte_keeping_size(path: Path, offset: int = 5000) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    with open(path, "r+b") as stream:  # same inode, same size
        stream.write(raw)


def _total(bundle: Path) -> int:
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())


def test_unchanged_reimport_reads_no_file_and_an_edit_reads_only_that_file(cli: Cli, bundle: Path) -> None:
    _age(bundle)
    first = _imported(cli, bundle)
    assert first["hashed"] == {"files": 11, "bytes": _total(bundle)}  # no cache yet: every byte
    again = _imported(cli, bundle)
    assert again["hashed"] == {"files": 0, "bytes": 0}
    assert again["tree"] == first["tree"] and again["created_commit"] is False

    # A tracker saves in place: same size, new content, and an mtime that is not racy.
    sample = bundle / SAMPLE
    _flip_byte_keeping_size(sample)
    info = sample.stat()
    os.utime(sample, ns=(info.st_atime_ns, info.st_mtime_ns - 20 * 10**9))
    edited = cli(*["import", bundle, "--json"])
    assert edited.code == 2  # the manifest still records the old digest: the usual error, naming the file
    assert f"SHA-256 mismatch for {SAMPLE!r}" in edited.err and "Traceback" not in edited.err

    manifest_path = bundle / "project_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for asset in manifest["sampler_assets"]:
        if asset["relative_path"] == SAMPLE:
            asset["sha256"] = sha256_file(sample)
    manifest_path.write_text(json.dumps(manifest, indent=2))
    _age(bundle, 10)  # both edits out of the racy window; every stat (ctime too) moved again
    saved = _imported(cli, bundle)
    assert saved["created_commit"] is True
    assert saved["hashed"]["files"] == 11  # _age touched every file's ctime: all re-read once
    after = _imported(cli, bundle)
    assert after["hashed"] == {"files": 0, "bytes": 0}


def test_verify_catches_corruption_the_cache_cannot_see(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    _age(bundle)
    _imported(cli, bundle)
    sample = bundle / SAMPLE
    _flip_byte_keeping_size(sample)
    # Bit rot changes bytes without touching size, mtime, inode or ctime; a user's write always moves
    # ctime. Forge that here: the cache entry takes the damaged file's stat and keeps the old digest.
    store = Store.open(cli.store)
    key = cache_key(bundle)
    header, files = decode_dir_cache(store.backend.get(key))
    st = sample.stat()
    forged = dict(files.items())
    forged[SAMPLE] = CachedFile(st.st_size, st.st_mtime_ns, st.st_ino, files[SAMPLE].sha256, st.st_ctime_ns)
    header["written_at_ns"] = st.st_mtime_ns + 60 * 10**9
    store.backend.put(key, encode_dir_cache(header, StatTable.of(forged.items())))

    trusted = _imported(cli, bundle)
    assert trusted["hashed"]["files"] == 0  # as git: a same-stat change is invisible to the cache
    verified = cli("import", bundle, "--verify", "--json")
    assert verified.code == 2 and f"SHA-256 mismatch for {SAMPLE!r}" in verified.err


def test_racy_file_is_read_again(cli: Cli, bundle: Path) -> None:
    # Files written within the racy window of the cache's time: the next import reads them again.
    for path in bundle.rglob("*"):
        os.utime(path)
    _imported(cli, bundle)
    again = _imported(cli, bundle)
    assert again["hashed"]["files"] == 11


def test_checkout_refreshes_the_cache_for_the_next_import(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    _age(bundle)
    first = _imported(cli, bundle)
    work = tmp_path / "work"
    cli.ok("checkout", first["commit"], work)
    (work / ".casstore-checkout.json").unlink()  # import must use the store's cache, not the marker
    # Files checkout wrote are racy for the cache it just wrote; the first import re-reads those.
    racy = _imported(cli, work)
    assert racy["hashed"]["files"] == 11 and racy["tree"] == first["tree"]
    assert _imported(cli, work)["hashed"]["files"] == 11  # still inside the racy window
    _age(work)
    _imported(cli, work)
    assert _imported(cli, work)["hashed"] == {"files": 0, "bytes": 0}


def test_cached_digest_of_an_object_the_store_lacks_is_read_and_stored(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    # As after a gc dropped what the cache names: a digest is trusted only while the store holds it.
    _age(bundle)
    _imported(cli, bundle)
    key = cache_key(bundle)
    other = Cli(tmp_path / "other-store", tmp_path)
    other.ok("init", other.store)
    Store.open(other.store).backend.put(key, Store.open(cli.store).backend.get(key))
    summary = json.loads(other.ok("import", bundle, "--json").out)
    # All but the manifest and project.json: no digest in the manifest to check, they are read as stored.
    assert summary["hashed"]["files"] == 9
    assert summary["objects"]["new"] == 13
    other.ok("fsck")
    other.ok("export", summary["commit"], tmp_path / "out")
    assert dirs_equal(bundle, tmp_path / "out")


def test_bytes_read_counts_only_what_changed(tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Count the bytes import actually reads from the bundle (not time), through the opener it uses."""
    read: list[int] = []

    class Counting:
        def __init__(self, stream: BinaryIO) -> None:
            self._stream = stream

        def read(self, size: int = -1) -> bytes:
            chunk = self._stream.read(size)
            read.append(len(chunk))
            return chunk

        def readinto(self, buffer: Any) -> int:
            count = self._stream.readinto(buffer)
            read.append(count)
            return count

        def __getattr__(self, name: str) -> Any:
            return getattr(self._stream, name)

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self._stream.close()

    real_open = listing.open_binary
    monkeypatch.setattr(listing, "open_binary", lambda path: Counting(real_open(path)))
    store = Store.init(tmp_path / "store")
    _age(bundle)
    import_bundle(store, bundle)
    first = sum(read)
    assert first >= _total(bundle)
    read.clear()
    result = import_bundle(store, bundle)
    manifest_size = (bundle / "project_manifest.json").stat().st_size
    assert sum(read) == manifest_size  # parsed, never hashed: every file vouched for by its stat
    assert result.bytes_hashed == 0
    read.clear()
    result = import_bundle(store, bundle, verify=True)
    assert sum(read) == manifest_size + _total(bundle) and result.files_hashed == 11


def _store_state(store: Path) -> dict[str, tuple[int, int]]:
    """Every file of the store with its size and mtime: proof that a command wrote nothing."""
    return {p.relative_to(store).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in store.rglob("*")}


def test_unchanged_autosave_writes_nothing_to_the_store(cli: Cli, bundle: Path) -> None:
    _age(bundle)
    cli.ok("autosave", bundle)  # stores the files and remembers their stats
    cli.ok("autosave", bundle)
    before = _store_state(cli.store)
    again = json.loads(cli.ok("autosave", bundle, "--json").out)
    assert again["unchanged"] is True and again["objects"]["new"] == 0
    # No object touched, no cache rewritten: an idle tablet's autosave costs what status costs.
    assert _store_state(cli.store) == before

    sample = bundle / SAMPLE
    _flip_byte_keeping_size(sample)
    changed = json.loads(cli.ok("autosave", bundle, "--json").out)
    assert changed["unchanged"] is False and changed["tree"] != again["tree"]
    assert changed["objects"]["new"] == 3  # the sample, the tree and the commit
