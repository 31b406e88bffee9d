"""Audio facts from WAV and FLAC headers (rate, channels, bit depth, duration) without reading samples."""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

HEADER_LIMIT = 1 << 20  # metadata chunks before the samples rarely exceed this


def audio_facts(stream: BinaryIO) -> dict[str, Any] | None:
    """Return ``{format, sample_rate, channels, bit_depth, frames, duration_s}`` or None if unparseable."""
    head = stream.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _wav(stream)
    if head[:4] == b"fLaC":
        return _flac(head[4:] + stream.read(64))
    return None


def _wav(stream: BinaryIO) -> dict[str, Any] | None:
    fmt = None
    read = 12
    while read < HEADER_LIMIT:
        chunk = stream.read(8)
        if len(chunk) < 8:
            return None
        kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        read += 8
        if kind == b"fmt ":
            body = stream.read(size + (size & 1))
            if len(body) < 16:
                return None
            _tag, channels, rate, _byte_rate, block, bits = struct.unpack("<HHIIHH", body[:16])
            fmt = (channels, rate, block, bits)
            read += len(body)
        elif kind == b"data":
            if fmt is None or not fmt[1] or not fmt[2]:
                return None
            channels, rate, block, bits = fmt
            frames = size // block
            return _facts("wav", rate, channels, bits, frames)
        else:
            stream.seek(size + (size & 1), 1)
            read += size
    return None


def _flac(body: bytes) -> dict[str, Any] | None:
    # The first metadata block must be STREAMINFO (type 0, 34 bytes).
    if len(body) < 4 + 34 or body[0] & 0x7F != 0:
        return None
    info = body[4 : 4 + 34]
    packed = int.from_bytes(info[10:18], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    frames = packed & 0xFFFFFFFFF
    if not rate:
        return None
    return _facts("flac", rate, channels, bits, frames)


def _facts(kind: str, rate: int, channels: int, bits: int, frames: int) -> dict[str, Any]:
    return {
        "format": kind,
        "sample_rate": rate,
        "channels": channels,
        "bit_depth": bits,
        "frames": frames,
        "duration_s": round(frames / rate, 3),
    }
