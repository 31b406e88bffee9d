"""Sampler assets for ears and eyes: a min/max waveform envelope and a playable WAV, cached by blob id.

Both are derived from a blob, whose id is the SHA-256 of its bytes, so a cache entry never
goes stale: the envelope as ``cache/waveforms/<blob>-<points>.json`` in the store (through
its backend), the playable WAV under ``$XDG_CACHE_HOME/casstore/audio`` (a player needs a
local file; the store may be remote). Losing the cache costs only a decode. Audio is read
in blocks (bounded memory, whatever the sample's length) through soundfile, which reads WAV and FLAC alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casstore.audio.loudness import AudioFormatError, AudioUnavailable
from casstore.errors import CasstoreError
from casstore.storage import canonical
from casstore.storage.atomic import ensure_dir, fsync_dir, temp_file
from casstore.storage.backend import StoredFileMissing
from casstore.storage.fileops import ops
from casstore.storage.ids import is_object_id
from casstore.storage.store import Store

WAVEFORM_POINTS = 160  # columns of a thumbnail: enough for a 480 dp wide strip at 3 dp a column
BLOCK_FRAMES = 65536
_CACHE_VERSION = 1


@dataclass(frozen=True)
class Waveform:
    """A sample's shape: per column the lowest and highest sample value (all channels), in [-1, 1]."""

    blob: str
    sample_rate: int
    channels: int
    frames: int
    mins: tuple[float, ...]
    maxs: tuple[float, ...]

    @property
    def duration_s(self) -> float:
        """Return the length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    @property
    def peak(self) -> float:
        """Return the largest absolute sample value (the sample peak, linear)."""
        return max([abs(v) for v in (*self.mins, *self.maxs)] or [0.0])

    def as_json(self) -> dict[str, Any]:
        """Return the envelope as a JSON object (what the cache keeps)."""
        return {
            "version": _CACHE_VERSION,
            "blob": self.blob,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "frames": self.frames,
            "mins": list(self.mins),
            "maxs": list(self.maxs),
        }


def _soundfile() -> tuple[Any, Any]:
    try:
        import numpy
        import soundfile
    except ImportError as exc:
        raise AudioUnavailable(
            f"showing and playing samples needs the audio extra ({exc.name} is missing): pip install 'casstore[audio]'"
        ) from None
    return numpy, soundfile


def _audio_cache() -> Path:
    """Where decoded samples for the player live: the user's cache, not the store.

    A player needs a file by name; that copy is this machine's derived data, so it never
    goes into the store (which may be a remote), and deleting it loses nothing.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "casstore" / "audio"


def _check_blob(blob: str) -> None:
    if not is_object_id(blob):
        raise CasstoreError(f"{blob!r} is not an object id (64 lowercase hex digits)")


def _blob_file(store: Store, blob: str, suffix: str) -> Path:
    """Copy a blob out of the store (verified while read) to ``cache/audio/<blob><suffix>``."""
    target = _audio_cache() / f"{blob}{suffix.lower()}"
    if target.exists():
        return target
    ensure_dir(target.parent)
    reader = store.objects.reader(blob)
    with temp_file(target.parent, prefix="blob-") as (stream, tmp):
        while chunk := reader.read():
            stream.write(chunk)
        stream.flush()
        ops().fsync(stream.fileno())
        ops().replace(tmp, target)
    return target


def _open_audio(sf: Any, path: Path, name: str) -> Any:
    try:
        return sf.SoundFile(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioFormatError(f"{name}: cannot read as audio: {exc}") from None


def waveform_envelope(store: Store, blob: str, suffix: str = ".wav", points: int = WAVEFORM_POINTS) -> Waveform:
    """Return the min/max envelope of a sample blob in ``points`` columns, computed once and cached."""
    _check_blob(blob)
    cached = f"cache/waveforms/{blob}-{points}.json"  # in the store, through its backend: small, and shared
    try:
        data = canonical.loads(store.backend.get(cached))
        if data.get("version") == _CACHE_VERSION and data.get("blob") == blob:
            return Waveform(
                blob,
                int(data["sample_rate"]),
                int(data["channels"]),
                int(data["frames"]),
                tuple(float(v) for v in data["mins"]),
                tuple(float(v) for v in data["maxs"]),
            )
    except (StoredFileMissing, OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # no cache yet, or a damaged one: compute it again
    np, sf = _soundfile()
    source = _blob_file(store, blob, suffix)
    with _open_audio(sf, source, blob[:12]) as audio:
        frames = audio.frames
        mins = np.zeros(points)
        maxs = np.zeros(points)
        offset = 0
        for block in audio.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
            count = len(block)
            if count == 0 or frames == 0:
                break
            columns = (np.arange(offset, offset + count, dtype=np.int64) * points) // frames
            starts = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]])
            low = np.minimum.reduceat(block.min(axis=1), starts)
            high = np.maximum.reduceat(block.max(axis=1), starts)
            where = columns[starts]
            np.minimum.at(mins, where, low)
            np.maximum.at(maxs, where, high)
            offset += count
        wave = Waveform(
            blob,
            int(audio.samplerate),
            int(audio.channels),
            int(frames),
            tuple(round(float(v), 4) for v in mins),
            tuple(round(float(v), 4) for v in maxs),
        )
    store.backend.put(cached, canonical.dumps(wave.as_json()))
    return wave


def playable_wav(store: Store, blob: str, suffix: str = ".wav") -> Path:
    """Decode a WAV or FLAC sample blob to 16-bit PCM WAV (what every audio output plays); cached by blob id."""
    _check_blob(blob)
    target = _audio_cache() / f"{blob}.pcm16.wav"
    if target.exists():
        return target
    np, sf = _soundfile()
    del np
    source = _blob_file(store, blob, suffix)
    ensure_dir(target.parent)
    with _open_audio(sf, source, blob[:12]) as audio, temp_file(target.parent, prefix="pcm-") as (stream, tmp):
        # soundfile writes into the temp file's own stream, so it is fsynced like any other write.
        with sf.SoundFile(stream, "w", audio.samplerate, audio.channels, "PCM_16", format="WAV", closefd=False) as out:
            for block in audio.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
                out.write(block)
        stream.flush()
        ops().fsync(stream.fileno())
        ops().replace(tmp, target)
    fsync_dir(target.parent)
    return target
