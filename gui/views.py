"""Widgets of the viewer: they draw what the view-model holds and forward clicks to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.popup import Popup
from kivy.uix.recycleview.views import RecycleDataViewBehavior

Builder.load_file(str(Path(__file__).with_name("viewer.kv")))


class TextRow(RecycleDataViewBehavior, Label):
    """One line of the revision or diff view."""

    heading = BooleanProperty(False)


class HistoryRow(RecycleDataViewBehavior, ButtonBehavior, BoxLayout):
    """One commit in the history list; its colour bar tells the kind at a glance."""

    commit = StringProperty("")
    kind = StringProperty("")
    text = StringProperty("")
    kind_color = ListProperty([0.8, 0.8, 0.8, 1])
    selected = BooleanProperty(False)

    def on_release(self) -> None:
        """Select or deselect this commit."""
        viewer = self.parent
        while viewer is not None and not isinstance(viewer, ViewerRoot):
            viewer = viewer.parent
        if viewer is not None:
            viewer.vm.toggle_select(self.commit)


class RecoveryPanel(BoxLayout):
    """The launch panel: the autosave prompt, its digest and assets, Restore and Not now."""

    vm = ObjectProperty(None, allownone=True, rebind=True)


class ImportChooser(Popup):
    """A file chooser filtered by the sampler manifest, importing a bundle directory or zip."""

    vm = ObjectProperty(None, rebind=True)
    filters = ListProperty([])
    label = StringProperty("Import a bundle")
    start_path = StringProperty(str(Path.cwd()))

    def import_selected(self) -> None:
        """Import the chosen directory or zip and close."""
        chosen = self.ids.chooser.selection
        if chosen:
            self.vm.import_project_bundle(chosen[0])
            self.dismiss()


class ViewerRoot(BoxLayout):
    """The whole window: recovery panel, transport column, history, revision and diff views."""

    vm = ObjectProperty(None, allownone=True, rebind=True)
    chooser = ObjectProperty(None, allownone=True)

    def open_import(self, start_path: str | None = None) -> ImportChooser:
        """Open the import chooser with the sampler manifest's filters and label."""
        panel = self.vm.panel
        label = panel.import_label or "Import a bundle"
        self.chooser = ImportChooser(
            vm=self.vm,
            filters=["*.zip", *panel.import_dialog_filters],
            label=f"Import a bundle — {label}",
            start_path=start_path or str(Path.cwd()),
        )
        self.chooser.open()
        return self.chooser


def build_root(vm: Any) -> ViewerRoot:
    """Build the viewer's widget tree on a view-model."""
    return ViewerRoot(vm=vm)
