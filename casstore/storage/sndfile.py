"""A lean libsndfile binding for decoding FLAC streams: cffi straight to ``sf_readf_*``, no numpy.

soundfile ships its cffi ABI module (``_soundfile``, with the C declarations) and the
library itself (``_soundfile_data``); opening them directly skips importing soundfile and
numpy, which cost ~0.13 s of CPU per command, more than decoding a whole project's samples.
cffi drops the GIL during each C call, so the restore's threads decode on every core.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import sys
import threading
from typing import Any, BinaryIO

_lock = threading.Lock()
_loaded: tuple[Any, Any] | None = None
_tried = False


def _dlopen() -> tuple[Any, Any] | None:
    """Load soundfile's cffi declarations and libsndfile without importing soundfile, else via soundfile."""
    try:
        ffi = importlib.import_module("_soundfile").ffi
    except (ImportError, AttributeError):
        return None
    with contextlib.suppress(ImportError, OSError, TypeError):
        data = importlib.import_module("_soundfile_data")
        machine = platform.machine()
        name = "libsndfile_arm64.so" if machine.startswith(("aarch64", "armv8")) else f"libsndfile_{machine}.so"
        return ffi, ffi.dlopen(os.path.join(os.path.dirname(str(data.__file__)), name))
    with contextlib.suppress(OSError, TypeError):
        import ctypes.util  # slow to import (it starts subprocess machinery): only when needed

        found = ctypes.util.find_library("sndfile")
        if found is not None:
            return ffi, ffi.dlopen(found)
    # Anything else (macOS, Windows, Homebrew paths): soundfile's own loader knows them all.
    try:
        import soundfile
    except (ImportError, OSError):
        return None
    return soundfile._ffi, soundfile._snd


def library() -> tuple[Any, Any] | None:
    """Return ``(ffi, lib)`` for libsndfile, loaded once per process; None when it is not installed."""
    global _loaded, _tried
    if sys.byteorder != "little":
        return None  # the samples are copied out as little-endian WAV bytes as they are
    with _lock:
        if not _tried:
            _loaded = _dlopen()
            _tried = True
        return _loaded


class DecodeError(Exception):
    """libsndfile could not open or decode a FLAC stream."""


class FlacDecoder:
    """Decode the FLAC stream in the next ``length`` bytes of ``stream`` to little-endian PCM bytes, in blocks.

    ``stream`` must be seekable; libsndfile reads it through virtual I/O callbacks that keep
    within the window. Memory stays one block of frames.
    """

    def __init__(self, lib: tuple[Any, Any], stream: BinaryIO, length: int, channels: int, sample_bytes: int) -> None:
        self._ffi, self._lib = lib
        self._stream = stream
        self._start = stream.tell()
        self._length = length
        self._at = 0
        self._channels = channels
        self._sample_bytes = sample_bytes
        self._buffer: Any = None
        ffi = self._ffi
        # The callbacks must outlive the SNDFILE handle: they are kept on the instance.
        self._callbacks = (
            ffi.callback("sf_vio_get_filelen", lambda _user: self._length),
            ffi.callback("sf_vio_seek", self._seek),
            ffi.callback("sf_vio_read", self._read),
            ffi.callback("sf_vio_write", lambda _ptr, _count, _user: 0),
            ffi.callback("sf_vio_tell", lambda _user: self._at),
        )
        self._io = ffi.new("SF_VIRTUAL_IO*")
        (self._io.get_filelen, self._io.seek, self._io.read, self._io.write, self._io.tell) = self._callbacks
        self._info = ffi.new("SF_INFO*")
        self._handle = self._lib.sf_open_virtual(self._io, self._lib.SFM_READ, self._info, ffi.NULL)
        if self._handle == ffi.NULL:
            raise DecodeError(self._error())
        if self._info.channels != channels:
            self.close()
            raise DecodeError(f"the stream has {self._info.channels} channels, the layout {channels}")

    def _seek(self, offset: int, whence: int, _user: Any) -> int:
        base = (0, self._at, self._length)[whence]
        self._at = max(0, min(self._length, base + offset))
        return self._at

    def _read(self, pointer: Any, count: int, _user: Any) -> int:
        count = min(count, self._length - self._at)
        if count <= 0:
            return 0
        self._stream.seek(self._start + self._at)
        data = self._stream.read(count)
        self._ffi.memmove(pointer, data, len(data))
        self._at += len(data)
        return len(data)

    def _error(self) -> str:
        handle = getattr(self, "_handle", self._ffi.NULL)
        return str(self._ffi.string(self._lib.sf_strerror(handle)).decode("utf-8", "replace"))

    def read(self, frames: int) -> bytes:
        """Decode up to ``frames`` frames; return their PCM bytes (b"" at the end of the stream)."""
        ffi, lib = self._ffi, self._lib
        wide = self._sample_bytes == 3
        if self._buffer is None or len(self._buffer) < frames * self._channels:
            self._buffer = ffi.new("int[]" if wide else "short[]", frames * self._channels)
        got = (lib.sf_readf_int if wide else lib.sf_readf_short)(self._handle, self._buffer, frames)
        if got < 0 or (got == 0 and lib.sf_error(self._handle)):
            raise DecodeError(self._error())
        samples = got * self._channels
        raw = ffi.buffer(self._buffer, samples * (4 if wide else 2))
        return _packed_24(raw[:]) if wide else bytes(raw)

    def end(self) -> None:
        """Leave the underlying stream just past the FLAC stream."""
        self._stream.seek(self._start + self._length)

    def close(self) -> None:
        """Release the libsndfile handle (once)."""
        if self._handle is not None and self._handle != self._ffi.NULL:
            self._lib.sf_close(self._handle)
        self._handle = None


# libsndfile's format code for headerless little-endian 24-bit PCM (sndfile.h: RAW | PCM_24 | ENDIAN_LITTLE).
_RAW_PCM_24_LE = 0x040000 | 0x0003 | 0x10000000
_FLAC_RATE = 48000  # any rate: a raw file records none
# A FLAC stream up to this size is decoded from an in-memory file (HeldDecoder); longer ones
# stream through FlacDecoder's callbacks, so memory stays bounded whatever a sample's length.
HELD_LIMIT = 16 << 20


class HeldDecoder:
    """:class:`FlacDecoder`'s interface over a FLAC stream copied into an anonymous in-memory file (``memfd``).

    libsndfile then reads the stream itself: FlacDecoder's virtual I/O callbacks take the GIL
    back every 8 KiB, and with several samples decoding at once the threads queued on it
    (86,000 futex calls in the medium preset's restore from a compacted store, against 18,600
    uncompacted; 1.6 of 2 cores busy). Here a whole decode runs with the GIL released.
    """

    def __init__(self, lib: tuple[Any, Any], fd: int, frames: int, channels: int, sample_bytes: int) -> None:
        self._ffi, self._lib = lib
        self._fd = fd
        self._channels = channels
        self._sample_bytes = sample_bytes
        self._buffer: Any = None
        info = self._ffi.new("SF_INFO*")
        self._handle = self._lib.sf_open_fd(fd, self._lib.SFM_READ, info, 0)  # 0: the descriptor stays ours
        self.usable = self._handle != self._ffi.NULL and info.frames == frames and info.channels == channels

    @classmethod
    def open(
        cls,
        lib: tuple[Any, Any],
        source: BinaryIO | memoryview,
        length: int,
        frames: int,
        channels: int,
        sample_bytes: int,
    ) -> HeldDecoder | None:
        """Copy ``length`` bytes of FLAC stream (``source`` as is, or read from it) into a memfd and open it.

        None, with nothing read from ``source``, where this cannot be (not Linux, a stream past
        :data:`HELD_LIMIT`), or when libsndfile does not see exactly ``frames`` frames of
        ``channels`` channels in it: the caller decodes through :class:`FlacDecoder` instead.
        """
        memfd_create = getattr(os, "memfd_create", None)
        if memfd_create is None or length > HELD_LIMIT:
            return None
        try:
            fd = memfd_create("casstore-flac", os.MFD_CLOEXEC)
        except OSError:
            return None
        try:
            if isinstance(source, memoryview):
                written = 0
                while written < length:
                    written += os.write(fd, source[written:length])
            else:
                start = source.tell()
                left = length
                while left > 0 and (chunk := source.read(min(left, 1 << 20))):
                    os.write(fd, chunk)  # a memfd takes every byte of a write
                    left -= len(chunk)
            os.lseek(fd, 0, os.SEEK_SET)
            decoder = cls(lib, fd, frames, channels, sample_bytes)
        except BaseException:
            os.close(fd)
            raise
        if not decoder.usable:
            decoder.close()
            if not isinstance(source, memoryview):
                source.seek(start)
            return None
        return decoder

    def read(self, frames: int) -> bytes:
        """Decode up to ``frames`` frames; return their PCM bytes (b"" at the end of the stream)."""
        wide = self._sample_bytes == 3
        if self._buffer is None or len(self._buffer) < frames * self._channels:
            self._buffer = self._ffi.new("int[]" if wide else "short[]", frames * self._channels)
        got = (self._lib.sf_readf_int if wide else self._lib.sf_readf_short)(self._handle, self._buffer, frames)
        if got < 0 or (got == 0 and self._lib.sf_error(self._handle)):
            raise DecodeError(self._error())
        raw = self._ffi.buffer(self._buffer, got * self._channels * (4 if wide else 2))
        return _packed_24(raw[:]) if wide else bytes(raw)

    def read_into(self, out: memoryview, frames: int) -> None:
        """Decode exactly ``frames`` frames into ``out`` (16-bit: in one call, straight into it)."""
        if self._sample_bytes == 2:
            target = self._ffi.from_buffer("short[]", out[: frames * self._channels * 2], True)
            got = self._lib.sf_readf_short(self._handle, target, frames)
            if got != frames:
                raise DecodeError(f"decoded {got} of {frames} frames ({self._error()})")
            return
        # 24-bit: libsndfile gives int32s; its own RAW PCM_24 writer packs them into a second
        # in-memory file at C speed with the GIL released (slicing bytes in Python held it for
        # 0.08 s of the medium preset's restore), and one read lands them in ``out``.
        ffi, sf = self._ffi, self._lib
        packed_fd = os.memfd_create("casstore-pcm", os.MFD_CLOEXEC)
        try:
            info = ffi.new("SF_INFO*")
            info.samplerate, info.channels, info.format = _FLAC_RATE, self._channels, _RAW_PCM_24_LE
            writer = sf.sf_open_fd(packed_fd, sf.SFM_WRITE, info, 0)
            if writer == ffi.NULL:
                raise DecodeError(f"cannot pack 24-bit samples ({self._error()})")
            try:
                block = min(frames, 1 << 16)
                buffer = ffi.new("int[]", block * self._channels)
                left = frames
                while left > 0:
                    got = sf.sf_readf_int(self._handle, buffer, min(block, left))
                    if got <= 0 or sf.sf_writef_int(writer, buffer, got) != got:
                        raise DecodeError(f"the stream ends {left} frames early ({self._error()})")
                    left -= got
            finally:
                sf.sf_close(writer)
            wanted = frames * self._channels * 3
            if os.preadv(packed_fd, [out[:wanted]], 0) != wanted:
                raise DecodeError("the packed samples are short")
        finally:
            os.close(packed_fd)

    def _error(self) -> str:
        return str(self._ffi.string(self._lib.sf_strerror(self._handle)).decode("utf-8", "replace"))

    def end(self) -> None:
        """Nothing to skip: the stream was read to its end when it was copied."""

    def close(self) -> None:
        """Release the libsndfile handle and the in-memory file (once)."""
        if self._handle is not None and self._handle != self._ffi.NULL:
            self._lib.sf_close(self._handle)
        self._handle = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _packed_24(wide: bytes) -> bytes:
    """Drop the low byte of each int32 (libsndfile's 24-bit samples are their top three bytes)."""
    out = bytearray(len(wide) // 4 * 3)
    out[0::3] = wide[1::4]
    out[1::3] = wide[2::4]
    out[2::3] = wide[3::4]
    return bytes(out)
