"""Printing: one JSON document with ``--json``, human text otherwise; progress only on a TTY."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from casstore import human_bytes

__all__ = ["Progress", "emit_json", "human_bytes"]


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False))


class Progress:
    """A one-line progress meter on stderr, shown only when stderr is a terminal and not in --json."""

    def __init__(self, label: str, enabled: bool, unit: str = "bytes") -> None:
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self.unit = unit
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        """Report ``done`` of ``total``."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        shown = f"{human_bytes(done)} / {human_bytes(total)}" if self.unit == "bytes" else f"{done} / {total}"
        percent = f"{100 * done // total:3d}%" if total else "100%"
        sys.stderr.write(f"\r{self.label}: {percent} ({shown})\x1b[K")
        sys.stderr.flush()

    def finish(self) -> None:
        """Clear the progress line."""
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
