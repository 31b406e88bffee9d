"""Canonical JSON: UTF-8, sorted keys, 2-space indent, one trailing newline, no NaN."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
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


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf, which canonical JSON never holds
        raise ValueError(f"number {text[:20]} is too large for a float")
    return value


def loads(raw: bytes | str, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """Decode JSON, refusing NaN, Infinity and numbers past a float (which canonical JSON never holds).

    Every failure is a ValueError, so callers name the file or object: nesting deeper than
    Python's recursion limit too, and integers of more digits than Python converts.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite, object_hook=object_hook)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def is_canonical(raw: bytes) -> bool:
    """Tell whether ``raw`` is exactly the canonical encoding of what it holds."""
    try:
        return dumps(loads(raw)) == raw
    except (ValueError, UnicodeDecodeError):
        return False
