"""The waveform thumbnail: a sample's min/max envelope drawn with the canvas (the step grid is in step_grid.py)."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Line, Rectangle
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty
from kivy.uix.widget import Widget


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
