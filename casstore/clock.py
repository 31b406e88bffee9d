"""Time in the one format casstore records: ISO-8601 UTC to the second."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def utc_now() -> datetime:
    """Return now in UTC; ``CASSTORE_NOW`` (ISO-8601) pins it for reproducible runs."""
    pinned = os.environ.get("CASSTORE_NOW")
    if pinned:
        return parse_iso(pinned)
    return datetime.now(UTC).replace(microsecond=0)


def utc_now_iso() -> str:
    """Return now as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return format_iso(utc_now())


def format_iso(moment: datetime) -> str:
    """Format a datetime as ISO-8601 UTC with a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` or offset) into an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
