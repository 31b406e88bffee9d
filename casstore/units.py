"""Quantities as people read them (sizes), shared by every layer and front end."""

from __future__ import annotations


def human_bytes(count: int) -> str:
    """Format a byte count the way people read sizes."""
    if count < 1024:
        return f"{count} B"
    size = float(count)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"
