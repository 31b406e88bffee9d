"""How many worker threads to use: hashing and zstd release the GIL, so threads use every core."""

from __future__ import annotations

import os


def worker_count() -> int:
    """Return the number of threads for hashing, compressing and writing (``CASSTORE_THREADS``)."""
    configured = os.environ.get("CASSTORE_THREADS")
    if configured and configured.isdigit() and int(configured) > 0:
        return int(configured)
    # One more than the cores so an fsync in one thread does not leave a core idle.
    return min(8, (os.cpu_count() or 1) + 1)
