"""Watch a working directory and autosave it: when changes settle (debounced), or every interval."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from casstore.model.paths import RESERVED_TOP
from casstore.storage.atomic import is_temp_beside
from casstore.storage.store import Store
from casstore.workdir.autosave import AutosaveResult, autosave

MIN_GAP_SECONDS = 1.0  # never autosave more than once per second


def directory_signature(root: Path) -> frozenset[tuple[str, int, int, int]]:
    """Return every file's (path, size, mtime_ns, inode): cheap, and changes when any file does."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in RESERVED_TOP]
        for name in filenames:
            if name in RESERVED_TOP or is_temp_beside(name):
                continue
            full = os.path.join(dirpath, name)
            try:
                info = os.stat(full)
            except OSError:
                continue  # vanished between listing and stat: the next poll sees it
            found.add((full, info.st_size, info.st_mtime_ns, info.st_ino))
    return frozenset(found)


class Watcher:
    """Autosaves ``root`` on a schedule; the clock and sleep are injectable so tests need no waiting."""

    def __init__(
        self,
        store: Store,
        root: Path,
        project: str | None,
        keep: int,
        interval: float,
        debounce: float,
        on_autosave: Callable[[AutosaveResult], None],
        poll: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.root = root.absolute()
        self.project = project
        self.keep = keep
        self.interval = interval
        self.debounce = debounce
        self.on_autosave = on_autosave
        self.poll = poll
        self.clock = clock
        self.sleep = sleep

    def _save(self) -> None:
        self.on_autosave(autosave(self.store, self.root, self.project, keep=self.keep))

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Autosave once now (a no-op when nothing changed), then watch until ``should_stop()``."""
        self._save()
        signature = directory_signature(self.root)
        last_save = self.clock()
        dirty_since: float | None = None
        last_change = last_save
        while not should_stop():
            self.sleep(self.poll)
            current = directory_signature(self.root)
            now = self.clock()
            if current != signature:
                signature = current
                last_change = now
                if dirty_since is None:
                    dirty_since = now
            if dirty_since is None or now - last_save < MIN_GAP_SECONDS:
                continue
            settled = now - last_change >= self.debounce
            # Measured from the burst's first change, not the last save: after a quiet hour the
            # first poll of a new burst must not save a half-written file at once.
            overdue = now - dirty_since >= self.interval
            if settled or overdue:
                self._save()
                last_save, dirty_since = self.clock(), None
