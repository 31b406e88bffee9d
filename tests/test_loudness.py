"""BS.1770-4 integrated loudness: EBU Tech 3341 conformance, whole-block gating, the short-clip convention."""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from casstore.audio.loudness import METHOD_BS1770, METHOD_PADDED, LoudnessMeter, block_frames, measure, measure_samples

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (CI installs it)")


def _sine(dbfs: float, seconds: float, rate: int = 48000) -> np.ndarray:
    """A 1 kHz sine whose peak is ``dbfs`` (Tech 3341 states its levels this way)."""
    t = np.arange(round(seconds * rate)) / rate
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * 1000 * t)


def _stereo_segments(segments: list[tuple[float, float]], rate: int = 48000) -> np.ndarray:
    mono = np.concatenate([_sine(level, seconds, rate) for level, seconds in segments])
    return np.stack([mono, mono], axis=1)


def _write(tmp_path: Path, name: str, samples: np.ndarray, rate: int, subtype: str, fmt: str = "WAV") -> Path:
    path = tmp_path / name
    soundfile.write(str(path), samples, rate, subtype=subtype, format=fmt)
    return path


# EBU Tech 3341 (2016, v3; 2023, v4), table 1: the test signals that can be made from the spec.
TECH_3341 = [
    ("case 1: stereo 1 kHz at -23 dBFS, 20 s", [(-23.0, 20.0)], -23.0),
    ("case 2: stereo 1 kHz at -33 dBFS, 20 s", [(-33.0, 20.0)], -33.0),
    ("case 3: -36/-23/-36 dBFS, 10/60/10 s (relative gate)", [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    (
        "case 4: -72/-36/-23/-36/-72 dBFS, 10/10/60/10/10 s (absolute and relative gates)",
        [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],
        -23.0,
    ),
    ("case 5: -26/-20/-26 dBFS, 20/20.1/20 s", [(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
]
VARIANTS = [(48000, "PCM_16", "WAV"), (44100, "PCM_24", "WAV"), (48000, "PCM_24", "FLAC")]


@pytest.mark.parametrize(("case", "segments", "expected"), TECH_3341, ids=[c[0].split(":")[0] for c in TECH_3341])
def test_tech_3341_cases_1_to_5_within_a_tenth_of_a_lu(
    tmp_path: Path, case: str, segments: list[tuple[float, float]], expected: float
) -> None:
    rate, subtype, fmt = 48000, "PCM_16", "WAV"  # the format of the EBU's own test files
    path = _write(tmp_path, "seq.wav", _stereo_segments(segments, rate), rate, subtype, fmt)
    measured = measure(path)
    assert measured.method == METHOD_BS1770
    assert abs(measured.lufs - expected) <= 0.1, (case, measured.lufs)


@pytest.mark.parametrize(("rate", "subtype", "fmt"), VARIANTS, ids=[f"{r}-{s}-{f}" for r, s, f in VARIANTS])
def test_tech_3341_cases_1_and_5_at_other_rates_depths_and_formats(
    tmp_path: Path, rate: int, subtype: str, fmt: str
) -> None:
    for _case, segments, expected in (TECH_3341[0], TECH_3341[4]):
        path = _write(tmp_path, f"seq.{fmt.lower()}", _stereo_segments(segments, rate), rate, subtype, fmt)
        assert abs(measure(path).lufs - expected) <= 0.1, (rate, subtype, fmt, segments)


def test_tech_3341_case_6_five_channels_and_five_one_with_the_lfe_left_out(tmp_path: Path) -> None:
    # Case 6: 1 kHz, L and R at -28 dBFS, C at -24, Ls and Rs at -30, 20 s -> -23.0 LUFS.
    left, centre, surround = _sine(-28.0, 20.0), _sine(-24.0, 20.0), _sine(-30.0, 20.0)
    five = np.stack([left, left, centre, surround, surround], axis=1)
    assert abs(measure(_write(tmp_path, "5ch.wav", five, 48000, "PCM_16")).lufs + 23.0) <= 0.1
    # The 5.1 variant (L R C LFE Ls Rs): BS.1770 does not count the LFE, even when it carries signal.
    lfe = _sine(-10.0, 20.0)
    six = np.stack([left, left, centre, lfe, surround, surround], axis=1)
    assert abs(measure(_write(tmp_path, "6ch.wav", six, 48000, "PCM_16")).lufs + 23.0) <= 0.1


# --- whole gating blocks only, as BS.1770-4 and ffmpeg count them ----------------------------


def _tail(rate: int, frames: int) -> np.ndarray:
    """A ring whose last 100 ms is quieter but inside the relative gate, so a fourth block would count."""
    t = np.arange(frames) / rate
    return 0.7 * np.exp(-t * 3.5) * np.sin(2 * np.pi * 196 * t)


def _pyloudnorm(samples: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def test_a_clip_one_sample_short_of_a_block_boundary_counts_only_its_whole_blocks() -> None:
    rate = 48000
    full = _tail(rate, 33600)  # 0.70 s: blocks start at 0, 0.1, 0.2 and 0.3 s
    short = full[:-1]  # one sample short: the block starting at 0.3 s is not whole
    assert (measure_samples(full, rate).blocks, measure_samples(short, rate).blocks) == (4, 3)
    ours = measure_samples(short, rate).lufs
    # The reference: the same clip cut to its three whole blocks (0.60 s), which every meter agrees on.
    assert abs(ours - _pyloudnorm(full[:28800], rate)) < 0.01
    assert abs(measure_samples(full, rate).lufs - _pyloudnorm(full, rate)) < 0.01
    # pyloudnorm rounds 2.99 blocks up to four and reads the clip quieter: the documented difference.
    assert ours - _pyloudnorm(short, rate) > 0.5


def test_a_drum_one_shot_of_0_46_s_is_one_block_not_two() -> None:
    rate = 48000
    t = np.arange(22080) / rate
    kick = 0.9 * np.exp(-t * 9) * np.sin(2 * np.pi * np.cumsum(50 + 120 * np.exp(-t * 30)) / rate)
    measured = measure_samples(kick, rate)
    assert measured.blocks == 1 and measured.method == METHOD_BS1770
    assert abs(measured.lufs - _pyloudnorm(kick[:19200], rate)) < 0.01
    assert measured.lufs - _pyloudnorm(kick, rate) > 2.0  # pyloudnorm adds a block 40 % empty


# --- short clips: zero-padded to one block plus one sample, and marked ----------------------


@settings(max_examples=25)
@given(frames=st.integers(min_value=1, max_value=19199), rate=st.sampled_from([44100, 48000]), seed=st.integers(0, 99))
def test_a_short_clip_is_measured_zero_padded_to_one_block_plus_one_sample(frames: int, rate: int, seed: int) -> None:
    frames = min(frames, block_frames(rate) - 1)
    clip = np.random.default_rng(seed).uniform(-0.5, 0.5, (frames, 2)) * np.exp(-np.arange(frames) / rate * 8)[:, None]
    measured = measure_samples(clip, rate)
    padded = np.concatenate([clip, np.zeros((block_frames(rate) + 1 - frames, 2))])
    reference = measure_samples(padded, rate)
    assert measured.method == METHOD_PADDED and reference.method == METHOD_BS1770
    assert measured.frames == frames and abs(measured.duration_s - frames / rate) < 1e-9
    assert measured.blocks == 1 and abs(measured.lufs - reference.lufs) < 1e-9
    assert measured.peak_dbfs == pytest.approx(20 * np.log10(np.max(np.abs(clip))))


def test_a_clip_of_exactly_one_block_is_not_padded_and_one_sample_less_is() -> None:
    tone = _sine(-20.0, 0.4)
    assert measure_samples(tone, 48000).method == METHOD_BS1770
    assert measure_samples(tone[:-1], 48000).method == METHOD_PADDED
    assert measure_samples(tone[:-1], 48000).as_json()["lufs_method"] == "short clip, padded"


@settings(max_examples=20)
@given(cuts=st.lists(st.integers(min_value=0, max_value=30000), max_size=6), seed=st.integers(0, 99))
def test_feeding_in_any_chunks_gives_the_same_measurement(cuts: list[int], seed: int) -> None:
    clip = np.random.default_rng(seed).normal(0, 0.1, (30000, 2))
    meter = LoudnessMeter(44100, 2)
    edges = [0, *sorted(cuts), len(clip)]
    for start, end in itertools.pairwise(edges):
        meter.feed(clip[start:end])
    chunked, whole = meter.result(), measure_samples(clip, 44100)
    assert (chunked.frames, chunked.blocks, chunked.peak_dbfs) == (whole.frames, whole.blocks, whole.peak_dbfs)
    assert chunked.lufs == pytest.approx(whole.lufs, abs=1e-9)


def test_json_keeps_two_decimals() -> None:
    measured = measure_samples(_sine(-23.123456, 1.0), 48000)  # mono: about -26.17 LUFS
    shown = measured.as_json()
    assert shown["lufs"] == round(measured.lufs, 2) and shown["lufs"] != round(measured.lufs, 1)
    assert shown["peak_dbfs"] == -23.12 and shown["lufs_method"] == "bs1770"


# --- agreement with ffmpeg's ebur128 on every testdata clip ---------------------------------


def ffmpeg_lufs(path: Path, pad_to: int | None = None) -> float:
    """ffmpeg's integrated loudness (its summary "I: … LUFS"), optionally after zero-padding to ``pad_to`` frames."""
    graph = "ebur128" if pad_to is None else f"apad=whole_len={pad_to},ebur128"
    done = subprocess.run(
        ["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-filter_complex", graph, "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", done.stderr.split("Summary:")[-1]).group(1))


def clips_under(root: Path) -> list[Path]:
    """Every WAV/FLAC under ``root``, once per distinct content."""
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in (".wav", ".flac") and path.is_file():
            seen.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    return sorted(seen.values())


@needs_ffmpeg
def test_every_testdata_clip_agrees_with_ffmpeg_ebur128(demo_data: Path) -> None:
    clips = clips_under(demo_data)
    assert len(clips) >= 10
    short = 0
    for path in clips:
        ours = measure(path)
        if ours.method == METHOD_BS1770:
            assert abs(ours.lufs - ffmpeg_lufs(path)) <= 0.1, path.name
        else:
            # ffmpeg has no integrated loudness for it (-70); padded the same way, it agrees.
            short += 1
            assert ffmpeg_lufs(path) == -70.0
            assert abs(ours.lufs - ffmpeg_lufs(path, block_frames(ours.sample_rate) + 1)) <= 0.1, path.name
    assert short >= 3
