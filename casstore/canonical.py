"""Canonical JSON: UTF-8, sorted keys, 2-space indent, one trailing newline, no NaN."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes (sorted keys, 2-space indent, newline)."""
    text = json.dumps(
        value,
        sort_keys=True,
        indent=2,
        separators=(",", ": "),
        ensure_ascii=False,
        allow_nan=False,
    )
    return (text + "\n").encode("utf-8")


def dumps_line(value: Any) -> bytes:
    """Encode ``value`` as one compact JSON line with sorted keys (reflogs, JSON lines output)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def loads(raw: bytes | str) -> Any:
    """Decode JSON, refusing NaN and Infinity (which canonical JSON never holds)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw, parse_constant=_refuse_constant)


def is_canonical(raw: bytes) -> bool:
    """Tell whether ``raw`` is exactly the canonical encoding of what it holds."""
    try:
        return dumps(loads(raw)) == raw
    except (ValueError, UnicodeDecodeError):
        return False
