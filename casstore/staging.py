"""The staging area ``tmp/``: unfinished writes, and freeing those whose writer is gone."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

from casstore.atomic import writer_is_gone
from casstore.fileops import ops


def clear_staging(tmp_dir: Path, older_than: datetime | None = None) -> tuple[int, int]:
    """Remove the unfinished writes in ``tmp_dir`` whose writer died on this host (or older than the cutoff).

    A killed import leaves its half-written pack here, hundreds of MB for a big bundle; the
    pid and host in each name tell whether its writer still runs, so the next write command
    frees the space at the cost of one directory listing. A live writer's files are never
    touched. Returns how many files and bytes were removed.
    """
    files = size = 0
    try:
        names = os.listdir(tmp_dir)
    except OSError:
        return files, size
    for name in names:
        leftover = tmp_dir / name
        with contextlib.suppress(OSError):
            gone = writer_is_gone(name)
            if not gone and older_than is not None:
                gone = datetime.fromtimestamp(leftover.stat().st_mtime, UTC) < older_than
            if gone:
                length = leftover.stat().st_size
                ops().unlink(leftover)
                files, size = files + 1, size + length
    return files, size
