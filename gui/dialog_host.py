"""The questions and choosers the window opens: restore, quit, name a version, import, choose a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.properties import ObjectProperty

from .dialogs import ChoiceDialog, FolderChooser, NameDialog, TextDialog


class DialogHost:
    """Mixed into the window: opens one dialog at a time (``dialog``; Escape closes it)."""

    dialog = ObjectProperty(None, allownone=True)
    chooser = ObjectProperty(None, allownone=True)

    def _open(self, dialog: Any) -> Any:
        self.dialog = dialog
        dialog.bind(on_dismiss=lambda *_a: setattr(self, "dialog", None) if self.dialog is dialog else None)
        dialog.open()
        return dialog

    def show_text(self, text: str, title: str = "Full text") -> TextDialog:
        """Show a text in full (a line that was cut, tapped or held)."""
        return self._open(TextDialog(title=title, message=text))  # type: ignore[no-any-return]

    def _ask(self, *_args: Any) -> None:
        question = self.vm.confirm
        if not question:
            return
        dialog = ChoiceDialog(title=question["title"], message=question["text"], yes_text="Restore", no_text="Cancel")
        dialog.choice_action = self.vm.answer
        self._open(dialog)

    def ask_quit(self) -> None:
        """Escape outside a dialog: ask before quitting."""
        from kivy.app import App

        def quit_if(yes: bool) -> None:
            app = App.get_running_app()
            if yes and app is not None:
                app.stop()

        dialog = ChoiceDialog(title="Quit the viewer?", message="Nothing is lost: your versions stay in the store.")
        dialog.yes_text, dialog.no_text, dialog.choice_action = "Quit", "Stay", quit_if
        self._open(dialog)

    def open_name_dialog(self) -> NameDialog:
        """Ask for a name for the version on show."""
        dialog = NameDialog(name_action=self.vm.tag_current)
        return self._open(dialog)  # type: ignore[no-any-return]

    def open_import(self, start_path: str | None = None) -> FolderChooser:
        """Open the import chooser: bundle folders and zips, and the samples the sampler manifest names."""
        panel = self.vm.panel
        samples = ", ".join(panel.import_dialog_filters)
        hint = "A bundle folder or .zip becomes a new version of its project."
        if samples:
            hint += f" A sample ({samples}) named in the sampler manifest is added to the working folder."
        self.chooser = FolderChooser(
            title="Import",
            # Only what can be imported: a .wav the sampler manifest does not name would be refused.
            filters=[self.vm.offered_in_dialog],
            note_action=self.vm.sampler_assets_in,
            start_path=start_path or self.vm.last_folder or str(Path.cwd()),
            hint=hint,
            accept_text="Import",
            accept_action=self.vm.import_path,
            folder_action=self.vm.remember_folder,
        )
        return self._open(self.chooser)  # type: ignore[no-any-return]

    def open_store_picker(self) -> FolderChooser:
        """Choose the folder of a store (shown when there is none, or the project is unknown)."""

        def opened(path: str) -> None:
            self.vm.open_store_at(path, None)
            self.vm.load()
            self._arrange()

        chooser = FolderChooser(
            title="Choose a store folder",
            start_path=str(Path.cwd()),
            hint="Pick the folder that holds casstore.json (often called .casstore).",
            accept_text="Open this store",
            accept_action=opened,
        )
        return self._open(chooser)  # type: ignore[no-any-return]
