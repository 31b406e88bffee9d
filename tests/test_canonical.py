"""Canonical JSON: one encoding per value, and decoding gives the value back."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casstore.storage import canonical

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@given(json_values)
def test_round_trip_gives_the_value_back(value: object) -> None:
    assert canonical.loads(canonical.dumps(value)) == value


@given(json_values)
def test_encoding_is_a_fixed_point(value: object) -> None:
    once = canonical.dumps(value)
    assert canonical.dumps(canonical.loads(once)) == once
    assert canonical.is_canonical(once)


@given(st.dictionaries(st.text(max_size=6), st.integers(), min_size=2, max_size=6))
def test_key_order_does_not_change_the_bytes(mapping: dict[str, int]) -> None:
    reordered = dict(reversed(list(mapping.items())))
    assert canonical.dumps(mapping) == canonical.dumps(reordered)


def test_form_is_sorted_two_space_utf8_with_one_newline() -> None:
    assert canonical.dumps({"b": 1, "a": ["é", 2.5]}) == '{\n  "a": [\n    "é",\n    2.5\n  ],\n  "b": 1\n}\n'.encode()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        canonical.dumps({"x": bad})
    with pytest.raises(ValueError):
        canonical.loads(b'{"x": NaN}')


def test_non_canonical_bytes_are_recognised() -> None:
    assert not canonical.is_canonical(b'{"b": 1, "a": 2}\n')
    assert not canonical.is_canonical(b'{\n  "a": 1\n}')  # no trailing newline
