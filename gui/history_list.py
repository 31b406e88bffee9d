"""The history list's rows: one version per row, its kind as a colour bar, its texts cut at word boundaries.

A tap selects the version; holding a row still for ``LONG_PRESS_S`` shows its whole title and
details in a popup instead (a tablet has no hover to show a cut text).
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.recycleview.views import RecycleDataViewBehavior

LONG_PRESS_S = 0.6
HOLD_SLOP_DP = 12  # a finger that moves further is scrolling, not holding


class HistoryRow(RecycleDataViewBehavior, ButtonBehavior, BoxLayout):
    """One version in the history list; its colour bar tells the kind at a glance."""

    commit = StringProperty("")
    kind = StringProperty("")
    text = StringProperty("")
    detail = StringProperty("")
    kind_color = ListProperty([0.8, 0.8, 0.8, 1])
    selected = BooleanProperty(False)
    focused = BooleanProperty(False)
    damaged = BooleanProperty(False)
    depth = NumericProperty(0)
    long_pressed = BooleanProperty(False)  # the touch under way was a hold: its release selects nothing

    def on_touch_down(self, touch: Any) -> bool:
        """Start timing a hold, then behave as a button."""
        if self.collide_point(*touch.pos) and not touch.is_mouse_scrolling:
            self.long_pressed = False
            touch.ud[self._hold_key()] = Clock.schedule_once(lambda _dt: self._held(touch), LONG_PRESS_S)
        return bool(super().on_touch_down(touch))

    def on_touch_move(self, touch: Any) -> bool:
        """A finger that moves away is scrolling: it is no longer a hold."""
        event = touch.ud.get(self._hold_key())
        if event is not None and max(_travel(touch)) > dp(HOLD_SLOP_DP):
            event.cancel()
        return bool(super().on_touch_move(touch))

    def on_touch_up(self, touch: Any) -> bool:
        """Stop timing the hold."""
        event = touch.ud.pop(self._hold_key(), None)
        if event is not None:
            event.cancel()
        return bool(super().on_touch_up(touch))

    def _hold_key(self) -> str:
        return f"history-row-hold-{id(self)}"

    def _held(self, touch: Any) -> None:
        touch.ud.pop(self._hold_key(), None)
        root = _viewer_of(self)
        if root is None or not self.text:
            return
        self.long_pressed = True
        root.show_text("\n".join(t for t in (self.text, self.detail) if t), title="Version")

    def on_release(self) -> None:
        """Select or deselect this version (unless the touch was a hold, which showed the full text)."""
        if self.long_pressed:
            self.long_pressed = False
            return
        root = _viewer_of(self)
        if root is not None:
            root.vm.toggle_select(self.commit)
            root.show_tab("version" if len(root.vm.selected) < 2 else "changes")


def _viewer_of(widget: Any) -> Any:
    """Return the window's root (the widget that switches panes), or None when not in the window."""
    while widget is not None and not hasattr(widget, "show_tab"):
        widget = widget.parent
    return widget


def _travel(touch: Any) -> tuple[float, float]:
    """How far the touch has moved since it went down."""
    return abs(touch.x - touch.ox), abs(touch.y - touch.oy)
