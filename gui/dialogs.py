"""Dialogs: a yes/no question, naming a version, and a folder or file chooser that shows where it is."""

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


class ChoiceDialog(Popup):
    """A question with two answers; Escape (or a tap outside) answers no."""

    message = StringProperty("")
    yes_text = StringProperty("Yes")
    no_text = StringProperty("Cancel")
    on_choice = ObjectProperty(None, allownone=True)

    def choose(self, yes: bool) -> None:
        """Answer and close."""
        callback, self.on_choice = self.on_choice, None
        self.dismiss()
        if callback is not None:
            callback(yes)

    def on_dismiss(self) -> None:
        """Closing without a choice answers no."""
        callback, self.on_choice = self.on_choice, None
        if callback is not None:
            callback(False)


class NameDialog(Popup):
    """Ask for a version's name."""

    on_name = ObjectProperty(None, allownone=True)

    def submit(self) -> None:
        """Pass the typed name on and close."""
        name = self.ids.name.text.strip()
        if name and self.on_name is not None:
            self.on_name(name)
        self.dismiss()


class FolderChooser(Popup):
    """A chooser that shows its current folder; ``accept`` passes the chosen path (or the folder itself)."""

    start_path = StringProperty(str(Path.cwd()))
    filters = ListProperty([])
    hint = StringProperty("")
    accept_text = StringProperty("Open")
    on_accept = ObjectProperty(None, allownone=True)
    on_folder = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ids.chooser.bind(path=self._moved)

    def _moved(self, _chooser: Any, path: str) -> None:
        if self.on_folder is not None:
            self.on_folder(path)

    def chosen(self) -> str:
        """Return the selected entry, or the folder on show when nothing is selected."""
        selection = self.ids.chooser.selection
        return str(selection[0]) if selection else str(self.ids.chooser.path)

    def accept(self) -> None:
        """Pass the choice on and close."""
        callback: Callable[[str], None] | None = self.on_accept
        path = self.chosen()
        self.dismiss()
        if callback is not None:
            callback(path)
