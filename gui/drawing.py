"""Widgets that draw data with the canvas: the pattern step grid and the waveform thumbnail."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Line, Rectangle
from kivy.metrics import dp
from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from .rows import CELL_COLORS

LABEL_WIDTH = 0.22  # of the grid's width, for the track names drawn beside it


class StepGrid(Widget):
    """Tracks × steps; changed cells highlighted. Tapping a cell sets ``picked`` to its old → new text."""

    grid = DictProperty({})
    picked = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, grid=self._draw)

    def cell_size(self) -> tuple[float, float]:
        """Return one cell's width and height."""
        tracks = max(1, len(self.grid.get("tracks", [])))
        steps = max(1, int(self.grid.get("length", 16)))
        return self.width / steps, self.height / tracks

    def cell_pos(self, track: str, step: int) -> tuple[float, float]:
        """Return the window-free (parent) coordinates of a cell's centre."""
        w, h = self.cell_size()
        row = self.grid.get("tracks", []).index(track)
        return self.x + (step + 0.5) * w, self.top - (row + 0.5) * h

    def _draw(self, *_args: Any) -> None:
        self.canvas.clear()
        w, h = self.cell_size()
        tracks = self.grid.get("tracks", [])
        with self.canvas:
            Color(0.14, 0.14, 0.17, 1)
            Rectangle(pos=self.pos, size=self.size)
            Color(0.22, 0.22, 0.26, 1)
            for beat in range(0, int(self.grid.get("length", 16)), 4):
                Line(points=[self.x + beat * w, self.y, self.x + beat * w, self.top], width=1)
            for cell in self.grid.get("cells", []):
                if cell["track"] not in tracks:
                    continue
                Color(*CELL_COLORS.get(cell["change"], CELL_COLORS["same"]))
                row = tracks.index(cell["track"])
                Rectangle(
                    pos=(self.x + cell["step"] * w + 1, self.top - (row + 1) * h + 1),
                    size=(max(1.0, w - 2), max(1.0, h - 2)),
                )

    def on_touch_down(self, touch: Any) -> bool:
        """Show the tapped cell's old → new content."""
        if not self.collide_point(*touch.pos):
            return False
        w, h = self.cell_size()
        step = int((touch.x - self.x) // w)
        row = int((self.top - touch.y) // h)
        tracks = self.grid.get("tracks", [])
        track = tracks[row] if 0 <= row < len(tracks) else ""
        found = [c for c in self.grid.get("cells", []) if c["track"] == track and c["step"] == step]
        self.picked = found[0]["detail"] if found else f"{track} · step {step}: empty"
        return True


class WaveformView(Widget):
    """Min/max envelopes drawn as vertical bars; a second envelope (``overlay``) is drawn on top.

    A tap calls ``tap_action`` (it chooses the sample Space plays); ``chosen`` draws a frame around it.
    """

    mins = ListProperty([])
    maxs = ListProperty([])
    overlay_mins = ListProperty([])
    overlay_maxs = ListProperty([])
    color = ListProperty([0.35, 0.65, 1.0, 0.9])
    overlay_color = ListProperty([1.0, 0.7, 0.2, 0.7])
    duration = NumericProperty(0)
    chosen = BooleanProperty(False)
    tap_action = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size_hint_y = None
        self.height = dp(56)
        for name in ("pos", "size", "mins", "maxs", "overlay_mins", "overlay_maxs", "chosen"):
            self.bind(**{name: self._draw})

    def _bars(self, mins: list[float], maxs: list[float]) -> None:
        if not mins:
            return
        step = self.width / len(mins)
        middle = self.center_y
        half = self.height / 2 - 1
        for i, (low, high) in enumerate(zip(mins, maxs, strict=False)):
            Rectangle(pos=(self.x + i * step, middle + low * half), size=(max(1.0, step - 0.5), (high - low) * half))

    def _draw(self, *_args: Any) -> None:
        self.canvas.clear()
        with self.canvas:
            Color(0.1, 0.1, 0.13, 1)
            Rectangle(pos=self.pos, size=self.size)
            Color(*self.color)
            self._bars(list(self.mins), list(self.maxs))
            Color(*self.overlay_color)
            self._bars(list(self.overlay_mins), list(self.overlay_maxs))
            if self.chosen:
                Color(1, 1, 1, 0.9)
                Line(rectangle=(self.x + 1, self.y + 1, self.width - 2, self.height - 2), width=1.5)

    def on_touch_down(self, touch: Any) -> bool:
        """Choose this sample."""
        if self.collide_point(*touch.pos) and self.tap_action is not None:
            self.tap_action()
            return True
        return bool(super().on_touch_down(touch))
