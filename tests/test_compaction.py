"""FLAC compaction: PCM WAV samples shrink in gc/repack/import --compact and always read back byte for byte."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casstore.errors import CorruptObject
from casstore.history.gc import gc
from casstore.storage import flac, flac_compact, sndfile
from casstore.storage.codec import MAGIC, ObjectReader, decode_bytes, decode_into, encode_parts
from casstore.storage.flac import CODEC_FLAC
from casstore.storage.flac_compact import compact
from casstore.storage.store import Store
from conftest import Cli, dirs_equal

PCM_GUID = b"\x01\x00" + bytes.fromhex("000000001000800000aa00389b71")
FLOAT_GUID = b"\x03\x00" + bytes.fromhex("000000001000800000aa00389b71")


def _samples(frames: int, channels: int, bits: int, seed: int = 1) -> bytes:
    """A tone with a little noise: what a real sample compresses like (FLAC pays, zstd barely)."""
    rng = np.random.default_rng(seed)
    tone = np.sin(np.arange(frames) * 0.03) * (2 ** (bits - 2))
    data = (tone[:, None] + rng.normal(0, 40, (frames, channels))).astype(np.int64)
    if bits == 8:
        return (data + 128).clip(0, 255).astype(np.uint8).tobytes()
    width = bits // 8
    wide = data.astype("<i8").view(np.uint8).reshape(-1, 8)
    return wide[:, :width].tobytes()


def _chunk(name: bytes, body: bytes) -> bytes:
    return name + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def make_wav(
    frames: int = 20000,
    channels: int = 2,
    bits: int = 16,
    *,
    extensible: bool = False,
    guid: bytes = PCM_GUID,
    tag: int = 1,
    before: bytes = b"",
    after: bytes = b"",
    trailing: bytes = b"",
    partial: bytes = b"",
) -> bytes:
    """Build a RIFF/WAVE: ``before``/``after`` chunks around ``data``, ``partial`` frame bytes, ``trailing`` junk."""
    align = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, 44100, 44100 * align, align, bits, 22, bits, 3) + guid
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, 44100, 44100 * align, align, bits)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + before + _chunk(b"data", _samples(frames, channels, bits) + partial) + after
    return b"RIFF" + struct.pack("<I", len(body)) + body + trailing


def _stored(content: bytes) -> bytes:
    _oid, parts = encode_parts(content)
    return b"".join(bytes(part) for part in parts)


def _compacted(content: bytes) -> tuple[str, bytes] | None:
    oid, _ = encode_parts(content)
    stored = _stored(content)
    result = compact(lambda _oid: io.BytesIO(stored), oid, len(stored))
    if result is None:
        return None
    with result.stored:
        return oid, result.stored.read()


ODD_WAVS = {
    "16-bit stereo": make_wav(),
    "24-bit mono": make_wav(channels=1, bits=24),
    "8 channels": make_wav(frames=6000, channels=8),
    "extensible 24-bit": make_wav(channels=3, bits=24, extensible=True),
    "odd-sized chunk with pad byte before data": make_wav(before=_chunk(b"junk", b"abc")),
    "data chunk not last": make_wav(after=_chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00test\x00")),
    "trailing junk after data": make_wav(trailing=b"\x00\x01garbage that is no chunk"),
    "partial frame and pad byte": make_wav(partial=b"\x07"),
}


@pytest.mark.parametrize("name", sorted(ODD_WAVS))
def test_pcm_wavs_are_compacted_and_read_back_byte_for_byte(name: str) -> None:
    content = ODD_WAVS[name]
    done = _compacted(content)
    assert done is not None, f"{name} was not compacted"
    oid, stored = done
    assert stored[len(MAGIC) : len(MAGIC) + 1] == CODEC_FLAC
    assert len(stored) < 0.9 * len(_stored(content))
    assert decode_bytes(oid, stored) == content
    # Streaming in small pieces (what export does) gives the same bytes.
    with ObjectReader(oid, io.BytesIO(stored)) as reader:
        pieces = []
        while piece := reader.read(4099):
            pieces.append(piece)
    assert b"".join(pieces) == content


LEFT_AS_THEY_ARE = {
    "8-bit": make_wav(bits=8),
    "32-bit integer": make_wav(bits=32),
    "32-bit float": make_wav(bits=32, tag=3),
    "extensible float": make_wav(bits=32, extensible=True, guid=FLOAT_GUID),
    "RIFX (big-endian)": b"RIFX" + make_wav()[4:],
    "no data chunk": b"RIFF\x00\x00\x00\x00WAVE" + make_wav()[12:36] + _chunk(b"LIST", bytes(8000)),
    "FLAC file": b"fLaC" + bytes(range(256)) * 40,
}


@pytest.mark.parametrize("name", sorted(LEFT_AS_THEY_ARE))
def test_other_content_stays_zstd_or_raw(name: str) -> None:
    assert _compacted(LEFT_AS_THEY_ARE[name]) is None


def test_flac_that_does_not_pay_is_not_used() -> None:
    noise = np.random.default_rng(3).integers(-32768, 32767, 40000, dtype=np.int16).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 44100, 88200, 2, 16)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"data", noise)
    assert _compacted(b"RIFF" + struct.pack("<I", len(body)) + body) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.integers(1, 5000),
    channels=st.integers(1, 8),
    bits=st.sampled_from([16, 24]),
    extensible=st.booleans(),
    before=st.binary(max_size=9),
    after=st.binary(max_size=9),
    trailing=st.binary(max_size=7),
    partial=st.integers(0, 5),
)
def test_generated_wavs_round_trip(
    frames: int,
    channels: int,
    bits: int,
    extensible: bool,
    before: bytes,
    after: bytes,
    trailing: bytes,
    partial: int,
) -> None:
    content = make_wav(
        frames,
        channels,
        bits,
        extensible=extensible,
        before=_chunk(b"junk", before) if before else b"",
        after=_chunk(b"afte", after) if after else b"",
        trailing=trailing,
        partial=b"\x55" * (partial % (channels * bits // 8)),
    )
    oid, _ = encode_parts(content)
    # The size rule aside (a short WAV may not pay), the FLAC form itself must reconstruct the object.
    layout = flac.parse_pcm_wav(content)
    assert layout is not None
    encoded, _length = flac.encode_flac(io.BytesIO(content), layout)
    with encoded:
        assert decode_bytes(oid, encoded.read()) == content
    done = _compacted(content)
    assert done is None or decode_bytes(done[0], done[1]) == content
    if done is not None:
        assert _decoded_into(*done, len(content)) == content


def _decoded_into(oid: str, stored: bytes, size: int, room: int = 1) -> bytes:
    """What export's small-file path writes: the object decoded into a buffer of ``size + room`` bytes."""
    out = bytearray(size + room)
    with memoryview(out) as view:
        length = decode_into(oid, stored, size, view)
    return bytes(out[:length])


@pytest.mark.parametrize("name", sorted(ODD_WAVS))
def test_export_decodes_compacted_samples_straight_into_its_buffer(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Export's small files decode into a reused buffer without the streaming reader, whose
    # libsndfile callbacks made the decoding threads queue on the GIL (issue 17, must-show 3).
    done = _compacted(ODD_WAVS[name])
    assert done is not None
    oid, stored = done
    monkeypatch.setattr(flac, "FlacSource", None)  # any fall-back to the streaming reader fails loudly
    assert _decoded_into(oid, stored, len(ODD_WAVS[name])) == ODD_WAVS[name]


def test_decoding_into_a_buffer_falls_back_where_memfd_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    done = _compacted(ODD_WAVS["24-bit mono"])
    assert done is not None
    monkeypatch.delattr(sndfile.os, "memfd_create")
    assert _decoded_into(*done, len(ODD_WAVS["24-bit mono"])) == ODD_WAVS["24-bit mono"]


def test_decoding_into_a_buffer_checks_the_stream_and_the_room() -> None:
    content = make_wav()
    done = _compacted(content)
    assert done is not None
    oid, stored = done
    damaged = bytearray(stored)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(CorruptObject, match=oid):
        _decoded_into(oid, bytes(damaged), len(content))
    with pytest.raises(CorruptObject, match="not the 100 its tree entry says"):
        _decoded_into(oid, stored, 100)


def test_damaged_flac_stream_is_reported_as_corrupt() -> None:
    done = _compacted(make_wav())
    assert done is not None
    oid, stored = done
    damaged = bytearray(stored)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(CorruptObject, match=oid):
        decode_bytes(oid, bytes(damaged))


def test_a_reconstruction_that_differs_is_never_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    real = flac._to_samples

    def off_by_one(raw: bytes, sample_bytes: int, channels: int) -> object:
        samples = real(raw, sample_bytes, channels).copy()
        samples[0, 0] += 1
        return samples

    monkeypatch.setattr(flac, "_to_samples", off_by_one)
    assert _compacted(make_wav()) is None


@pytest.fixture()
def sample_bundle(demo_data: Path, tmp_path: Path) -> Path:
    """The demo bundle plus odd WAVs as unlisted files (kept as plain files by import)."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for item in (demo_data / "demo_bundle").rglob("*"):
        target = bundle / item.relative_to(demo_data / "demo_bundle")
        if item.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.write_bytes(item.read_bytes())
    for index, content in enumerate(ODD_WAVS.values()):
        (bundle / f"odd_{index}.wav").write_bytes(content)
    # A sample bigger than an import pack takes in memory: it streams to a loose file.
    (bundle / "long.wav").write_bytes(make_wav(frames=1_300_000))
    return bundle


def _codecs(store: Store) -> dict[str, bytes]:
    found = {}
    for oid in store.objects.iter_ids():
        stored = store.objects.open_stored(oid)
        try:
            found[oid] = stored.read(len(MAGIC) + 1)[len(MAGIC) :]
        finally:
            stored.close()
    return found


def test_gc_compacts_and_export_is_byte_for_byte(cli: Cli, sample_bundle: Path, tmp_path: Path) -> None:
    cli.ok("import", sample_bundle, "--project", "demo-project")
    before = sum(f.stat().st_size for f in cli.store.rglob("*") if f.is_file())
    report = json.loads(cli.ok("gc", "--grace", "0s", "--json").out)
    after = sum(f.stat().st_size for f in cli.store.rglob("*") if f.is_file())
    assert report["compacted"]["objects"] >= len(ODD_WAVS) + 1
    assert after < before - report["compacted"]["bytes_saved"] * 0.9
    assert list(cli.store.glob("objects/*/*")) == []
    cli.ok("export", "demo-project", tmp_path / "out")
    assert dirs_equal(tmp_path / "out", sample_bundle)
    assert "fsck: OK" in cli.ok("fsck").out
    # A second gc and a repack find nothing more to compact, and change no object id.
    ids = set(_codecs(Store.open(cli.store)))
    again = json.loads(cli.ok("repack", "--grace", "0s", "--json").out)
    assert again["compacted"]["objects"] == 0
    assert set(_codecs(Store.open(cli.store))) == ids


def test_gc_no_compact_then_repack(cli: Cli, sample_bundle: Path, tmp_path: Path) -> None:
    cli.ok("import", sample_bundle, "--project", "demo-project")
    plain = json.loads(cli.ok("gc", "--grace", "0s", "--no-compact", "--json").out)
    assert plain["compacted"]["objects"] == 0
    assert CODEC_FLAC not in _codecs(Store.open(cli.store)).values()
    # gc alone leaves a single up-to-date pack alone; repack rewrites it, compacting.
    assert json.loads(cli.ok("gc", "--grace", "0s", "--json").out)["pack"] is None
    repacked = cli.ok("repack", "--grace", "0s")
    assert "PCM WAV samples with FLAC" in repacked.out
    assert CODEC_FLAC in _codecs(Store.open(cli.store)).values()
    cli.ok("export", "demo-project", tmp_path / "out")
    assert dirs_equal(tmp_path / "out", sample_bundle)


def test_import_compact_stores_flac_at_once(cli: Cli, sample_bundle: Path, tmp_path: Path) -> None:
    cli.ok("import", sample_bundle, "--project", "demo-project", "--compact")
    codecs = _codecs(Store.open(cli.store))
    assert sum(codec == CODEC_FLAC for codec in codecs.values()) >= len(ODD_WAVS) + 1
    assert list(cli.store.glob("objects/*/*")) == []  # the long sample went into the pack too
    cli.ok("export", "demo-project", tmp_path / "out")
    assert dirs_equal(tmp_path / "out", sample_bundle)


def test_without_soundfile_gc_skips_compaction_with_a_notice(
    cli: Cli, sample_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("import", sample_bundle, "--project", "demo-project")
    monkeypatch.setattr(flac_compact, "soundfile_or_none", lambda: None)
    report = gc(Store.open(cli.store), timedelta(0))
    assert report.compacted == 0 and report.pack is not None
    assert report.compaction_skipped == "soundfile (the audio extra) is not installed"
    assert CODEC_FLAC not in _codecs(Store.open(cli.store)).values()


@pytest.mark.parametrize("name", ["16-bit stereo", "24-bit mono", "extensible 24-bit", "partial frame and pad byte"])
def test_both_decoders_read_the_same_bytes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Restores decode through cffi without numpy; where that binding cannot load, soundfile does it.
    done = _compacted(ODD_WAVS[name])
    assert done is not None
    oid, stored = done
    assert sndfile.library() is not None, "the lean binding must load where soundfile is installed"
    assert decode_bytes(oid, stored) == ODD_WAVS[name]  # from an in-memory file (HeldDecoder)
    monkeypatch.setattr(sndfile, "HELD_LIMIT", 0)
    assert decode_bytes(oid, stored) == ODD_WAVS[name]  # through virtual I/O callbacks (FlacDecoder)
    monkeypatch.setattr(sndfile, "library", lambda: None)
    assert decode_bytes(oid, stored) == ODD_WAVS[name]


@pytest.mark.parametrize("held_limit", [0, sndfile.HELD_LIMIT])
def test_a_damaged_stream_is_reported_by_every_streaming_decoder(
    held_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sndfile, "HELD_LIMIT", held_limit)
    done = _compacted(make_wav(frames=60000))
    assert done is not None
    oid, stored = done
    for at in (len(stored) // 3, len(stored) - 200):
        damaged = bytearray(stored)
        damaged[at] ^= 0x5A
        with pytest.raises(CorruptObject, match=oid), ObjectReader(oid, io.BytesIO(bytes(damaged))) as reader:
            while reader.read(4099):
                pass


def test_restoring_a_compacted_sample_does_not_import_numpy(tmp_path: Path) -> None:
    # numpy and soundfile cost ~0.13 s of CPU per command: more than decoding a project's samples.
    done = _compacted(make_wav(frames=50000, bits=24))
    assert done is not None
    oid, stored = done
    (tmp_path / "stored").write_bytes(stored)
    script = (
        "import sys\n"
        "from casstore.storage.codec import decode_bytes\n"
        f"content = decode_bytes({oid!r}, open(sys.argv[1], 'rb').read())\n"
        "print(len(content), 'numpy' in sys.modules, 'soundfile' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "stored")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(make_wav(frames=50000, bits=24))), "False", "False"]
