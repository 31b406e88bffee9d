"""Every default a front end offers, in one place: the command line's option defaults read these.

This module imports nothing, so a front end may read it at start-up for free.
"""

from __future__ import annotations

from typing import ClassVar

BRANCH = "main"
STORE_DIRNAME = ".casstore"
KEEP_CHECKPOINTS = 20
AUTOSAVE_KEEP = 5
# A watcher saves when changes have been quiet for DEBOUNCE seconds, or INTERVAL seconds into a burst.
WATCH_INTERVAL_SECONDS = 90.0
WATCH_DEBOUNCE_SECONDS = 2.0
GC_GRACE = "2w"
# Remote gc waits this long before marking an unreachable pack, and again before deleting it.
REMOTE_GC_GRACE = "24h"
STRESS_ITERATIONS = 12
STRESS_INTERVAL_SECONDS = 0.5


class Defaults:
    """The defaults as one typed record (``casstore.DEFAULTS``)."""

    # A plain class, not a dataclass: making a dataclass costs every command's start-up ~2 ms.
    __slots__ = ()

    branch: ClassVar[str] = BRANCH
    store_dirname: ClassVar[str] = STORE_DIRNAME
    keep_checkpoints: ClassVar[int] = KEEP_CHECKPOINTS
    autosave_keep: ClassVar[int] = AUTOSAVE_KEEP
    watch_interval_seconds: ClassVar[float] = WATCH_INTERVAL_SECONDS
    watch_debounce_seconds: ClassVar[float] = WATCH_DEBOUNCE_SECONDS
    gc_grace: ClassVar[str] = GC_GRACE
    remote_gc_grace: ClassVar[str] = REMOTE_GC_GRACE
    stress_iterations: ClassVar[int] = STRESS_ITERATIONS
    stress_interval_seconds: ClassVar[float] = STRESS_INTERVAL_SECONDS

    def __repr__(self) -> str:
        names = [name for name in type(self).__annotations__ if not name.startswith("_")]
        return f"Defaults({', '.join(f'{name}={getattr(self, name)!r}' for name in names)})"


DEFAULTS = Defaults()
