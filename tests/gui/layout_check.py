"""Walk a widget tree: visible widgets must not overlap, and no text may overflow its widget."""

from __future__ import annotations

from typing import Any

from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput

from casstore.gui.drawing import WaveformView
from casstore.gui.step_grid import StepGrid

LEAVES = (Label, TextInput, StepGrid, WaveformView)
Rect = tuple[float, float, float, float]


def _rect(widget: Any) -> Rect:
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


def _clip(a: Rect, b: Rect) -> Rect | None:
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[2] - box[0] > 1 and box[3] - box[1] > 1 else None


def visible_leaves(root: Any, window: Rect) -> list[tuple[Any, Rect]]:
    """Every drawn leaf widget with the part of it that shows (clipped by scrolling panes and the window)."""
    found: list[tuple[Any, Rect]] = []

    def walk(widget: Any, clip: Rect) -> None:
        if widget.opacity == 0:
            return
        shown = _clip(_rect(widget), clip)
        if shown is None:
            return
        if isinstance(widget, LEAVES):
            found.append((widget, shown))
            return
        inner = shown if isinstance(widget, ScrollView) else clip
        for child in widget.children:
            walk(child, inner)

    walk(root, window)
    return found


def layout_problems(root: Any, window_size: tuple[int, int]) -> list[str]:
    """Name every overlap of two visible widgets and every text bigger than its widget."""
    leaves = visible_leaves(root, (0, 0, *window_size))
    problems = []
    for index, (a, ra) in enumerate(leaves):
        for b, rb in leaves[index + 1 :]:
            if _clip(ra, rb) is not None:
                problems.append(f"overlap: {_name(a)} {ra} and {_name(b)} {rb}")
        if isinstance(a, Label) and a.text and not isinstance(a, TextInput):
            a.texture_update()
            width, height = a.texture_size
            if width > a.width + 2 or height > a.height + 2:
                problems.append(f"overflow: {_name(a)} text {width}x{height} in {a.width:.0f}x{a.height:.0f}")
    return problems


def _name(widget: Any) -> str:
    text = getattr(widget, "text", "")
    return f"{type(widget).__name__}({text[:40]!r})" if text else type(widget).__name__


def small_targets(root: Any, window_size: tuple[int, int], least_dp: float = 48) -> list[str]:
    """Name every visible thing a finger taps (buttons, rows, text fields, waveforms, grid cells) under ``least_dp``."""
    from kivy.metrics import dp
    from kivy.uix.behaviors import ButtonBehavior

    found = []

    def walk(widget: Any, clip: Rect) -> None:
        if widget.opacity == 0:
            return
        rect = _rect(widget)
        if _clip(rect, clip) is None:
            return
        tappable = isinstance(widget, ButtonBehavior | TextInput | WaveformView)
        if tappable and (widget.height < dp(least_dp) - 0.5 or widget.width < dp(least_dp) - 0.5):
            found.append(f"small target: {_name(widget)} {widget.width:.0f}x{widget.height:.0f}")
        if isinstance(widget, StepGrid):  # each cell of the grid is a target of its own
            width, height = widget.cell_size()
            if height < dp(least_dp) - 0.5 or width < dp(least_dp) - 0.5:
                found.append(f"small target: a step-grid cell {width:.0f}x{height:.0f}")
        inner = _clip(rect, clip) if isinstance(widget, ScrollView) else clip
        for child in widget.children:
            walk(child, inner or clip)

    walk(root, (0, 0, *window_size))
    return found
