"""Zip bombs are refused before anything is extracted, by the limits docs/format.md states."""

from __future__ import annotations

import io
import json
import struct
import wave
import zipfile
import zlib
from pathlib import Path

import pytest
from test_fuzz import PROJECT, _sha, make_small_bundle, read_whole_zip, zip_of

from casstore.bundles.bundle_source import opened
from casstore.bundles.zip_limits import MAX_ENTRIES, MAX_RATIO, CountedRead
from casstore.errors import BundleError
from conftest import Cli, snapshot_tree

GIB = 1 << 30


def _patch_sizes(data: bytearray, name: str, file_size: int, crc: int | None = None) -> None:
    """Set the declared uncompressed size (and CRC) of ``name`` in its local and central headers."""
    encoded = name.encode()
    local = data.find(b"PK\x03\x04")
    while local >= 0:
        (name_len,) = struct.unpack_from("<H", data, local + 26)
        if data[local + 30 : local + 30 + name_len] == encoded:
            struct.pack_into("<L", data, local + 22, file_size)
            if crc is not None:
                struct.pack_into("<L", data, local + 14, crc)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        (name_len,) = struct.unpack_from("<H", data, central + 28)
        if data[central + 46 : central + 46 + name_len] == encoded:
            struct.pack_into("<L", data, central + 24, file_size)
            if crc is not None:
                struct.pack_into("<L", data, central + 16, crc)
        central = data.find(b"PK\x01\x02", central + 4)


def _bundle_zip(tmp_path: Path, demo_data: Path, extra: dict[str, bytes] | None = None) -> bytearray:
    root = make_small_bundle(tmp_path / "bundle", demo_data / "demo_bundle")
    for rel, content in (extra or {}).items():
        (root / rel).write_bytes(content)
    return bytearray(zip_of(root))


def _refused(cli: Cli, path: Path, *rule: str) -> str:
    before = snapshot_tree(cli.store)
    result = cli("import", path)
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"casstore: error: {path.name}: "), result.err
    for words in rule:
        assert words in lines[0], lines[0]
    assert snapshot_tree(cli.store) == before, "a refused bomb changed the store"
    return lines[0]


def test_an_entry_declaring_2_gib_from_a_few_bytes_is_refused_by_the_ratio_rule(
    cli: Cli, tmp_path: Path, demo_data: Path
) -> None:
    data = _bundle_zip(tmp_path, demo_data, {"assets/bomb.bin": bytes(4096)})
    _patch_sizes(data, "assets/bomb.bin", 2 * GIB)
    path = tmp_path / "ratio-bomb.zip"
    path.write_bytes(bytes(data))
    _refused(cli, path, "entry 'assets/bomb.bin'", f"over the limit of {MAX_RATIO}:1", str(2 * GIB))


def _silent_wav(path: Path, seconds: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(bytes(4 * 44100 * seconds))


def test_a_zip_of_a_long_silent_wav_still_imports(cli: Cli, tmp_path: Path, demo_data: Path) -> None:
    root = make_small_bundle(tmp_path / "bundle", demo_data / "demo_bundle")
    _silent_wav(root / "assets/silence.wav", 60)
    manifest = json.loads((root / "project_manifest.json").read_text())
    asset = dict(manifest["sampler_assets"][0], asset_name="silence.wav", relative_path="assets/silence.wav")
    manifest["sampler_assets"].append(dict(asset, sha256=_sha(root / "assets/silence.wav")))
    (root / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    path = tmp_path / "silence.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(root).as_posix())
    path.write_bytes(buffer.getvalue())
    info = zipfile.ZipFile(path).getinfo("assets/silence.wav")
    assert info.file_size / info.compress_size > 900, "deflate should squeeze silence about 1000:1"
    result = cli.ok("import", path, "--json")
    assert json.loads(result.out)["project"] == PROJECT


def test_declared_sizes_past_the_total_limit_are_refused(cli: Cli, tmp_path: Path, demo_data: Path) -> None:
    path = tmp_path / "total.zip"
    path.write_bytes(bytes(_bundle_zip(tmp_path, demo_data)))
    before = snapshot_tree(cli.store)
    result = cli("import", path, env={"CASSTORE_ZIP_MAX_BYTES": "1000"})
    assert result.code == 2, result.err
    assert "total.zip: entry " in result.err and "more than 1000 bytes in all" in result.err
    assert "CASSTORE_ZIP_MAX_BYTES" in result.err
    assert snapshot_tree(cli.store) == before
    assert cli("import", path, env={"CASSTORE_ZIP_MAX_BYTES": "lots"}).code == 2


def test_the_default_total_limit_refuses_entries_declaring_over_64_gib(tmp_path: Path, demo_data: Path) -> None:
    # Forty entries of 2 GiB each, each from 1.1 MiB of real compressed bytes (under the ratio limit).
    kernel = bytes(range(256)) * (1100 * 4)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index in range(40):
            archive.writestr(f"assets/part{index:02}.bin", kernel)
    data = bytearray(buffer.getvalue())
    for index in range(40):
        _patch_sizes(data, f"assets/part{index:02}.bin", 2 * GIB - 1)
    path = tmp_path / "many.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"more than 68719476736 bytes in all"), opened(path):
        pass


def _local(name: bytes, body: bytes, size: int, crc: int) -> bytes:
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(body), size, len(name), 0) + name + body


def _central(name: bytes, body: bytes, size: int, crc: int, offset: int) -> bytes:
    return (
        struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(body), size, len(name), 0, 0, 0, 0, 0, offset
        )
        + name
    )


def _overlapping_zip(names: list[bytes], comment: bytes = b"") -> bytes:
    """Fifield's non-recursive bomb, by hand: one compressed kernel that every entry points at."""
    content = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(content) + packer.flush()
    crc = zlib.crc32(content)
    local = _local(names[0], body, len(content), crc)
    directory = b"".join(_central(name, body, len(content), crc, 0) for name in names)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(names), len(names), len(directory), len(local), len(comment))
    return local + directory + end + comment


def test_entries_sharing_one_kernel_are_refused_by_their_compressed_sum(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "overlap.zip"
    path.write_bytes(_overlapping_zip([f"assets/{i}.bin".encode() for i in range(50)]))
    _refused(cli, path, "compressed sizes add up to more than the archive", "overlapping entries")


def test_entries_overlapping_in_a_padded_archive_are_refused(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "padded.zip"
    path.write_bytes(_overlapping_zip([b"assets/a.bin", b"assets/b.bin"], comment=b"x" * 60000))
    _refused(cli, path, "entry 'assets/b.bin'", "overlaps entry 'assets/a.bin'", "overlapping entries")


def test_more_entries_than_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "crowd.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(MAX_ENTRIES + 1):
            archive.writestr(zipfile.ZipInfo(f"f/{index}"), b"")
    with pytest.raises(BundleError, match=rf"crowd\.zip: {MAX_ENTRIES + 1} entries, more than the limit"), opened(path):
        pass


def test_an_entry_never_yields_more_than_it_declares(tmp_path: Path, demo_data: Path) -> None:
    # The stream holds 1 MiB of zeros; the headers declare 100 bytes (with the CRC of those 100).
    data = _bundle_zip(tmp_path, demo_data, {"assets/long.bin": bytes(1 << 20)})
    _patch_sizes(data, "assets/long.bin", 100, zlib.crc32(bytes(100)))
    path = tmp_path / "long.zip"
    path.write_bytes(bytes(data))
    with opened(path) as source, source.files["assets/long.bin"].open() as stream:
        assert stream.read() == bytes(100)
    assert read_whole_zip(path) > 0
    guard = CountedRead("long.zip: entry 'assets/long.bin'", 100)
    guard.count(bytes(100))
    with pytest.raises(BundleError, match="yields more than the 100 bytes it declares"):
        guard.count(b"x")
