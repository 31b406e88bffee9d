"""The staging area ``tmp/``: unfinished writes, and freeing those whose writer is gone."""

from __future__ import annotations

import contextlib

from casstore.storage.atomic import writer_is_gone
from casstore.storage.backend import Backend, StoredFileMissing

STAGING_PREFIX = "tmp/"


def staging_leftovers(backend: Backend) -> tuple[int, int]:
    """Return how many unfinished writes the staging area holds, and their bytes (for fsck)."""
    files = size = 0
    for key in backend.list(STAGING_PREFIX):
        with contextlib.suppress(StoredFileMissing):  # its writer finished (renamed it) meanwhile
            size += backend.stat(key).size
            files += 1
    return files, size


def clear_staging(backend: Backend, older_than: float | None = None) -> tuple[int, int]:
    """Remove the unfinished writes in ``tmp/`` whose writer died on this host (or older than the cutoff).

    A killed import leaves its half-written pack here, hundreds of MB for a big bundle; the
    pid and host in each name tell whether its writer still runs, so the next write command
    frees the space at the cost of one listing. A live writer's files are never touched.
    ``older_than`` is seconds since the epoch by the backend's clock. Returns how many
    files and bytes were removed.
    """
    files = size = 0
    try:
        keys = backend.list(STAGING_PREFIX)
    except OSError:
        return files, size
    for key in keys:
        with contextlib.suppress(OSError, StoredFileMissing):
            gone = writer_is_gone(key[len(STAGING_PREFIX) :])
            info = None
            if not gone and older_than is not None:
                info = backend.stat(key)
                gone = info.modified < older_than
            if gone:
                length = (info or backend.stat(key)).size
                backend.delete(key)
                files, size = files + 1, size + length
    return files, size
