r"""FLAC compaction of PCM WAV objects (codec ``f``): every byte but the samples verbatim, the samples in FLAC.

A stored object of codec ``f`` is the 8-byte object header, then ``_LAYOUT`` (big-endian
u64 lengths of the prefix, the PCM bytes, the FLAC stream and the suffix, then u8 channels
and u8 bytes per sample), then the prefix (everything up to the data chunk's samples:
RIFF header, ``fmt``, ``LIST``, … verbatim), the FLAC stream of the whole frames of the data
chunk, and the suffix (a partial frame, the pad byte, chunks after ``data``, trailing junk:
verbatim). The object's content is prefix + PCM + suffix; its id never changes.

soundfile (libFLAC through libsndfile, the ``audio`` extra) is imported on first use: the
write side skips compaction without it, the read side names the extra it needs.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, BinaryIO

from casstore.errors import CasstoreError
from casstore.storage import sndfile
from casstore.storage.codec import CODEC_FLAC
from casstore.storage.ids import Readable, read_exactly
from casstore.storage.sndfile import DecodeError

_LAYOUT = struct.Struct(">QQQQBB")
# The data chunk must start within this many bytes: longer prefixes are not sample files.
SCAN_LIMIT = 1 << 20
# Frames per FLAC read or write; bounds memory whatever the sample's length.
BLOCK_FRAMES = 1 << 16
# The rate is not part of the content (it is in the verbatim prefix); FLAC needs one.
_FLAC_RATE = 48000
# A compacted object spills to disk past this size, so encoding a long sample stays bounded.
SPOOL_BYTES = 16 << 20
_PCM_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class AudioExtraMissing(CasstoreError):
    """Reading a FLAC-compacted object needs soundfile (the ``audio`` extra)."""


def soundfile_or_none() -> ModuleType | None:
    """Return the soundfile module, or None when the ``audio`` extra is not installed."""
    try:
        import soundfile
    except (ImportError, OSError):  # OSError: the module is there but libsndfile is not
        return None
    module: ModuleType = soundfile
    return module


def _soundfile(oid: str) -> ModuleType:
    module = soundfile_or_none()
    if module is None:
        raise AudioExtraMissing(
            f"object {oid} is stored FLAC-compacted; reading it needs soundfile (pip install 'casstore[audio]')"
        )
    return module


@dataclass(frozen=True)
class PcmLayout:
    """Where the samples of an integer PCM WAV are: ``data_start`` and the bytes of its whole frames."""

    data_start: int
    pcm_length: int
    channels: int
    sample_bytes: int


def parse_pcm_wav(head: bytes) -> PcmLayout | None:
    """Find the samples of a RIFF/WAVE of 16- or 24-bit integer PCM, 1–8 channels, from its first bytes.

    ``head`` is the start of the content (up to :data:`SCAN_LIMIT`); the data chunk's
    length is as declared. Anything else (8/32-bit, float, RIFX, no ``fmt`` before
    ``data``) gives None.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at, fmt = 12, None
    while at + 8 <= len(head):
        chunk_id, length = head[at : at + 4], int.from_bytes(head[at + 4 : at + 8], "little")
        body = at + 8
        if chunk_id == b"fmt ":
            fmt = head[body : body + length]
        elif chunk_id == b"data":
            return _layout(fmt, body, length) if fmt is not None else None
        at = body + length + (length & 1)
    return None


def _layout(fmt: bytes, data_start: int, data_length: int) -> PcmLayout | None:
    if len(fmt) < 16:
        return None
    tag, channels, _rate, _bytes_per_second, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40 or fmt[24:26] != b"\x01\x00" or fmt[26:40] != _PCM_GUID_TAIL:
            return None
    elif tag != _WAVE_FORMAT_PCM:
        return None
    if bits not in (16, 24) or not 1 <= channels <= 8 or block_align != channels * bits // 8:
        return None
    frames = max(data_length, 0) // block_align
    if frames == 0:
        return None
    return PcmLayout(data_start, frames * block_align, channels, bits // 8)


def _to_samples(raw: bytes, sample_bytes: int, channels: int) -> Any:
    import numpy

    if sample_bytes == 2:
        return numpy.frombuffer(raw, dtype="<i2").reshape(-1, channels)
    # 24-bit: each sample becomes the top three bytes of an int32, as libsndfile expects.
    wide = numpy.zeros((len(raw) // 3, 4), dtype=numpy.uint8)
    wide[:, 1:] = numpy.frombuffer(raw, dtype=numpy.uint8).reshape(-1, 3)
    return wide.view("<i4").reshape(-1, channels)


def _from_samples(samples: Any, sample_bytes: int) -> bytes:
    import numpy

    if sample_bytes == 2:
        return bytes(numpy.ascontiguousarray(samples, dtype="<i2").tobytes())
    wide = numpy.ascontiguousarray(samples, dtype="<i4").view(numpy.uint8).reshape(-1, 4)
    return bytes(wide[:, 1:].tobytes())


def encode_flac(content: Readable, layout: PcmLayout, spool_bytes: int = SPOOL_BYTES) -> tuple[BinaryIO, int]:
    """Encode ``content`` (a PCM WAV read from its start) as a codec-``f`` object, reading it to its end.

    Returns a temporary file holding the whole stored form (header included), rewound, and
    its length; memory stays bounded by one block and ``spool_bytes`` per temporary file
    (past that they spill to disk), whatever the sample's length. A data
    chunk that claims more than the content holds keeps what there is.
    """
    from casstore.storage.codec import header

    soundfile = _soundfile("(being compacted)")
    prefix = read_exactly(content, layout.data_start)
    frame_bytes = layout.channels * layout.sample_bytes
    subtype = "PCM_16" if layout.sample_bytes == 2 else "PCM_24"
    out = tempfile.SpooledTemporaryFile(spool_bytes)  # noqa: SIM115 -- handed to the caller, who closes it
    try:
        with tempfile.SpooledTemporaryFile(spool_bytes) as flac, tempfile.SpooledTemporaryFile(spool_bytes) as suffix:
            pcm_length = 0
            with soundfile.SoundFile(flac, "w", _FLAC_RATE, layout.channels, subtype, format="FLAC") as sink:
                while pcm_length < layout.pcm_length:
                    raw = read_exactly(content, min(layout.pcm_length - pcm_length, BLOCK_FRAMES * frame_bytes))
                    whole = len(raw) - len(raw) % frame_bytes
                    if whole:
                        sink.write(_to_samples(raw[:whole], layout.sample_bytes, layout.channels))
                        pcm_length += whole
                    if whole < len(raw) or not raw:
                        suffix.write(raw[whole:])  # the content ended inside its data chunk
                        break
            flac_length = flac.seek(0, 2)
            flac.seek(0)
            while chunk := content.read(1 << 20):
                suffix.write(chunk)
            suffix_length = suffix.tell()
            suffix.seek(0)
            out.write(header(CODEC_FLAC))
            sizes = (len(prefix), pcm_length, flac_length, suffix_length, layout.channels, layout.sample_bytes)
            out.write(_LAYOUT.pack(*sizes))
            out.write(prefix)
            _copy(flac, out, flac_length)
            _copy(suffix, out, suffix_length)
    except BaseException:
        out.close()
        raise
    length = out.tell()
    out.seek(0)
    return out, length  # type: ignore[return-value]


def _copy(source: Any, out: Any, n: int) -> int:
    copied = 0
    while copied < n:
        chunk = source.read(min(n - copied, 1 << 20))
        if not chunk:
            break
        out.write(chunk)
        copied += len(chunk)
    return copied


class _Window:
    """A seekable view of ``length`` bytes from the current position of ``stream`` (for libsndfile)."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream = stream
        self._start = stream.tell()
        self._length = length
        self._at = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._at, self._length)[whence]
        self._at = max(0, min(self._length, base + offset))
        return self._at

    def tell(self) -> int:
        return self._at

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self._length - self._at:
            n = self._length - self._at
        self._stream.seek(self._start + self._at)
        chunk = self._stream.read(n)
        self._at += len(chunk)
        return chunk

    def end(self) -> None:
        """Leave the underlying stream just past the window."""
        self._stream.seek(self._start + self._length)


class _SoundfileDecoder:
    """The same interface as :class:`sndfile.FlacDecoder` through soundfile and numpy (where cffi cannot load)."""

    def __init__(self, oid: str, stored: BinaryIO, length: int, channels: int, sample_bytes: int) -> None:
        self._soundfile = _soundfile(oid)
        self._window = _Window(stored, length)
        self._sample_bytes = sample_bytes
        try:
            self._file = self._soundfile.SoundFile(self._window)
        except self._soundfile.SoundFileError as exc:
            raise DecodeError(str(exc)) from None
        if self._file.channels != channels:
            self._file.close()
            raise DecodeError(f"the stream has {self._file.channels} channels, the layout {channels}")

    def read(self, frames: int) -> bytes:
        """Decode up to ``frames`` frames to PCM bytes."""
        try:
            block = self._file.read(frames, dtype="int16" if self._sample_bytes == 2 else "int32")
        except self._soundfile.SoundFileError as exc:
            raise DecodeError(str(exc)) from None
        return _from_samples(block, self._sample_bytes) if len(block) else b""

    def end(self) -> None:
        """Leave the underlying stream just past the FLAC stream."""
        self._window.end()

    def close(self) -> None:
        """Release the decoder."""
        self._file.close()


class FlacSource:
    """Yields the content of a codec-``f`` object in bounded pieces (the object header already read)."""

    def __init__(self, oid: str, stored: BinaryIO, error: Callable[[str], Exception]) -> None:
        self._oid = oid
        self._stored = stored
        self._error = error
        raw = stored.read(_LAYOUT.size)
        if len(raw) != _LAYOUT.size:
            raise error("compacted object is truncated")
        prefix, self._pcm, self._flac, self._suffix, self._channels, self._sample_bytes = _LAYOUT.unpack(raw)
        if prefix > SCAN_LIMIT or self._sample_bytes not in (2, 3) or not 1 <= self._channels <= 8:
            raise error("compacted object has an impossible layout")
        self._pending = read_exactly(stored, prefix)
        if len(self._pending) != prefix:
            raise error("compacted object is truncated")
        self._stage = 0  # 0: FLAC samples next, 1: suffix, 2: done
        self._decoder: Any = None
        self._pcm_left = self._pcm

    def read(self, n: int) -> bytes:
        """Return up to ``n`` bytes of content; b"" at its end."""
        while not self._pending and self._stage < 2:
            self._pending = self._samples() if self._stage == 0 else self._suffix_piece(n)
        piece, self._pending = self._pending[:n], self._pending[n:]
        return piece

    def _samples(self) -> bytes:
        if self._decoder is None:
            self._decoder = self._open_decoder()
        if self._pcm_left <= 0:
            self._decoder.end()
            self._decoder.close()
            self._stage = 1
            return b""
        frames = min(BLOCK_FRAMES, self._pcm_left // (self._channels * self._sample_bytes))
        try:
            raw: bytes = self._decoder.read(frames)
        except (DecodeError, RuntimeError) as exc:
            raise self._error(f"cannot decode its FLAC stream: {exc}") from None
        if not raw:
            raise self._error("its FLAC stream ends early")
        raw = raw[: self._pcm_left]
        self._pcm_left -= len(raw)
        return raw

    def _open_decoder(self) -> Any:
        lib = sndfile.library()
        frames = self._pcm // (self._channels * self._sample_bytes)
        try:
            if lib is not None:
                shape = (self._channels, self._sample_bytes)
                held = sndfile.HeldDecoder.open(lib, self._stored, self._flac, frames, *shape)
                return held or sndfile.FlacDecoder(lib, self._stored, self._flac, *shape)
            return _SoundfileDecoder(self._oid, self._stored, self._flac, self._channels, self._sample_bytes)
        except (DecodeError, RuntimeError) as exc:
            raise self._error(f"cannot decode its FLAC stream: {exc}") from None

    def _suffix_piece(self, n: int) -> bytes:
        if self._suffix <= 0:
            self._stage = 2
            return b""
        chunk = self._stored.read(min(self._suffix, max(n, 1 << 16)))
        if not chunk:
            raise self._error("compacted object is truncated")
        self._suffix -= len(chunk)
        return chunk

    def close(self) -> None:
        """Release the decoder."""
        if self._decoder is not None:
            self._decoder.close()


def decode_stored_into(stored: bytes, out: memoryview, error: Callable[[str], Exception]) -> int | None:
    """Decode a whole codec-``f`` object held in memory (header included) into ``out``; return the content's length.

    The samples go straight into ``out`` (:class:`sndfile.HeldDecoder`: no Python in the
    decoding loop, no copies of 16-bit PCM); None when that path is not available here or
    ``out`` is too small, and the caller reads the object through :class:`FlacSource`.
    Unverified: the caller hashes what lands in ``out``.
    """
    from casstore.storage.codec import HEADER_SIZE

    lib = sndfile.library()
    body = HEADER_SIZE + _LAYOUT.size
    if lib is None or len(stored) < body:
        return None
    prefix, pcm, flac, suffix, channels, sample_bytes = _LAYOUT.unpack_from(stored, HEADER_SIZE)
    frame_bytes = channels * sample_bytes
    if (
        prefix > SCAN_LIMIT
        or sample_bytes not in (2, 3)
        or not 1 <= channels <= 8
        or pcm % frame_bytes
        or body + prefix + flac + suffix != len(stored)
        or prefix + pcm + suffix > len(out)
    ):
        return None  # the streaming reader names what is wrong
    view = memoryview(stored)
    out[:prefix] = view[body : body + prefix]
    start = body + prefix
    frames = pcm // frame_bytes
    decoder = sndfile.HeldDecoder.open(lib, view[start : start + flac], flac, frames, channels, sample_bytes)
    if decoder is None:
        return None
    try:
        decoder.read_into(out[prefix : prefix + pcm], frames)
    except DecodeError as exc:
        raise error(f"cannot decode its FLAC stream: {exc}") from None
    finally:
        decoder.close()
    end = prefix + pcm
    out[end : end + suffix] = view[start + flac :]
    return int(end + suffix)
