"""Dialogs: a yes/no question, a full text, naming a version, and a folder or file chooser that shows where it is.

Also the labels: one that wraps and grows, one cut at a word boundary, and one whose cut text opens in full on a tap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.label import Label
from kivy.uix.popup import Popup


class WrapLabel(Label):
    """A label that wraps at word boundaries and grows to show all its text."""

    heading = BooleanProperty(False)


class LineLabel(Label):
    """One line of text cut at a word boundary (the history rows show the whole text on a long-press)."""

    def is_cut(self) -> bool:
        """Tell whether the text is longer than the line it sits on (and so shows cut)."""
        if not self.text:
            return False
        width = self._label.get_extents(self.text)[0]
        return bool(width > self.width - 2 * self.padding_x + 1)


class FullTextLabel(LineLabel):
    """A one-line label (the status line) that shows its whole text in a popup when tapped while cut."""

    show_full = ObjectProperty(None, allownone=True)

    def on_touch_down(self, touch: Any) -> bool:
        """Open the whole text when this line is cut; otherwise let the tap pass."""
        if self.collide_point(*touch.pos) and self.is_cut() and self.show_full is not None:
            self.show_full(self.text)
            return True
        return bool(super().on_touch_down(touch))


class TextDialog(Popup):
    """A text shown whole (a line that was cut), with one Close button; Escape closes it too."""

    message = StringProperty("")


class ChoiceDialog(Popup):
    """A question with two answers; Escape (or a tap outside) answers no."""

    message = StringProperty("")
    yes_text = StringProperty("Yes")
    no_text = StringProperty("Cancel")
    # Callbacks are not named on_*: Kivy takes on_* keyword arguments as event bindings, not values.
    choice_action = ObjectProperty(None, allownone=True)

    def choose(self, yes: bool) -> None:
        """Answer and close."""
        callback, self.choice_action = self.choice_action, None
        self.dismiss()
        if callback is not None:
            callback(yes)

    def on_dismiss(self) -> None:
        """Closing without a choice answers no."""
        callback, self.choice_action = self.choice_action, None
        if callback is not None:
            callback(False)


class NameDialog(Popup):
    """Ask for a version's name."""

    name_action = ObjectProperty(None, allownone=True)

    def submit(self) -> None:
        """Pass the typed name on and close."""
        name = self.ids.name.text.strip()
        if name and self.name_action is not None:
            self.name_action(name)
        self.dismiss()


class FolderChooser(Popup):
    """A chooser that shows its current folder; ``accept`` passes the chosen path (or the folder itself)."""

    start_path = StringProperty(str(Path.cwd()))
    filters = ListProperty([])
    hint = StringProperty("")
    accept_text = StringProperty("Open")
    accept_action = ObjectProperty(None, allownone=True)
    folder_action = ObjectProperty(None, allownone=True)
    note_action = ObjectProperty(None, allownone=True)  # folder -> a line about what it holds
    note = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ids.chooser.bind(path=self._moved)
        self._moved(None, self.ids.chooser.path, remember=False)

    def _moved(self, _chooser: Any, path: str, remember: bool = True) -> None:
        if self.note_action is not None:
            self.note = self.note_action(path)
        if remember and self.folder_action is not None:
            self.folder_action(path)

    def chosen(self) -> str:
        """Return the selected entry, or the folder on show when nothing is selected."""
        selection = self.ids.chooser.selection
        return str(selection[0]) if selection else str(self.ids.chooser.path)

    def accept(self) -> None:
        """Pass the choice on and close."""
        callback: Callable[[str], None] | None = self.accept_action
        path = self.chosen()
        self.dismiss()
        if callback is not None:
            callback(path)
