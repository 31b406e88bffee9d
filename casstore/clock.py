"""Time in the one format casstore records: ISO-8601 UTC to the second."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta


def utc_now(precise: bool = False) -> datetime:
    """Return now in UTC (to the second unless ``precise``); ``CASSTORE_NOW`` pins it."""
    pinned = os.environ.get("CASSTORE_NOW")
    if pinned:
        return parse_iso(pinned)
    now = datetime.now(UTC)
    return now if precise else now.replace(microsecond=0)


def utc_now_iso() -> str:
    """Return now as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return format_iso(utc_now())


def format_iso(moment: datetime, precise: bool = False) -> str:
    """Format a datetime as ISO-8601 UTC with a ``Z`` (``precise``: with milliseconds)."""
    moment = moment.astimezone(UTC)
    if precise:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` or offset) into an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``30m``, ``12h``, ``3d``, ``2w`` (or ``0``/``now``) into a timedelta."""
    from casstore.errors import UsageError

    cleaned = text.strip().lower()
    if cleaned in ("0", "now"):
        return timedelta(0)
    total = 0
    number = ""
    for char in cleaned:
        if char.isdigit():
            number += char
        elif char in _UNITS and number:
            total += int(number) * _UNITS[char]
            number = ""
        else:
            raise UsageError(f"invalid duration {text!r}: use e.g. 90s, 30m, 12h, 3d, 2w (or 0)")
    if number:
        raise UsageError(f"invalid duration {text!r}: the number {number} has no unit (s, m, h, d or w)")
    return timedelta(seconds=total)
