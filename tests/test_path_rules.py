"""Path rules as properties: a refusal names the rule a path actually breaks."""

from __future__ import annotations

import posixpath

from hypothesis import given
from hypothesis import strategies as st

from casstore.model.paths import path_problem

names = st.text(alphabet="abcXYZ019_-é", min_size=1, max_size=8).filter(lambda n: n not in (".", ".."))


@st.composite
def detours(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A valid path, and the same path with '.', empty and 'x/..' detours that stay inside the bundle."""
    parts = draw(st.lists(names, min_size=1, max_size=5))
    noisy: list[str] = []
    for index, part in enumerate(parts):
        for _ in range(draw(st.integers(0, 2))):
            noisy += draw(st.sampled_from([["."], [""], [draw(names), ".."]]))
        noisy.append(part)
        if index == 0 and not noisy[0]:
            noisy.insert(0, ".")  # a leading empty component would make the path absolute
    return parts, noisy


@given(detours())
def test_a_detour_inside_the_bundle_is_not_normalised_never_an_escape(case: tuple[list[str], list[str]]) -> None:
    parts, noisy = case
    path = "/".join(noisy)
    problem = path_problem(path)
    if noisy == parts:
        assert problem is None
        return
    assert problem is not None and problem.startswith("is not normalised")
    assert "escapes" not in problem
    assert f"normalised it reads {'/'.join(parts)!r}" in problem
    assert posixpath.normpath(path) == "/".join(parts)


@given(st.lists(names, max_size=3), st.integers(1, 3), st.lists(names, min_size=1, max_size=3))
def test_climbing_above_the_top_escapes_the_bundle(down: list[str], extra: int, tail: list[str]) -> None:
    path = "/".join(down + [".."] * (len(down) + extra) + tail)
    assert path_problem(path) == "escapes the bundle ('..' climbs above its top)"


@given(st.integers(1, 300))
def test_a_name_is_refused_exactly_past_255_bytes(length: int) -> None:
    name = "é" * (length // 2) + "k" * (length % 2)  # 'é' is two bytes in UTF-8
    problem = path_problem(f"assets/{name}")
    if len(name.encode()) <= 255:
        assert problem is None
    else:
        assert problem == f"has a name of {len(name.encode())} bytes, longer than the filesystem limit of 255"
