"""Measure every testdata clip with casstore, ffmpeg's ebur128 and pyloudnorm; write the table into docs/loudness.md.

Usage: ``python scripts/loudness_table.py [testdata/out] [docs/loudness.md]`` (``make loudness-table``).
The table replaces what stands between the two marker comments in the document.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pyloudnorm
import soundfile

from casstore.audio.loudness import HOP_SECONDS, METHOD_PADDED, Loudness, block_frames, measure

PRINT_I = "ametadata=mode=print:key=lavfi.r128.I"
START, END = "<!-- loudness-table:start -->", "<!-- loudness-table:end -->"


def ffmpeg_lufs(path: Path, pad_to: int | None = None) -> float:
    """Integrated loudness by ffmpeg's ebur128: the last ``lavfi.r128.I`` (3 decimals), else the summary's."""
    graph = "ebur128=metadata=1" if pad_to is None else f"apad=whole_len={pad_to},ebur128=metadata=1"
    done = subprocess.run(
        ["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af", f"{graph},{PRINT_I}", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    values = re.findall(r"lavfi\.r128\.I=(-?[\d.]+)", done.stderr)
    if values:
        return float(values[-1])
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", done.stderr.split("Summary:")[-1]).group(1))


def pyloudnorm_lufs(path: Path) -> tuple[float | None, int | None, str | None]:
    """Return pyloudnorm's value and its block count (it rounds), or why it gave none."""
    data, rate = soundfile.read(str(path), always_2d=True)
    seconds = len(data) / rate
    try:
        value = float(pyloudnorm.Meter(rate).integrated_loudness(data))
    except ValueError as exc:
        return None, None, str(exc).rstrip(".")
    return value, round((seconds - 0.4) / (0.4 * 0.25)) + 1, None


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value + 0.0:.2f}".replace("-0.00", "0.00")


def explain(ours: Loudness, py_blocks: int | None, py_error: str | None, frames_to_boundary: int) -> str:
    """Why the three meters agree or differ on this clip."""
    if ours.method == METHOD_PADDED:
        return (
            "shorter than one 400 ms block: no integrated loudness under BS.1770 (ffmpeg: −70); casstore pads "
            "to 400 ms + 1 sample and agrees with ffmpeg on the clip padded the same way; pyloudnorm refuses it"
        )
    if py_error:
        return f"pyloudnorm: {py_error}"
    if py_blocks is not None and py_blocks > ours.blocks:
        extra = py_blocks - ours.blocks
        short = f"{frames_to_boundary} sample(s) short of" if frames_to_boundary else "past"
        return (
            f"ends {short} a 100 ms boundary: pyloudnorm rounds the block count up and adds {extra} partly "
            f"empty block(s); casstore and ffmpeg count whole blocks only ({ours.blocks})"
        )
    return "same whole blocks in all three; the small rest is each meter's K-weighting filter coefficients"


def rows(root: Path) -> list[str]:
    """One Markdown row per distinct clip under ``root``."""
    seen: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in (".wav", ".flac"):
            seen.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(path)
    out = []
    for paths in sorted(seen.values(), key=lambda p: p[0].relative_to(root).as_posix()):
        path = paths[0]
        ours = measure(path)
        hop = round(ours.sample_rate * HOP_SECONDS)
        to_boundary = (hop - ours.frames % hop) % hop
        ff = ffmpeg_lufs(path)
        ff_padded = ffmpeg_lufs(path, block_frames(ours.sample_rate) + 1) if ours.method == METHOD_PADDED else None
        py, py_blocks, py_error = pyloudnorm_lufs(path)
        delta = None if py is None or ours.lufs is None else py - ours.lufs
        copies = len(paths) - 1
        name = f"`{path.relative_to(root).as_posix()}`" + (f" (same bytes in {copies} more)" if copies else "")
        out.append(
            f"| {name} | {ours.duration_s:.3f} | {ours.frames} @ {ours.sample_rate} | {ours.blocks} "
            f"| {_fmt(ours.lufs)} | {ours.method} | {_fmt(ff)} | {_fmt(ff_padded)} | {_fmt(py)} "
            f"| {_fmt(delta)} | {explain(ours, py_blocks, py_error, to_boundary)} |"
        )
    return out


def table(root: Path) -> str:
    """The whole Markdown table."""
    head = [
        "| Clip | Duration (s) | Frames @ Hz | Whole blocks | casstore (LUFS) | casstore method "
        "| ffmpeg ebur128 (LUFS) | ffmpeg, padded like casstore (LUFS) | pyloudnorm (LUFS) "
        "| pyloudnorm − casstore (LU) | Why |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    return "\n".join(head + rows(root))


def main(root: Path, document: Path) -> None:
    """Replace the table between the markers in ``document``."""
    text = document.read_text()
    before, rest = text.split(START, 1)
    _old, after = rest.split(END, 1)
    document.write_text(f"{before}{START}\n{table(root)}\n{END}{after}")
    print(f"wrote the loudness table for {root} into {document}")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent.parent
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else here / "testdata" / "out",
        Path(sys.argv[2]) if len(sys.argv) > 2 else here / "docs" / "loudness.md",
    )
