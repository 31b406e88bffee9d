"""The history list's rows: one version per row, its kind as a colour bar, its texts cut at word boundaries."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.recycleview.views import RecycleDataViewBehavior


class LineLabel(Label):
    """One line of text cut at a word boundary; tapping its row shows the whole text in the Version pane."""


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

    def on_release(self) -> None:
        """Select or deselect this version."""
        root = _viewer_of(self)
        if root is not None:
            root.vm.toggle_select(self.commit)
            root.show_tab("version" if len(root.vm.selected) < 2 else "changes")


def _viewer_of(widget: Any) -> Any:
    """Return the window's root (the widget that switches panes), or None when not in the window."""
    while widget is not None and not hasattr(widget, "show_tab"):
        widget = widget.parent
    return widget
