"""Fuzzing helpers: case budgets, byte and JSON mutation strategies, and the one allowed outcome.

Every target is given mostly-valid input (a real manifest, zip, tree, commit, pack or index,
mutated) and some raw random bytes; it may succeed or raise a CasstoreError, nothing else.
``CASSTORE_FUZZ_EXAMPLES=N`` runs N cases for each target (``make fuzz``: 1,250 each).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from casstore.errors import CasstoreError

DEFAULT_EXAMPLES = 40
# Generous on a 2-core machine shared with other jobs; a hang never finishes at all.
DEADLINE = timedelta(seconds=20)
COUNTS: dict[str, int] = {}
OUTCOMES: dict[str, dict[str, int]] = {}

T = TypeVar("T")


def examples() -> int:
    """Cases per target: ``CASSTORE_FUZZ_EXAMPLES`` or a modest default for ``make test``."""
    return int(os.environ.get("CASSTORE_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))


def fuzz_settings() -> settings:
    """Hypothesis settings for one fuzz target: the case budget, a per-case deadline, no database."""
    return settings(
        max_examples=examples(),
        deadline=DEADLINE,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


def outcome(target: str, call: Callable[[], T], count: bool = True) -> T | CasstoreError:
    """Run ``call``; return its result or the CasstoreError it raised (anything else propagates).

    ``count`` adds the call to the target's case count (off for the extra calls of one case).
    """
    if count:
        COUNTS[target] = COUNTS.get(target, 0) + 1
    tally = OUTCOMES.setdefault(target, {})
    try:
        result = call()
    except CasstoreError as exc:
        assert str(exc) and "\n" not in str(exc).strip(), f"not one line: {exc!r}"
        tally[type(exc).__name__] = tally.get(type(exc).__name__, 0) + 1
        return exc
    tally["ok"] = tally.get("ok", 0) + 1
    return result


_EXTREMES = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF]


def _apply(seed: bytes, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for op, where, amount, blob in ops:
        if not data and op != "insert":
            continue
        at = where % (len(data) + 1) if op == "insert" else where % len(data)
        if op == "flip":
            data[at] ^= 1 << (amount % 8)
        elif op == "byte":
            data[at] = amount & 0xFF
        elif op == "truncate":
            del data[at:]
        elif op == "delete":
            del data[at : at + 1 + amount % 64]
        elif op == "insert":
            data[at:at] = blob
        elif op == "duplicate":
            data[at:at] = data[at : at + 1 + amount % 256]
        elif op == "number":
            width = (2, 4, 8)[amount % 3]
            value = _EXTREMES[(amount // 3) % len(_EXTREMES)] & ((1 << (8 * width)) - 1)
            data[at : at + width] = value.to_bytes(width, "little" if amount % 2 else "big")
    return bytes(data)


_OPS = st.tuples(
    st.sampled_from(["flip", "flip", "flip", "byte", "truncate", "delete", "insert", "duplicate", "number"]),
    st.integers(min_value=0, max_value=1 << 32),
    st.integers(min_value=0, max_value=1 << 16),
    st.binary(max_size=64),
)


def mutated(seed: bytes, hot: list[int] | None = None) -> st.SearchStrategy[bytes]:
    """``seed`` with 1-6 mutations (bit flips, truncation, splices, extreme integers), or raw bytes.

    ``hot`` lists offsets (headers, length fields) that half of the mutations aim at.
    """

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        ops = draw(st.lists(_OPS, min_size=1, max_size=6))
        if hot:
            aimed = []
            for op, where, amount, blob in ops:
                if draw(st.booleans()):
                    where = hot[where % len(hot)] + draw(st.integers(min_value=0, max_value=31))
                aimed.append((op, where, amount, blob))
            ops = aimed
        return _apply(seed, ops)

    return st.one_of(build(), build(), build(), st.binary(max_size=4096))


_DEPTH = st.integers(min_value=1, max_value=200_000)


def _nasty_json() -> st.SearchStrategy[str]:
    """JSON text that has broken parsers: deep nesting, huge numbers, NaN, odd unicode, repeated keys."""
    return st.one_of(
        _DEPTH.map(lambda d: "[" * d + "]" * d),
        _DEPTH.map(lambda d: '{"a":' * d + "1" + "}" * d),
        _DEPTH.map(lambda d: "[" * d),
        st.integers(min_value=300, max_value=20_000).map(lambda n: "9" * n),
        st.integers(min_value=300, max_value=20_000).map(lambda n: "-" + "1" * n + ".5"),
        st.sampled_from(
            [
                "1e999",
                "-1e999",
                "1e-999",
                "NaN",
                "Infinity",
                "-Infinity",
                "18446744073709551616",
                "-0",
                "0.1e400",
                "null",
                "true",
                '"\\ud800"',
                '"\\udcff/x"',
                '"a\\u0000b"',
                '"../../etc/passwd"',
                '"/abs"',
                '"a/./b"',
                '"\\u202e\\u0301"',
                '{"k":1,"k":2}',
                "[" + "0," * 100_000 + "0]",
                '"' + "x" * 100_000 + '"',
            ]
        ),
        st.text(max_size=40).map(json.dumps),
        st.text(max_size=40).map(lambda t: json.dumps(t, ensure_ascii=False)),
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
    )


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*here, index))
    return found


_HOLE = "@@fuzz-hole@@"


def json_mutated(doc: Any, dump: Callable[[Any], str] = json.dumps) -> st.SearchStrategy[bytes]:
    """``doc`` with one node replaced by nasty JSON text, or a key dropped or repeated."""
    paths = _paths(doc)

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "replace", "drop", "repeat"]))
        copy = json.loads(json.dumps(doc))
        parent, key = None, None
        node = copy
        for step in path:
            parent, key, node = node, step, node[step]
        if parent is None or action == "replace":
            if parent is None:
                copy = _HOLE
            else:
                parent[key] = _HOLE
            return dump(copy).replace(json.dumps(_HOLE), draw(_nasty_json()), 1).encode("utf-8", "surrogatepass")
        if action == "drop":
            del parent[key]
            return dump(copy).encode()
        text = dump(copy)
        if isinstance(parent, dict):
            marker = json.dumps(key) + ":"
            at = text.find(marker)
            if at < 0:
                marker = json.dumps(key) + ": "
                at = text.find(marker)
            extra = json.dumps(key) + ": " + draw(_nasty_json()) + ", "
            return (text[:at] + extra + text[at:]).encode("utf-8", "surrogatepass")
        return text.encode()

    return build()
