"""Zip bomb limits: every archive casstore reads is checked against them before any entry is read.

The rules (docs/format.md, "Zip limits"), each refusal naming the zip, the entry and the rule:

- at most :data:`MAX_ENTRIES` entries;
- an entry over :data:`RATIO_FLOOR` bytes may not declare more than :data:`MAX_RATIO` times its
  compressed size (deflate cannot exceed ~1032:1, so only a crafted entry goes past 2000:1);
- the declared uncompressed sizes add up to at most ``CASSTORE_ZIP_MAX_BYTES`` (default 64 GiB);
- entries may not overlap one another or the central directory, and their compressed sizes may
  not add up to more than the archive (Fifield's non-recursive bomb reuses one compressed kernel);
- while reading, an entry may not yield more bytes than it declared (see :class:`CountedRead`).
"""

from __future__ import annotations

import itertools
import lzma
import os
import struct
import zipfile
import zlib
from pathlib import Path

from casstore.errors import BundleError, UsageError

MAX_ENTRIES = 100_000
MAX_RATIO = 2000
RATIO_FLOOR = 1 << 20
DEFAULT_MAX_BYTES = 64 << 30
MAX_BYTES_ENV = "CASSTORE_ZIP_MAX_BYTES"

# What zipfile raises on a damaged archive or entry (bz2 raises a bare OSError on a bad stream).
ZIP_DAMAGE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    ValueError,
    OSError,
)

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_LOCAL_MAGIC = b"PK\x03\x04"


def max_total_bytes() -> int:
    """Return the declared-size limit: ``CASSTORE_ZIP_MAX_BYTES`` or 64 GiB."""
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        raise UsageError(f"{MAX_BYTES_ENV}={raw!r}: expected a positive number of bytes")
    return value


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open the zip at ``path`` and check it against the limits; damage or a breach is a BundleError."""
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_DAMAGE as exc:
        raise BundleError(f"{path.name}: damaged zip archive ({exc})") from None
    try:
        check_zip_limits(archive, path.name, path.stat().st_size)
    except BaseException:
        archive.close()
        raise
    return archive


def check_zip_limits(archive: zipfile.ZipFile, name: str, archive_size: int) -> None:
    """Refuse ``archive`` (called ``name`` in messages) if it breaks a limit; reads only headers."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise BundleError(f"{name}: {len(infos)} entries, more than the limit of {MAX_ENTRIES} (zip limits)")
    limit = max_total_bytes()
    total = 0
    for info in infos:
        where = f"{name}: entry {info.orig_filename!r}"
        if info.flag_bits & 0x1:
            raise BundleError(f"{where}: encrypted entries are not supported")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
            ratio = info.file_size / max(info.compress_size, 1)
            raise BundleError(
                f"{where}: declares {info.file_size} bytes from {info.compress_size} compressed, a ratio of "
                f"{ratio:.0f}:1, over the limit of {MAX_RATIO}:1 (a zip bomb?)"
            )
        total += info.file_size
        if total > limit:
            raise BundleError(
                f"{where}: the entries declare more than {limit} bytes in all, over the limit "
                f"({MAX_BYTES_ENV} changes it)"
            )
    if sum(info.compress_size for info in infos) > archive_size:
        raise BundleError(
            f"{name}: the entries' compressed sizes add up to more than the archive (overlapping entries)"
        )
    _check_no_overlap(archive, infos, name)


def _check_no_overlap(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse entries whose local header and data overlap another entry or the central directory."""
    end_of_data = getattr(archive, "start_dir", None)
    stream = archive.fp
    spans = []
    for info in infos:
        where = f"{name}: entry {info.orig_filename!r}"
        if stream is None:
            break
        if not 0 <= info.header_offset < (end_of_data or info.header_offset + 1):
            raise BundleError(f"{where}: damaged zip archive (local header offset {info.header_offset} is outside it)")
        stream.seek(info.header_offset)
        head = stream.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size or head[:4] != _LOCAL_MAGIC:
            raise BundleError(f"{where}: damaged zip archive (no local header at offset {info.header_offset})")
        fields = _LOCAL_HEADER.unpack(head)
        start = info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]
        spans.append((info.header_offset, start + info.compress_size, where))
    spans.sort()
    for (_first, end, where), (second, _end, other) in itertools.pairwise(spans):
        if second < end:
            raise BundleError(f"{other}: overlaps {where.split(': ', 1)[1]} in the archive (overlapping entries)")
    if spans and end_of_data is not None and spans[-1][1] > end_of_data:
        raise BundleError(f"{spans[-1][2]}: runs into the zip's central directory (overlapping entries)")


class CountedRead:
    """Counts the bytes an entry yields and refuses any past its declared size."""

    def __init__(self, where: str, declared: int) -> None:
        self._where = where
        self._declared = declared
        self._seen = 0

    def count(self, chunk: bytes) -> bytes:
        """Return ``chunk`` after adding it to the count; raise BundleError past the declared size."""
        self._seen += len(chunk)
        if self._seen > self._declared:
            raise BundleError(f"{self._where}: yields more than the {self._declared} bytes it declares (zip limits)")
        return chunk

    def finish(self) -> None:
        """At the end of the entry: refuse one that held fewer bytes than it declares."""
        if self._seen != self._declared:
            raise BundleError(
                f"{self._where}: holds {self._seen} bytes but declares {self._declared} (damaged zip entry)"
            )
