"""The viewer's own preferences (the import dialog's last folder), in the user's config folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def settings_path() -> Path:
    """Return ``$XDG_CONFIG_HOME/casstore/viewer.json`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "casstore" / "viewer.json"


def load_settings() -> dict[str, Any]:
    """Return the saved preferences, or none when there are none (or they are unreadable)."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(data: dict[str, Any]) -> None:
    """Write the preferences whole or not at all (temp file, fsync, rename); a failure is only skipped."""
    target = settings_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".viewer-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except OSError:
        pass  # a preference that cannot be saved is not worth stopping the viewer for
