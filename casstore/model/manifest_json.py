"""Manifest JSON as bytes become data: strict decoding (no NaN, no repeated keys) and the version rule.

Shared by the strict validator (manifest.py, for import) and the lenient reader
(manifest_view.py, for display), so showing or autosaving a directory does not load the
validator's record classes.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from casstore.errors import ManifestError

SUPPORTED_MAJOR = 1
# ASCII digits only: ``\d`` would take any Unicode digit (``١.0.0`` read as major 1).
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")


def _join(location: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{location}[{key}]"
    return f"{location}.{key}" if location else key


def version_problem(value: object) -> str | None:
    """Say why ``value`` is not a ``manifest_version`` this casstore reads (1.x), or None."""
    if not isinstance(value, str):
        return "Input should be a valid string"
    match = _VERSION.fullmatch(value)
    if not match:
        return f"{value!r} is not a MAJOR.MINOR.PATCH version"
    if int(match.group(1)) != SUPPORTED_MAJOR:
        return f"version {value} is not supported (this casstore reads {SUPPORTED_MAJOR}.x)"
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]}{'…' if len(text) > 20 else ''} is too large for a float")
    return value


def decode_json(raw: bytes, source: str) -> tuple[Any, str | None]:
    """Decode manifest JSON; return it and, if an object names a key twice (the last value kept), where.

    Raises :class:`ManifestError` for bytes that are not JSON at all (not UTF-8, NaN, too deep).
    """
    repeated: dict[int, tuple[str, dict[str, Any]]] = {}  # holding the object keeps its id unique

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj and id(obj) not in repeated:
                repeated[id(obj)] = (key, obj)
            obj[key] = value
        return obj

    try:
        data = json.loads(
            raw.decode("utf-8"), object_pairs_hook=pairs_hook, parse_constant=_refuse_constant, parse_float=_finite
        )
    except UnicodeDecodeError:
        raise ManifestError(f"{source}: not UTF-8 text") from None
    except RecursionError:
        raise ManifestError(f"{source}: invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise ManifestError(f"{source}: invalid JSON: {exc}") from None
    if not repeated:
        return data, None
    location, key = _first_repeat(data, repeated)
    return data, f"{location}: duplicate key {key!r}"


def load_json_once(raw: bytes, source: str) -> Any:
    """Decode manifest JSON, refusing any object that names a key twice (at any depth), with where.

    ``json.loads`` keeps the last of two equal keys, so a corrupted export that repeats
    ``sha256`` or ``bpm`` would pass with one value silently dropped.
    """
    data, repeated = decode_json(raw, source)
    if repeated:
        raise ManifestError(
            f"{source}: {repeated} (a JSON object names each key once; the earlier value would be silently lost)"
        )
    return data


def _first_repeat(data: Any, repeated: dict[int, tuple[str, dict[str, Any]]]) -> tuple[str, str]:
    """Find, in document order and without recursion, the first object that repeats a key."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        location, value = stack.pop()
        if isinstance(value, dict):
            if id(value) in repeated:
                return location or "(top level)", repeated[id(value)][0]
            stack.extend((_join(location, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((_join(location, index), item) for index, item in reversed(list(enumerate(value))))
    raise AssertionError("a repeated key was recorded but not found")
