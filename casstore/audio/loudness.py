"""Integrated loudness (ITU-R BS.1770-4 / EBU R 128, LUFS) and sample peak (dBFS), streamed.

The K-weighting filters are pyloudnorm's and the filtering is scipy's
``lfilter``; casstore only streams: it carries the filter state from block to
block and keeps one mean square per channel per 100 ms, so memory stays flat
however long the sample is. Gating follows BS.1770-4: 400 ms blocks with 75 %
overlap, an absolute gate at -70 LUFS and a relative gate 10 LU below.

Only whole gating blocks count, as in BS.1770-4 and ffmpeg's ``ebur128``: a
clip of 0.70 s minus one sample has three blocks, not four. (pyloudnorm
rounds the block count instead and so adds a partly empty last block; see
docs/loudness.md.) A clip shorter than one block has no integrated loudness
under the standard; casstore zero-pads it to one block plus one sample and
says so in ``method`` (:data:`METHOD_PADDED`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casstore.errors import CasstoreError

BLOCK_SECONDS = 0.4
HOP_SECONDS = 0.1
HOPS_PER_BLOCK = 4
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs (BS.1770-4 table 3)
# Six channels are 5.1 in WAV's default order (L R C LFE Ls Rs); BS.1770 leaves the LFE out.
WEIGHTS_5_1 = (1.0, 1.0, 1.0, 0.0, 1.41, 1.41)
READ_FRAMES = 1 << 16

METHOD_BS1770 = "bs1770"
METHOD_PADDED = "short clip, padded"
METHODS = (METHOD_BS1770, METHOD_PADDED)


class AudioUnavailable(CasstoreError):
    """Loudness needs the optional audio libraries."""


class AudioFormatError(CasstoreError):
    """A file is not audio that can be measured."""


@dataclass(frozen=True)
class Loudness:
    """What was measured: integrated loudness, sample peak, the file's shape and how it was gated."""

    lufs: float | None  # None: silence (-inf), or every block below the absolute gate
    peak_dbfs: float | None  # sample peak; None: digital silence
    duration_s: float
    sample_rate: int
    channels: int
    gated_blocks: int  # blocks kept by both gates
    frames: int = 0
    blocks: int = 0  # whole 400 ms blocks measured (after padding, for a short clip)
    method: str = METHOD_BS1770

    @property
    def padded(self) -> bool:
        """True when the clip was shorter than one gating block and measured zero-padded."""
        return self.method == METHOD_PADDED

    def as_json(self) -> dict[str, Any]:
        """Return the measurement as a JSON object (two decimals; ``null`` for -inf)."""
        return {
            "lufs": None if self.lufs is None else round(self.lufs, 2),
            "lufs_method": self.method,
            "peak_dbfs": None if self.peak_dbfs is None else round(self.peak_dbfs, 2),
            "duration_s": round(self.duration_s, 3),
            "frames": self.frames,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "blocks": self.blocks,
            "gated_blocks": self.gated_blocks,
        }


def channel_weights(channels: int) -> tuple[float, ...]:
    """Return the BS.1770-4 weight of each channel (mono to 5.0 in order, 5.1 without its LFE)."""
    if channels == 6:
        return WEIGHTS_5_1
    return tuple(CHANNEL_WEIGHTS[c] if c < len(CHANNEL_WEIGHTS) else 1.0 for c in range(channels))


def block_frames(rate: int) -> int:
    """Return the length of one 400 ms gating block in frames (four whole 100 ms hops)."""
    return HOPS_PER_BLOCK * round(rate * HOP_SECONDS)


def _libraries() -> tuple[Any, Any, Any, Any]:
    try:
        import numpy
        import pyloudnorm
        import scipy.signal
        import soundfile
    except ImportError as exc:
        raise AudioUnavailable(
            f"measuring loudness needs the audio extra ({exc.name} is missing): pip install 'casstore[audio]'"
        ) from None
    return numpy, soundfile, scipy.signal, pyloudnorm


class LoudnessMeter:
    """Feed blocks of samples (frames × channels, floats in [-1, 1]); ``result()`` gates them."""

    def __init__(self, rate: int, channels: int) -> None:
        np, _sf, signal, pyloudnorm = _libraries()
        self._np, self._signal = np, signal
        self.rate, self.channels = rate, channels
        self._filters = list(pyloudnorm.Meter(rate)._filters.values())
        self._states = [np.zeros((max(len(f.a), len(f.b)) - 1, channels)) for f in self._filters]
        self._hop = round(rate * HOP_SECONDS)
        self._energies: list[Any] = []  # one row per whole 100 ms hop: sum of squares per channel
        self._pending = np.zeros((0, channels))
        self._peak = 0.0
        self.frames = 0

    def feed(self, block: Any, count: bool = True) -> None:
        """Filter ``block`` and keep its energy per whole hop (``count=False``: padding, not the clip)."""
        np = self._np
        if not len(block):
            return  # lfilter on nothing returns no usable state
        if count:
            self.frames += len(block)
            self._peak = max(self._peak, float(np.max(np.abs(block))))
        weighted = block
        for index, filt in enumerate(self._filters):
            weighted, self._states[index] = self._signal.lfilter(
                filt.b, filt.a, weighted, axis=0, zi=self._states[index]
            )
            weighted = weighted * filt.passband_gain
        pending = np.concatenate([self._pending, weighted])
        whole = len(pending) // self._hop
        if whole:
            chunk = pending[: whole * self._hop].reshape(whole, self._hop, self.channels)
            self._energies.extend(np.sum(chunk**2, axis=1))
            pending = pending[whole * self._hop :]
        self._pending = pending

    def result(self) -> Loudness:
        """Pad a short clip to one block plus one sample, gate the whole blocks and return the figures."""
        np = self._np
        method = METHOD_BS1770
        if self.frames < block_frames(self.rate):
            # No whole block: the filters ring on into the zeros, as they would in a longer file.
            method = METHOD_PADDED
            self.feed(np.zeros((block_frames(self.rate) + 1 - self.frames, self.channels)), count=False)
        weights = np.array(channel_weights(self.channels))
        lufs, gated, blocks = _gate(np, self._energies, self._hop, weights)
        return Loudness(
            lufs,
            20 * math.log10(self._peak) if self._peak > 0 else None,
            self.frames / self.rate if self.rate else 0.0,
            self.rate,
            self.channels,
            gated,
            self.frames,
            blocks,
            method,
        )


def measure(path: Path) -> Loudness:
    """Measure integrated loudness and sample peak of a WAV/FLAC file in bounded memory."""
    _np, sf, _signal, _pyloudnorm = _libraries()
    try:
        audio = sf.SoundFile(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioFormatError(f"{path.name}: cannot read as audio: {exc}") from None
    with audio:
        meter = LoudnessMeter(audio.samplerate, audio.channels)
        for block in audio.blocks(blocksize=READ_FRAMES, dtype="float64", always_2d=True):
            meter.feed(block)
    return meter.result()


def measure_samples(samples: Any, rate: int) -> Loudness:
    """Measure an in-memory array (frames, or frames × channels) as :func:`measure` measures a file."""
    np = _libraries()[0]
    data = np.asarray(samples, dtype="float64")
    if data.ndim == 1:
        data = data[:, None]
    meter = LoudnessMeter(rate, data.shape[1])
    for start in range(0, len(data), READ_FRAMES):
        meter.feed(data[start : start + READ_FRAMES])
    return meter.result()


def _gate(np: Any, energies: list[Any], hop: int, weights: Any) -> tuple[float | None, int, int]:
    """Gate the whole 400 ms blocks: (loudness or None, blocks kept, blocks measured)."""
    if len(energies) < HOPS_PER_BLOCK:
        return None, 0, 0
    hops = np.array(energies)
    sums = np.lib.stride_tricks.sliding_window_view(hops, HOPS_PER_BLOCK, axis=0).sum(axis=-1)
    mean_squares = sums / (hop * HOPS_PER_BLOCK)
    blocks = len(mean_squares)
    block_power = mean_squares @ weights
    with np.errstate(divide="ignore"):
        block_loudness = -0.691 + 10 * np.log10(block_power)
    above_absolute = block_loudness > ABSOLUTE_GATE
    if not np.any(above_absolute):
        return None, 0, blocks
    relative = -0.691 + 10 * math.log10(float(np.mean(block_power[above_absolute]))) + RELATIVE_GATE
    kept = above_absolute & (block_loudness > relative)
    if not np.any(kept):
        return None, 0, blocks
    return -0.691 + 10 * math.log10(float(np.mean(block_power[kept]))), int(np.sum(kept)), blocks
