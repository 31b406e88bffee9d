"""Deltas (codec d): patches and splices read back byte for byte, chains stay bounded, damage names the object."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from casstore.errors import CorruptObject, ObjectMissing
from casstore.storage import delta
from casstore.storage.codec import HEADER_SIZE, MAGIC, ObjectReader, decode_bytes, encode_parts
from casstore.storage.delta import MAX_DEPTH, SPLICE_HEAD_LIMIT, make_delta, make_patch, make_splice


class FakeStore:
    """Stored forms by id, read as ObjectStore reads them (bases through ``open_base``)."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}

    def put(self, content: bytes) -> str:
        oid, parts = encode_parts(content)
        self.stored[oid] = b"".join(bytes(part) for part in parts)
        return oid

    def open_base(self, oid: str, budget: int) -> ObjectReader:
        if oid not in self.stored:
            raise ObjectMissing(oid)
        return ObjectReader(oid, io.BytesIO(self.stored[oid]), self.open_base, budget)

    def reader(self, oid: str) -> ObjectReader:
        return ObjectReader(oid, io.BytesIO(self.stored[oid]), self.open_base)

    def decode(self, oid: str, stored: bytes | None = None) -> bytes:
        return decode_bytes(oid, stored if stored is not None else self.stored[oid], None, self.open_base)

    def streamed(self, oid: str, piece: int = 1009) -> bytes:
        parts = []
        with self.reader(oid) as reader:
            while chunk := reader.read(piece):
                parts.append(chunk)
        return b"".join(parts)


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _pattern(seed: int) -> bytes:
    rng = random.Random(seed)
    steps = [{"step": i, "note": rng.randint(30, 90), "velocity": rng.randint(1, 127)} for i in range(64)]
    return json.dumps({"pattern_id": "p1", "length_steps": 64, "steps": steps}, indent=2).encode()


def _edit_steps(content: bytes, changes: int, seed: int) -> bytes:
    pattern = json.loads(content)
    rng = random.Random(seed)
    for _ in range(changes):
        pattern["steps"][rng.randrange(64)]["velocity"] = rng.randint(1, 127)
    return json.dumps(pattern, indent=2).encode()


def test_a_pattern_with_three_changed_steps_costs_a_few_dozen_bytes() -> None:
    store = FakeStore()
    base = _pattern(1)
    edited = _edit_steps(base, 3, 2)
    base_id = store.put(base)
    store.stored[_sha(edited)] = stored = make_patch(base_id, base, edited)
    whole = len(b"".join(bytes(p) for p in encode_parts(edited)[1]))
    assert len(stored) < 100 < whole / 5
    assert store.decode(_sha(edited)) == edited
    assert store.streamed(_sha(edited)) == edited


@settings(max_examples=60, deadline=None)
@given(
    base=st.binary(min_size=1, max_size=3000),
    edits=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 20), st.binary(max_size=20)), max_size=6),
)
def test_patches_round_trip_any_edit(base: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    store = FakeStore()
    content = base
    for at, cut, insert in edits:
        at = at % (len(content) + 1)
        content = content[:at] + insert + content[at + cut :]
    base_id = store.put(base)
    stored = make_patch(base_id, base, content)
    assert store.decode(_sha(content), stored) == content


def _splice_case(base: bytes, header: bytes, keep: int, tail: bytes) -> bytes:
    """A trimmed (``keep`` < len) or extended (``tail``) copy of ``base`` whose header was rewritten."""
    return header + base[len(header) : keep] + tail


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    header=st.binary(min_size=0, max_size=64),
    keep=st.floats(0.6, 1.0),
    tail=st.binary(max_size=5000),
)
def test_splices_round_trip_trims_and_extensions(seed: int, header: bytes, keep: float, tail: bytes) -> None:
    store = FakeStore()
    base = random.Random(seed).randbytes(4 * SPLICE_HEAD_LIMIT)
    content = _splice_case(base, header, int(len(base) * keep), tail)
    assume(content != base)  # an object is never a delta of itself (its stored form would replace its base)
    base_id = store.put(base)
    oid = _sha(content)
    spool = io.BytesIO()
    # At least 60% of the base is kept: the copied run is always more than half the content.
    length = make_splice(base_id, store.open_base(base_id, MAX_DEPTH), _content(content), spool)
    assert length is not None
    assert length == len(spool.getvalue()) < len(tail) + len(header) + 200
    store.stored[oid] = spool.getvalue()
    assert store.decode(oid) == content
    assert store.streamed(oid, piece=4099) == content


def _content(content: bytes) -> ObjectReader:
    oid, parts = encode_parts(content)
    return ObjectReader(oid, io.BytesIO(b"".join(bytes(p) for p in parts)))


def _chain(store: FakeStore, revisions: int) -> list[tuple[str, bytes]]:
    """Revisions of one pattern, each stored as a patch against the one before (no depth limit applied)."""
    contents = [_pattern(7)]
    for index in range(1, revisions):
        contents.append(_edit_steps(contents[-1], 2, index))
    ids = [store.put(contents[0])]
    for before, after in itertools.pairwise(contents):
        ids.append(_sha(after))
        store.stored[ids[-1]] = make_patch(_sha(before), before, after)
    return list(zip(ids, contents, strict=True))


def test_a_chain_longer_than_the_bound_is_refused_not_followed() -> None:
    store = FakeStore()
    chain = _chain(store, MAX_DEPTH + 3)
    for depth, (oid, content) in enumerate(chain):
        if depth <= MAX_DEPTH:
            assert store.decode(oid) == content
        else:
            with pytest.raises(CorruptObject, match=f"{oid}.*longer than {MAX_DEPTH}"):
                store.decode(oid)


def test_a_delta_cycle_ends_in_an_error_not_a_recursion() -> None:
    store = FakeStore()
    a, b = _pattern(1), _pattern(2)
    store.stored[_sha(a)] = make_patch(_sha(b), b, a)
    store.stored[_sha(b)] = make_patch(_sha(a), a, b)
    with pytest.raises(CorruptObject, match=_sha(a)):
        store.decode(_sha(a))


def test_a_damaged_base_is_reported_against_the_delta() -> None:
    store = FakeStore()
    base = _pattern(3)
    edited = _edit_steps(base, 3, 4)
    base_id = store.put(base)
    store.stored[_sha(edited)] = make_patch(base_id, base, edited)
    damaged = bytearray(store.stored[base_id])
    damaged[-5] ^= 0x40
    store.stored[base_id] = bytes(damaged)
    with pytest.raises(CorruptObject, match=f"object {_sha(edited)} is corrupt: its delta base {base_id}"):
        store.decode(_sha(edited))


def test_a_damaged_splice_base_fails_the_objects_own_hash() -> None:
    store = FakeStore()
    base = random.Random(5).randbytes(4 * SPLICE_HEAD_LIMIT)
    content = _splice_case(base, b"HDR!", len(base) - 1000, b"")
    base_id = store.put(base)
    spool = io.BytesIO()
    assert make_splice(base_id, store.open_base(base_id, MAX_DEPTH), _content(content), spool) is not None
    store.stored[_sha(content)] = spool.getvalue()
    damaged = bytearray(store.stored[base_id])
    damaged[len(damaged) // 2] ^= 0x01
    store.stored[base_id] = bytes(damaged)
    with pytest.raises(CorruptObject, match=_sha(content)):
        store.streamed(_sha(content))


def test_a_missing_base_or_no_store_is_a_corrupt_object_naming_both() -> None:
    store = FakeStore()
    base, edited = _pattern(8), _edit_steps(_pattern(8), 1, 9)
    stored = make_patch(_sha(base), base, edited)
    expected = f"{_sha(edited)} is corrupt: its delta base {_sha(base)} cannot be read .*missing"
    with pytest.raises(CorruptObject, match=expected):
        store.decode(_sha(edited), stored)
    with pytest.raises(CorruptObject, match=f"{_sha(edited)}.*read without its store"):
        decode_bytes(_sha(edited), stored)


def test_make_delta_keeps_only_what_pays_and_reads_back() -> None:
    store = FakeStore()
    base = _pattern(10)
    edited = _edit_steps(base, 2, 11)
    base_id, oid = store.put(base), store.put(edited)
    made = make_delta(oid, base_id, store.reader, store.open_base, (len(edited), len(base)), len(store.stored[oid]))
    assert made is not None
    stream, length = made
    with stream:
        stored = stream.read()
    assert len(stored) == length and stored[len(MAGIC) : HEADER_SIZE] == delta.CODEC_DELTA
    assert store.decode(oid, stored) == edited
    # Against an unrelated base a patch saves nothing worth a read of two objects.
    other = store.put(random.Random(12).randbytes(len(edited)))
    assert make_delta(oid, other, store.reader, store.open_base, (len(edited), len(edited)), len(stored) + 10) is None
