"""The pattern step grid of the Changes pane: finger-sized cells that scroll under a fixed header and track column.

A 64-step pattern cannot fit a tablet's width at 48 dp a cell, so the cells scroll sideways (and
up and down past ``VISIBLE_ROWS`` tracks) while the step numbers stay above them and the track
names stay beside them. The grid opens scrolled to its first changed step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.graphics import Color, Line, Rectangle
from kivy.metrics import dp
from kivy.properties import DictProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from .dialogs import FullTextLabel
from .rows import CELL_COLORS

CELL = 48.0  # dp: one step of one track, the smallest comfortable touch target
HEADER = 28.0  # dp: the step numbers (read, not tapped)
NAMES = 120.0  # dp: the track-name column
VISIBLE_ROWS = 5  # tracks shown at once; more scroll inside the grid


def first_change(grid: dict[str, Any]) -> tuple[int, int] | None:
    """Return (step, track row) of the first changed cell in step order, or None when no cell changed."""
    tracks = list(grid.get("tracks", []))
    changed = [
        (int(c["step"]), tracks.index(c["track"]))
        for c in grid.get("cells", [])
        if c["change"] != "same" and c["track"] in tracks
    ]
    return min(changed) if changed else None


class StepGrid(Widget):
    """Tracks × steps at 48 dp a cell; changed cells highlighted. A tap sets ``picked`` to its old → new text."""

    grid = DictProperty({})
    picked = StringProperty("")
    picked_cell = ListProperty([])  # [row, step] of the tapped cell, framed

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size_hint = (None, None)
        self.bind(pos=self._draw, size=self._draw, grid=self._resize, picked_cell=self._draw)
        self._resize()

    def _resize(self, *_args: Any) -> None:
        self.size = (dp(CELL) * self.steps(), dp(CELL) * max(1, len(self.grid.get("tracks", []))))
        self._draw()

    def steps(self) -> int:
        """Return the pattern's length in steps."""
        return max(1, int(self.grid.get("length", 16)))

    def cell_size(self) -> tuple[float, float]:
        """Return one cell's width and height."""
        tracks = max(1, len(self.grid.get("tracks", [])))
        return self.width / self.steps(), self.height / tracks

    def cell_pos(self, track: str, step: int) -> tuple[float, float]:
        """Return a cell's centre in this widget's parent coordinates."""
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
            for row in range(len(tracks) + 1):
                Line(points=[self.x, self.top - row * h, self.right, self.top - row * h], width=1)
            for step in range(self.steps() + 1):
                # Every fourth step (a beat) gets a stronger line, as in a tracker.
                Line(points=[self.x + step * w, self.y, self.x + step * w, self.top], width=1.5 if step % 4 == 0 else 1)
            for cell in self.grid.get("cells", []):
                if cell["track"] not in tracks:
                    continue
                Color(*CELL_COLORS.get(cell["change"], CELL_COLORS["same"]))
                row = tracks.index(cell["track"])
                Rectangle(pos=(self.x + cell["step"] * w + 3, self.top - (row + 1) * h + 3), size=(w - 6, h - 6))
            if self.picked_cell:
                row, step = self.picked_cell
                Color(1, 1, 1, 0.95)
                Line(rectangle=(self.x + step * w + 1, self.top - (row + 1) * h + 1, w - 2, h - 2), width=2)

    def on_touch_down(self, touch: Any) -> bool:
        """Show the tapped cell's old → new content and frame it."""
        if not self.collide_point(*touch.pos):
            return False
        w, h = self.cell_size()
        step = int((touch.x - self.x) // w)
        row = int((self.top - touch.y) // h)
        tracks = self.grid.get("tracks", [])
        if not (0 <= row < len(tracks) and 0 <= step < self.steps()):
            return False
        self.pick(row, step)
        return True

    def pick(self, row: int, step: int) -> None:
        """Frame a cell and set ``picked`` to its old → new content."""
        track = self.grid.get("tracks", [])[row]
        found = [c for c in self.grid.get("cells", []) if c["track"] == track and c["step"] == step]
        self.picked = found[0]["detail"] if found else f"{track} · step {step}: empty in both"
        self.picked_cell = [row, step]


def _still_scroll(**kwargs: Any) -> ScrollView:
    """A clipping view that only follows the cells' scrolling (a finger does not move it by itself)."""
    return ScrollView(do_scroll_x=False, do_scroll_y=False, bar_width=0, **kwargs)


class StepGridPane(BoxLayout):
    """A step grid with its step numbers above and track names beside it, all scrolling together."""

    def __init__(self, grid: dict[str, Any], show_full: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, **kwargs)
        tracks = list(grid.get("tracks", []))
        self.cells = StepGrid(grid=grid)
        rows = max(1, min(len(tracks), VISIBLE_ROWS))
        self.height = dp(HEADER) + dp(CELL) * rows

        top = BoxLayout(size_hint_y=None, height=dp(HEADER))
        top.add_widget(
            Label(text="step", size_hint_x=None, width=dp(NAMES), font_size="13sp", color=(0.7, 0.75, 0.8, 1))
        )
        self.header = _still_scroll()
        numbers = BoxLayout(size_hint=(None, 1), width=self.cells.width)
        for step in range(self.cells.steps()):
            beat = step % 4 == 0
            color = (1, 0.9, 0.55, 1) if beat else (0.7, 0.75, 0.8, 1)
            numbers.add_widget(Label(text=str(step), font_size="13sp", bold=beat, color=color))
        self.header.add_widget(numbers)
        top.add_widget(self.header)

        body = BoxLayout()
        self.names = _still_scroll(size_hint_x=None, width=dp(NAMES))
        column = BoxLayout(orientation="vertical", size_hint_y=None, height=self.cells.height)
        self.track_labels: list[FullTextLabel] = []
        for name in tracks:
            label = FullTextLabel(text=name, font_size="13sp", padding=(dp(4), 0), show_full=show_full)
            column.add_widget(label)
            self.track_labels.append(label)
        self.names.add_widget(column)
        many = len(tracks) > VISIBLE_ROWS
        self.scroll = ScrollView(do_scroll_x=True, do_scroll_y=many, bar_width=dp(4), scroll_type=["bars", "content"])
        self.scroll.add_widget(self.cells)
        self.scroll.bind(scroll_x=self.header.setter("scroll_x"), scroll_y=self.names.setter("scroll_y"))
        # Opened (or resized, e.g. turned upright) on the first change, not on step 0.
        self.scroll.bind(size=self.show_first_change)
        body.add_widget(self.names)
        body.add_widget(self.scroll)
        self.add_widget(top)
        self.add_widget(body)

    def show_first_change(self, *_args: Any) -> None:
        """Scroll so that the first changed step shows near the left, one step of context before it."""
        first = first_change(self.cells.grid)
        if first is None:
            return
        step, row = first
        spare_x = self.cells.width - self.scroll.width
        if spare_x > 0:
            self.scroll.scroll_x = min(1.0, max(0.0, (step - 1) * dp(CELL) / spare_x))
        spare_y = self.cells.height - self.scroll.height
        if spare_y > 0:
            self.scroll.scroll_y = 1.0 - min(1.0, max(0.0, (row - 1) * dp(CELL) / spare_y))
        self.header.scroll_x, self.names.scroll_y = self.scroll.scroll_x, self.scroll.scroll_y

    def visible_steps(self) -> range:
        """Return the steps whose whole cell shows in the grid's view."""
        spare = max(0.0, self.cells.width - self.scroll.width)
        left = self.scroll.scroll_x * spare
        first = int(-(-left // dp(CELL)))
        last = int((left + self.scroll.width) // dp(CELL))
        return range(first, min(last, self.cells.steps()))
