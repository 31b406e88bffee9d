"""Object encoding: an 8-byte header naming the codec, then raw bytes, a zstd frame, FLAC (flac.py) or a delta."""

from __future__ import annotations

import hashlib
import io
import threading
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:  # imported lazily at run time: CLI start-up must not pay for zstandard
    import zstandard

    from casstore.storage.flac import FlacSource

from casstore.errors import CorruptObject
from casstore.storage.delta import CODEC_DELTA, MAX_DEPTH, DeltaSource, OpenBase
from casstore.storage.ids import CHUNK_SIZE

MAGIC = b"casobj\x01"
CODEC_RAW = b"r"
CODEC_ZSTD = b"z"
CODEC_FLAC = b"f"  # flac.py: loaded when an object of it is read (start-up does not pay for it)
HEADER_SIZE = len(MAGIC) + 1
ZSTD_LEVEL = 3
# Objects this big are samples: level 1 stores them within ~2% of level 3's size at about
# 4x the speed (bench/README.md), and their import time is what musicians wait for.
LARGE_OBJECT = 256 << 10
LARGE_LEVEL = 1
PROBE_BYTES = 128 << 10
# Store raw unless zstd saves at least this share: PCM audio often saves ~5-10%,
# which is not worth paying on every read.
MIN_SAVING = 0.10


def _zstd() -> ModuleType:
    """Return the zstandard module, imported on first use to keep CLI start-up fast."""
    import zstandard

    return zstandard


def header(codec: bytes) -> bytes:
    """Return the header for ``codec``."""
    return MAGIC + codec


_local = threading.local()


def _level_for(size: int) -> int:
    """Return the zstd level for an object of ``size`` bytes (samples get the fast one)."""
    return LARGE_LEVEL if size >= LARGE_OBJECT else ZSTD_LEVEL


def _saves_enough(compressed: bytes, original: bytes | memoryview) -> bool:
    """Tell whether keeping ``compressed`` instead of ``original`` saves :data:`MIN_SAVING`."""
    return len(original) >= 64 and len(compressed) <= len(original) * (1 - MIN_SAVING)


def _compressor(level: int) -> zstandard.ZstdCompressor:
    # One compressor per thread and level: contexts are reusable but not thread-safe.
    cache: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("compressors", {})
    if level not in cache:
        cache[level] = _zstd().ZstdCompressor(level=level)
    return cache[level]


def encode_parts(content: bytes | memoryview) -> tuple[str, tuple[bytes | memoryview, ...]]:
    """Encode a whole object held in memory; return ``(sha256 id, stored bytes as parts)``.

    The whole content is compressed once and kept compressed only if that saves
    :data:`MIN_SAVING` (no probe needed: the real result decides). The parts are
    the header and the payload, written one after the other without joining them
    (at 2 MB a sample, every copy shows up in the profile).
    """
    oid = hashlib.sha256(content).hexdigest()
    if len(content) >= 64:
        compressed = _compressor(_level_for(len(content))).compress(content)
        if _saves_enough(compressed, content):
            return oid, (header(CODEC_ZSTD), compressed)
    return oid, (header(CODEC_RAW), content)


def encode_stream(source: BinaryIO, out: BinaryIO, size_hint: int | None) -> tuple[str, int]:
    """Copy ``source`` into ``out`` as a loose object; return ``(sha256 id, size)``.

    Memory stays bounded by one chunk whatever the size of ``source``.
    """
    digest = hashlib.sha256()
    first = source.read(CHUNK_SIZE)
    digest.update(first)
    size = len(first)
    level = _level_for(size_hint or len(first))
    probe = first[:PROBE_BYTES]
    compress = _saves_enough(_compressor(level).compress(probe), probe)
    out.write(header(CODEC_ZSTD if compress else CODEC_RAW))
    if compress:
        kwargs = {"size": size_hint} if size_hint is not None else {}
        compressor = _compressor(level).compressobj(**kwargs)
        out.write(compressor.compress(first))
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            out.write(compressor.compress(chunk))
        out.write(compressor.flush())
    else:
        out.write(first)
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def _decompressor() -> zstandard.ZstdDecompressor:
    """Return this thread's decompressor (contexts are reusable but not thread-safe)."""
    if not hasattr(_local, "decompressor"):
        _local.decompressor = _zstd().ZstdDecompressor()
    decompressor: zstandard.ZstdDecompressor = _local.decompressor
    return decompressor


def decode_bytes(oid: str, stored: bytes, size: int | None = None, open_base: OpenBase | None = None) -> bytes:
    """Decode a whole stored object held in memory and verify it hashes to ``oid``.

    With ``size`` (from the tree entry) a frame that declares exactly that size is
    decoded in one call; anything else goes through the streaming decoder, so a
    damaged header cannot make casstore allocate what it claims. A delta reads its
    base through ``open_base``.
    """
    if len(stored) < HEADER_SIZE or stored[: len(MAGIC)] != MAGIC:
        raise CorruptObject(oid, "bad object header")
    codec = stored[len(MAGIC) : HEADER_SIZE]
    body = memoryview(stored)[HEADER_SIZE:]
    if codec == CODEC_RAW:
        content = bytes(body)
    elif codec in (CODEC_FLAC, CODEC_DELTA):
        with ObjectReader(oid, io.BytesIO(stored), open_base) as reader:
            return reader.read_all()  # verified by the reader
    elif codec == CODEC_ZSTD:
        zstd = _zstd()
        try:
            if size is not None and zstd.frame_content_size(body) == size:
                content = _decompressor().decompress(body)
            else:
                content = zstd.ZstdDecompressor().decompressobj().decompress(body)
        except _zstd().ZstdError as exc:
            raise CorruptObject(oid, f"cannot decode: {exc}") from None
    else:
        raise CorruptObject(oid, f"unknown codec {bytes(codec)!r}")
    actual = hashlib.sha256(content).hexdigest()
    if actual != oid:
        raise CorruptObject(oid, f"content hashes to {actual}")
    return content


# fsck decodes a zstd object that declares at most this much in one call; bigger ones stream.
ONE_PIECE_LIMIT = 4 << 20


def verify_stored(oid: str, stored: bytes | memoryview, open_base: OpenBase | None = None) -> int:
    """Decode a stored object held in memory, verify it hashes to ``oid`` and return its content's length.

    A zstd frame declaring up to :data:`ONE_PIECE_LIMIT` bytes is decoded in one call on this
    thread's decoder: fsck re-hashes 100,000 patterns, and a fresh decoder for each cost more
    than its decoding. Anything else streams, so a frame claiming gigabytes costs no memory.
    """
    view = memoryview(stored)
    if view[:HEADER_SIZE] == header(CODEC_ZSTD):
        body = view[HEADER_SIZE:]
        zstd = _zstd()
        try:
            declared = zstd.frame_content_size(body)
            content = _decompressor().decompress(body) if 0 <= declared <= ONE_PIECE_LIMIT else None
        except zstd.ZstdError as exc:
            raise CorruptObject(oid, f"cannot decode: {exc}") from None
        if content is not None:
            return _verified_length(oid, memoryview(content))
    with ObjectReader(oid, io.BytesIO(view), open_base) as reader:
        return reader.read_to_end()


def decode_into(oid: str, stored: bytes, size: int, out: memoryview, open_base: OpenBase | None = None) -> int:
    """Decode a whole stored object into ``out``, verify it hashes to ``oid`` and return its length.

    A zstd frame that declares ``size`` (the tree entry's) is decompressed straight into
    ``out``: no bytes object of the content is made, whose fresh pages showed in a restore's
    profile. A FLAC-compacted sample is decoded straight into ``out`` too (flac.py). Anything
    else is decoded by :func:`decode_bytes` and copied.
    """
    body = memoryview(stored)[HEADER_SIZE:]
    if stored[:HEADER_SIZE] == header(CODEC_ZSTD) and size < len(out):
        zstd = _zstd()
        try:
            declared = zstd.frame_content_size(body)
            if declared == size:
                reader = _decompressor().stream_reader(body)
                filled = 0
                while filled < size and (got := reader.readinto(out[filled:size])):
                    filled += got
                if filled == size and not reader.read(1):
                    return _verified_length(oid, out[:size])
        except zstd.ZstdError as exc:
            raise CorruptObject(oid, f"cannot decode: {exc}") from None
    if stored[:HEADER_SIZE] == header(CODEC_FLAC):
        from casstore.storage.flac import decode_stored_into

        length = decode_stored_into(stored, out, lambda problem: CorruptObject(oid, problem))
        if length is not None:
            return _verified_length(oid, out[:length])
    content = decode_bytes(oid, stored, size, open_base)
    if len(content) > len(out):
        raise CorruptObject(oid, f"holds {len(content)} bytes, not the {size} its tree entry says")
    out[: len(content)] = content
    return len(content)


def _verified_length(oid: str, content: memoryview) -> int:
    """Return the length of ``content`` if it hashes to ``oid``; raise :class:`CorruptObject` if not."""
    actual = hashlib.sha256(content).hexdigest()
    if actual != oid:
        raise CorruptObject(oid, f"content hashes to {actual}")
    return len(content)


class ObjectReader:
    """Stream an object's content from its stored form, verifying its id at the end.

    Reading to EOF raises :class:`CorruptObject` when the bytes do not hash to
    the id, so no caller can consume rotten bytes without being told. A delta reads its
    base through ``open_base``, with ``budget`` more levels of chain allowed.
    """

    def __init__(self, oid: str, stored: BinaryIO, open_base: OpenBase | None = None, budget: int = MAX_DEPTH) -> None:
        self.oid = oid
        self._stored = stored
        self._digest = hashlib.sha256()
        self.size = 0
        self._done = False
        head = stored.read(HEADER_SIZE)
        if len(head) != HEADER_SIZE or head[: len(MAGIC)] != MAGIC:
            stored.close()
            raise CorruptObject(oid, "bad object header")
        codec = head[len(MAGIC) :]
        if codec == CODEC_RAW:
            self._source: BinaryIO | FlacSource | DeltaSource = stored
        elif codec == CODEC_ZSTD:
            self._source = _zstd().ZstdDecompressor().stream_reader(stored, closefd=False)
        elif codec == CODEC_FLAC:
            from casstore.storage.flac import FlacSource

            try:
                self._source = FlacSource(oid, stored, lambda problem: CorruptObject(oid, problem))
            except BaseException:
                stored.close()
                raise
        elif codec == CODEC_DELTA:
            try:
                self._source = DeltaSource(stored, open_base, budget, lambda problem: CorruptObject(oid, problem))
            except BaseException:
                stored.close()
                raise
        else:
            stored.close()
            raise CorruptObject(oid, f"unknown codec {codec!r}")

    def read(self, n: int = CHUNK_SIZE) -> bytes:
        """Read up to ``n`` bytes of content; verify the id at EOF."""
        if self._done:
            return b""
        try:
            chunk = self._source.read(n)
        except _zstd().ZstdError as exc:
            raise CorruptObject(self.oid, f"cannot decode: {exc}") from None
        if chunk:
            self._digest.update(chunk)
            self.size += len(chunk)
            return chunk
        self._done = True
        actual = self._digest.hexdigest()
        if actual != self.oid:
            raise CorruptObject(self.oid, f"content hashes to {actual}")
        return b""

    def read_to_end(self) -> int:
        """Read the rest of the content without keeping it, so its id is verified; return the content's length."""
        while self.read():
            pass
        return self.size

    def read_all(self) -> bytes:
        """Read the whole content (for small objects: trees and commits)."""
        parts = []
        while chunk := self.read():
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Close the underlying file."""
        if self._source is not self._stored and hasattr(self._source, "close"):
            self._source.close()  # a FLAC or delta source (zstd's reader does not own the file: closefd=False)
        self._stored.close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
