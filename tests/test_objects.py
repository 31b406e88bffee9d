"""Objects: an id is the SHA-256 of the bytes; reads verify; trees and commits round-trip."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casstore.errors import CorruptObject, ObjectMissing
from casstore.model.objects import Commit, Tree, TreeEntry
from casstore.storage.codec import decode_bytes, encode_parts, encode_stream
from casstore.storage.store import Store


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store.init(tmp_path / "store")


@given(content=st.binary(max_size=5000))
def test_object_id_is_sha256_of_the_bytes(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    store = Store.init(tmp_path_factory.mktemp("s") / "store")
    result = store.objects.put_bytes(content)
    assert result.oid == hashlib.sha256(content).hexdigest()
    assert store.objects.read_bytes(result.oid) == content


def test_compressible_content_is_compressed_and_noise_is_stored_raw(store: Store) -> None:
    text = b"step note velocity\n" * 5000
    noise = hashlib.sha256(b"seed").digest() * 1  # tiny, below the compression floor
    big_noise = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(4000))
    for content in (text, noise, big_noise):
        oid = store.objects.put_bytes(content).oid
        assert store.objects.read_bytes(oid) == content
    stored_text = store.objects.path_for(hashlib.sha256(text).hexdigest()).read_bytes()
    stored_noise = store.objects.path_for(hashlib.sha256(big_noise).hexdigest()).read_bytes()
    assert stored_text[7:8] == b"z" and len(stored_text) < len(text) / 10
    assert stored_noise[7:8] == b"r" and len(stored_noise) == len(big_noise) + 8


def test_putting_twice_stores_once(store: Store) -> None:
    first = store.objects.put_bytes(b"pattern")
    second = store.objects.put_bytes(b"pattern")
    assert first.new and not second.new
    assert list(store.objects.iter_ids()) == [first.oid]


def test_streamed_put_of_a_multi_chunk_file(store: Store) -> None:
    content = bytes(range(256)) * 20000  # ~5 MiB, several chunks
    result = store.objects.put_stream(lambda: io.BytesIO(content), len(content))
    assert result.size == len(content)
    with store.objects.reader(result.oid) as reader:
        assert reader.read_all() == content


def test_put_refuses_content_that_changed_since_validation(store: Store) -> None:
    with pytest.raises(Exception, match="changed while it was being stored"):
        store.objects.put_stream(lambda: io.BytesIO(b"new bytes"), 9, expected="0" * 64)
    assert list(store.objects.iter_ids()) == []


@pytest.mark.parametrize("offset", [0, 7, 8, 20, -1])
def test_a_flipped_byte_is_reported_naming_the_id(store: Store, offset: int) -> None:
    content = b"mixer gain -3.0 dB\n" * 200
    oid = store.objects.put_bytes(content).oid
    path = store.objects.path_for(oid)
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptObject, match=oid):
        store.objects.read_bytes(oid)


def test_missing_object_names_the_id(store: Store) -> None:
    with pytest.raises(ObjectMissing, match="ab" * 32):
        store.objects.read_bytes("ab" * 32)


paths = st.lists(st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}\.(json|wav)", fullmatch=True), min_size=1, unique=True)


@given(paths=paths, size=st.integers(0, 10**9))
def test_tree_round_trip(paths: list[str], size: int) -> None:
    entries = [TreeEntry(p, hashlib.sha256(p.encode()).hexdigest(), size, "file") for p in paths]
    manifest = TreeEntry("project_manifest.json", "e" * 64, 10, "manifest")
    tree = Tree("demo", manifest.sha256, tuple(sorted([*entries, manifest], key=lambda e: e.path)))
    raw = tree.encode()
    assert Tree.decode(tree.id, raw) == tree
    assert tree.id == hashlib.sha256(raw).hexdigest()


@given(message=st.text(), mutation=st.none() | st.text(min_size=1))
def test_commit_round_trip(message: str, mutation: str | None) -> None:
    commit = Commit("a" * 64, ("b" * 64,), "demo", "autosave", message, "qa@host", "2026-01-01T00:00:00Z", mutation)
    assert Commit.decode(commit.id, commit.encode()) == commit


def test_a_blob_is_not_a_commit() -> None:
    with pytest.raises(CorruptObject):
        Commit.decode("c" * 64, b"RIFF....WAVEfmt ")


@given(
    content=st.one_of(st.binary(max_size=3000), st.binary(min_size=1, max_size=40).map(lambda b: b * 200)),
    flip=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_in_memory_decoding_never_returns_wrong_bytes(content: bytes, flip: int, bit: int) -> None:
    oid, parts = encode_parts(content)
    stored = b"".join(parts)
    assert decode_bytes(oid, stored, len(content)) == content
    damaged = bytearray(stored)
    damaged[flip % len(damaged)] ^= 1 << bit
    # A flipped bit either still decodes to exactly the content (zstd ignores it) or is refused.
    try:
        assert decode_bytes(oid, bytes(damaged), len(content)) == content
    except CorruptObject as exc:
        assert oid in str(exc)


def test_packed_import_objects_read_back_as_streamed_ones(store: Store) -> None:
    pack = store.objects.new_pack()
    contents = [b"pattern " * 400, bytes(range(256)) * 40, b""]
    for content in contents:
        store.objects.put_bytes(content, pack)
    assert list(store.objects.loose.iter_ids()) == []
    store.objects.publish(pack)
    for content in contents:
        oid = hashlib.sha256(content).hexdigest()
        with store.objects.reader(oid) as reader:
            assert reader.read_all() == content == store.objects.read_bytes(oid)


def test_a_stream_abandoned_midway_leaves_the_threads_compressor_usable() -> None:
    class Breaks(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("disk went away")
            return b"pattern step " * 100_000

    with pytest.raises(OSError):
        encode_stream(Breaks(), io.BytesIO(), 10_000_000)
    content = b"mixer snapshot " * 50_000
    oid, parts = encode_parts(content)
    assert decode_bytes(oid, b"".join(parts), len(content)) == content
