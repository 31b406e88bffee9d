"""Integrated loudness (ITU-R BS.1770-4 / EBU R128, LUFS) and sample peak (dBFS), streamed.

The K-weighting filters are pyloudnorm's and the filtering is scipy's
``lfilter``; casstore only streams: it carries the filter state from block to
block and keeps one mean square per channel per 100 ms, so memory stays flat
however long the sample is. Gating follows BS.1770-4: 400 ms blocks with 75 %
overlap, an absolute gate at -70 LUFS and a relative gate 10 LU below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casstore.errors import CasstoreError

BLOCK_SECONDS = 0.4
HOP_SECONDS = 0.1
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs (BS.1770-4 table 3)
READ_FRAMES = 1 << 16


class AudioUnavailable(CasstoreError):
    """Loudness needs the optional audio libraries."""


class AudioFormatError(CasstoreError):
    """A file is not audio that can be measured."""


@dataclass(frozen=True)
class Loudness:
    """What was measured: integrated loudness, sample peak, and the file's shape."""

    lufs: float | None  # None: silence (-inf), or nothing long enough to gate
    peak_dbfs: float | None  # None: digital silence
    duration_s: float
    sample_rate: int
    channels: int
    gated_blocks: int

    def as_json(self) -> dict[str, Any]:
        """Return the measurement as a JSON object (``null`` for -inf)."""
        return {
            "lufs": None if self.lufs is None else round(self.lufs, 2),
            "peak_dbfs": None if self.peak_dbfs is None else round(self.peak_dbfs, 2),
            "duration_s": round(self.duration_s, 3),
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "gated_blocks": self.gated_blocks,
        }


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


def measure(path: Path) -> Loudness:
    """Measure integrated loudness and sample peak of a WAV/FLAC file in bounded memory."""
    np, sf, signal, pyloudnorm = _libraries()
    try:
        audio = sf.SoundFile(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioFormatError(f"{path.name}: cannot read as audio: {exc}") from None
    with audio:
        rate, channels = audio.samplerate, audio.channels
        filters = list(pyloudnorm.Meter(rate)._filters.values())
        states = [np.zeros((max(len(f.a), len(f.b)) - 1, channels)) for f in filters]
        hop = round(rate * HOP_SECONDS)
        energies: list[Any] = []  # one row per 100 ms hop: sum of squares per channel
        pending = np.zeros((0, channels))
        peak = 0.0
        frames = 0
        for block in audio.blocks(blocksize=READ_FRAMES, dtype="float64", always_2d=True):
            frames += len(block)
            if len(block):
                peak = max(peak, float(np.max(np.abs(block))))
            weighted = block
            for index, filt in enumerate(filters):
                weighted, states[index] = signal.lfilter(filt.b, filt.a, weighted, axis=0, zi=states[index])
                weighted = weighted * filt.passband_gain
            pending = np.concatenate([pending, weighted])
            whole = len(pending) // hop
            if whole:
                chunk = pending[: whole * hop].reshape(whole, hop, channels)
                energies.extend(np.sum(chunk**2, axis=1))
                pending = pending[whole * hop :]
    weights = np.array([CHANNEL_WEIGHTS[c] if c < len(CHANNEL_WEIGHTS) else 1.0 for c in range(channels)])
    lufs, gated = _gate(np, energies, hop, pending, weights)
    return Loudness(
        lufs,
        20 * math.log10(peak) if peak > 0 else None,
        frames / rate if rate else 0.0,
        rate,
        channels,
        gated,
    )


def _gate(np: Any, energies: list[Any], hop: int, tail: Any, weights: Any) -> tuple[float | None, int]:
    per_block = round(BLOCK_SECONDS / HOP_SECONDS)
    if len(energies) >= per_block:
        hops = np.array(energies)
        sums = np.lib.stride_tricks.sliding_window_view(hops, per_block, axis=0).sum(axis=-1)
        mean_squares = sums / (hop * per_block)
    else:
        # Shorter than one 400 ms gating block: measure the whole sample as one block.
        total = (np.sum(np.array(energies), axis=0) if energies else 0) + np.sum(tail**2, axis=0)
        length = hop * len(energies) + len(tail)
        if length == 0:
            return None, 0
        mean_squares = (total / length)[None, :]
    block_power = mean_squares @ weights
    with np.errstate(divide="ignore"):
        block_loudness = -0.691 + 10 * np.log10(block_power)
    above_absolute = block_loudness > ABSOLUTE_GATE
    if not np.any(above_absolute):
        return None, 0
    relative = -0.691 + 10 * math.log10(float(np.mean(block_power[above_absolute]))) + RELATIVE_GATE
    kept = above_absolute & (block_loudness > relative)
    if not np.any(kept):
        return None, 0
    return -0.691 + 10 * math.log10(float(np.mean(block_power[kept]))), int(np.sum(kept))
