"""fsck re-hashes a pack a span of neighbours at a time: every object once, each damaged one named."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import casstore.storage.pack_scan as pack_scan
from casstore.history.fsck import _rehash_task, fsck
from casstore.storage.codec import ONE_PIECE_LIMIT, encode_parts
from casstore.storage.packs import Pack
from casstore.storage.store import Store


def _pattern(rng: random.Random, index: int) -> bytes:
    steps = [{"step": s, "note": rng.choice(["C-4", "D#5", "A-3"]), "velocity": rng.randrange(128)} for s in range(64)]
    return json.dumps({"pattern_id": f"p{index}", "steps": steps[: rng.randrange(1, 64)]}).encode()


def _pack(store: Store, contents: list[bytes]) -> tuple[Pack, dict[str, bytes]]:
    """Write ``contents`` into one pack in the order given (not id order, as an import writes)."""
    writer = store.objects.new_pack()
    held = {}
    for content in contents:
        oid, parts = encode_parts(content)
        writer.add(oid, parts)
        held[oid] = content
    pack = writer.publish()
    assert pack is not None
    return pack, held


def _pack_file(store: Store, pack: Pack) -> Path:
    return store.root / pack.pack_key


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x40
    path.chmod(0o644)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spans_cover_every_object_once_in_pack_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(pack_scan, "SPAN_BYTES", 4096)  # small spans: many of them, and objects bigger than one
    rng = random.Random(seed)
    store = Store.init(tmp_path / "store")
    contents = [_pattern(rng, i) for i in range(120)] + [rng.randbytes(rng.randrange(5000, 9000)) for _ in range(3)]
    rng.shuffle(contents)
    pack, held = _pack(store, contents)
    assert list(pack.in_pack_order()) != list(range(pack.count))  # written out of id order
    found = pack_scan.spans(pack)
    records = [record for span in found for record in span.records()]
    assert [oid for oid, _o, _l in records] == [encode_parts(c)[0] for c in contents]  # pack order, each once
    for span in found:
        extent = span.records()
        start, end = extent[0][1], extent[-1][1] + extent[-1][2]
        assert end - start <= 4096 or len(span) == 1
    outcomes = [o for span in found for o in pack_scan.check_span(span, store.objects.open_base)]
    assert outcomes == [(oid, len(held[oid]), None) for oid, _o, _l in records]


def test_fsck_names_each_damaged_object_of_a_pack_and_counts_the_rest(tmp_path: Path) -> None:
    rng = random.Random(7)
    store = Store.init(tmp_path / "store")
    patterns = [_pattern(rng, i) for i in range(400)]
    big = rng.randbytes(pack_scan.SPAN_BYTES + 5000)  # stored raw, streamed on its own
    silence = bytes(ONE_PIECE_LIMIT + 1)  # a small frame declaring more than is decoded in one piece
    pack, held = _pack(store, [*patterns, big, silence])
    damaged = {}
    for content, nudge in ((patterns[123], 20), (big, pack_scan.SPAN_BYTES)):
        oid = encode_parts(content)[0]
        offset, length = pack.locate(oid) or (0, 0)
        assert nudge < length
        _flip(_pack_file(store, pack), offset + nudge)
        damaged[oid] = content
    report = fsck(Store.open(store.root))
    corrupt = {f.subject for f in report.findings if f.kind == "corrupt" and f.subject in held}
    assert corrupt == set(damaged)
    assert report.objects == len(held)
    assert report.bytes == sum(len(c) for oid, c in held.items() if oid not in damaged)


def test_a_copy_both_loose_and_packed_is_checked_in_each_place(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    content = _pattern(random.Random(3), 0)
    oid = store.objects.put_bytes(content).oid
    pack, _held = _pack(store, [content, _pattern(random.Random(4), 1)])
    assert fsck(Store.open(store.root)).ok
    offset, _length = pack.locate(oid) or (0, 0)
    _flip(_pack_file(store, pack), offset + 12)
    report = fsck(Store.open(store.root))
    # The object is named, not only the pack's digest: its loose copy reading well hid it before.
    assert sorted(f.subject for f in report.findings if f.kind == "corrupt") == [oid, f"{pack.name}.pack"]


def test_a_pack_replaced_while_it_is_checked_is_read_where_its_objects_went(tmp_path: Path) -> None:
    rng = random.Random(5)
    store = Store.init(tmp_path / "store")
    contents = [_pattern(rng, i) for i in range(50)]
    old, held = _pack(store, contents)
    (span,) = pack_scan.spans(old)
    _new, _ = _pack(store, contents[::-1])  # as a gc does: the objects land in a new pack, then the old goes
    store.backend.delete(old.pack_key)
    store.backend.delete(old.index_key)
    outcomes = _rehash_task(store, span)
    assert sorted(outcomes) == sorted((oid, len(c), None) for oid, c in held.items())
