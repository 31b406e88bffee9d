"""Every default a front end offers, in one place: the command line's option defaults read these.

This module imports nothing, so a front end may read it at start-up for free.
"""

from __future__ import annotations

from dataclasses import dataclass

BRANCH = "main"
STORE_DIRNAME = ".casstore"
KEEP_CHECKPOINTS = 20
AUTOSAVE_KEEP = 5
# A watcher saves when changes have been quiet for DEBOUNCE seconds, or INTERVAL seconds into a burst.
WATCH_INTERVAL_SECONDS = 90.0
WATCH_DEBOUNCE_SECONDS = 2.0
GC_GRACE = "2w"
STRESS_ITERATIONS = 12
STRESS_INTERVAL_SECONDS = 0.5


@dataclass(frozen=True)
class Defaults:
    """The defaults as one typed record (``casstore.DEFAULTS``)."""

    branch: str = BRANCH
    store_dirname: str = STORE_DIRNAME
    keep_checkpoints: int = KEEP_CHECKPOINTS
    autosave_keep: int = AUTOSAVE_KEEP
    watch_interval_seconds: float = WATCH_INTERVAL_SECONDS
    watch_debounce_seconds: float = WATCH_DEBOUNCE_SECONDS
    gc_grace: str = GC_GRACE
    stress_iterations: int = STRESS_ITERATIONS
    stress_interval_seconds: float = STRESS_INTERVAL_SECONDS


DEFAULTS = Defaults()
