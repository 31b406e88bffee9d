"""The zips casstore writes (exports, crash reports): durable, all or nothing, the same bytes for the same content."""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from casstore.storage.atomic import staged_file

# 1980-01-01, the zip epoch, and one file mode: the same content gives the same zip bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
_ZIP64_FROM = 1 << 31  # entries this big need zip64 headers, which must be chosen before writing


class ZipWriter:
    """Adds entries to a zip being written, each with the fixed timestamp and mode."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive

    def add(self, name: str, copy: Callable[[BinaryIO], None], size: int | None, *, stored: bool = False) -> None:
        """Add entry ``name`` whose bytes ``copy`` writes; ``size`` None means unknown (zip64 then).

        ``stored`` keeps the bytes uncompressed: audio barely deflates, and storing it keeps
        an export at disk speed.
        """
        info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
        info.external_attr = FILE_MODE << 16
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        with self._archive.open(info, "w", force_zip64=size is None or size >= _ZIP64_FROM) as out:
            copy(out)  # type: ignore[arg-type]  # a ZipExtFile is written like a binary file

    def add_bytes(self, name: str, data: bytes, *, stored: bool = False) -> None:
        """Add entry ``name`` holding ``data``."""
        self.add(name, lambda out: _write(out, data), len(data), stored=stored)


def _write(out: BinaryIO, data: bytes) -> None:
    out.write(data)


@contextlib.contextmanager
def write_zip(dest: Path) -> Iterator[ZipWriter]:
    """Write a new zip at ``dest``: it appears there, fsynced, only if the block succeeds."""
    with staged_file(dest) as raw, zipfile.ZipFile(raw, "w", allowZip64=True) as archive:
        yield ZipWriter(archive)
