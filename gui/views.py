"""Widgets of the viewer: they draw what the view-model holds and forward touches and keys to it.

The window holds two panes side by side in landscape (history | version and changes) and
one pane at a time behind tabs in portrait. Panels scroll rather than having fixed
heights, touch targets are at least 48 dp, one-line texts are cut at word boundaries and
show in full when tapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.core.text import DEFAULT_FONT, LabelBase
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.recycleview import RecycleView
from kivy.uix.scrollview import ScrollView
from kivy.uix.spinner import Spinner
from kivy.uix.textinput import TextInput
from kivy.uix.togglebutton import ToggleButton

from .dialog_host import DialogHost
from .dialogs import FullTextLabel, LineLabel, WrapLabel
from .history_list import HistoryRow
from .panes import PanesMixin

# DejaVu Sans (shipped with Kivy) has the arrows and dashes the viewer's words use; Roboto has no "→".
LabelBase.register(DEFAULT_FONT, "data/fonts/DejaVuSans.ttf")
Builder.load_file(str(Path(__file__).with_name("viewer.kv")))

KEY_UP, KEY_DOWN, KEY_PAGE_UP, KEY_PAGE_DOWN, KEY_LEFT, KEY_RIGHT = 273, 274, 280, 281, 276, 275
KEY_ENTER, KEY_NUMPAD_ENTER, KEY_SPACE, KEY_ESCAPE, KEY_Z = 13, 271, 32, 27, 122


class RecoveryPanel(BoxLayout):
    """The launch panel: the autosave prompt, what it holds, Restore (into the named folder) and Not now."""

    vm = ObjectProperty(None, allownone=True, rebind=True)


def _button(text: str, action: Any, **kwargs: Any) -> Button:
    button = Button(text=text, size_hint_y=None, height=dp(48), **kwargs)
    button.bind(on_release=lambda *_a: action())
    return button


def _column() -> tuple[ScrollView, GridLayout]:
    scroll = ScrollView(do_scroll_x=False)
    column = GridLayout(cols=1, size_hint_y=None, spacing=dp(4), padding=dp(6))
    column.bind(minimum_height=column.setter("height"))
    scroll.add_widget(column)
    return scroll, column


class ViewerRoot(PanesMixin, DialogHost, BoxLayout):
    """The whole window: top bar, recovery panel, history, version details and changes, status line."""

    vm = ObjectProperty(None, allownone=True, rebind=True)
    portrait = BooleanProperty(False)
    tab = StringProperty("version")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", padding=dp(6), spacing=dp(6), **kwargs)
        self._build()
        vm = self.vm
        vm.bind(
            problem=self._arrange,
            samples=self._fill_version,
            revision_rows=self._fill_version,
            current_title=self._fill_version,
            waveforms=self._refresh_waves,
            comparison=self._fill_changes,
            diff_rows=self._fill_changes,
            confirm=self._ask,
            sample_choice=self._mark_choices,
            changed_choice=self._mark_choices,
            projects=self._projects_changed,
            project=self._projects_changed,
        )
        vm.recovery.bind(visible=self._arrange)
        self.bind(size=self._on_size)
        self._projects_changed()
        self._fill_version()
        self._fill_changes()
        self._arrange()

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        vm = self.vm
        self.topbar = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(6))
        self.project_picker = Spinner(text=vm.project or "(no project)", size_hint_x=None, width=dp(170))
        self.project_picker.bind(text=lambda _s, name: name != vm.project and vm.projects and vm.select_project(name))
        self.filter_input = TextInput(hint_text="Filter", multiline=False, write_tab=False)
        self.filter_input.bind(text=lambda _t, text: setattr(vm, "filter_text", text))
        self.checkpoints_toggle = ToggleButton(text="Checkpoints", size_hint_x=None, width=dp(120))
        self.checkpoints_toggle.bind(state=lambda _b, state: setattr(vm, "show_checkpoints", state == "down"))
        self.recovery_button = Button(text="Recovery", size_hint_x=None, width=dp(100))
        self.recovery_button.bind(on_release=lambda *_a: vm.reopen_recovery())
        self.import_button = Button(text="Import…", size_hint_x=None, width=dp(96))
        self.import_button.bind(on_release=lambda *_a: self.open_import())
        self.undo_button = Button(text="Undo", size_hint_x=None, width=dp(80))
        self.undo_button.bind(on_release=lambda *_a: vm.undo_restore())
        vm.bind(last_restore=lambda *_a: setattr(self.undo_button, "disabled", vm.last_restore is None))
        self.undo_button.disabled = True
        for widget in (
            self.project_picker,
            self.filter_input,
            self.checkpoints_toggle,
            self.recovery_button,
            self.import_button,
            self.undo_button,
        ):
            self.topbar.add_widget(widget)
        self.problem_box = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(6))
        self.problem_label = WrapLabel(color=(1, 0.6, 0.5, 1))
        vm.bind(problem=self.problem_label.setter("text"))
        self.problem_label.text = vm.problem
        self.problem_box.add_widget(self.problem_label)
        self.problem_box.add_widget(_button("Choose a store folder…", self.open_store_picker))
        self.problem_box.bind(minimum_height=self.problem_box.setter("height"))
        self.recovery_panel = RecoveryPanel(vm=vm)
        self.tabs = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(4))
        self.tab_buttons = {}
        for name, label in (("history", "History"), ("version", "Version"), ("changes", "Changes")):
            button = ToggleButton(text=label, group="panes", allow_no_selection=False)
            button.bind(on_release=lambda _b, n=name: self.show_tab(n))
            self.tab_buttons[name] = button
        self.history_pane = BoxLayout(orientation="vertical", spacing=dp(4))
        self.history_title = Label(size_hint_y=None, height=dp(32), bold=True, halign="left", valign="middle")
        self.history_title.bind(size=self.history_title.setter("text_size"))
        vm.bind(project=lambda *_a: setattr(self.history_title, "text", f"Versions of {vm.project}"))
        self.history_title.text = f"Versions of {vm.project}"
        self.history_list = Builder.load_string(
            "RecycleView:\n    viewclass: 'HistoryRow'\n    RecycleBoxLayout:\n        default_size: None, dp(56)\n"
            "        default_size_hint: 1, None\n        size_hint_y: None\n        height: self.minimum_height\n"
            "        orientation: 'vertical'\n        spacing: dp(2)\n"
        )
        vm.bind(history=self.history_list.setter("data"), cursor=self._scroll_to_cursor)
        self.history_list.data = vm.history
        self.history_pane.add_widget(self.history_title)
        self.history_pane.add_widget(self.history_list)
        self.version_scroll, self.version_column = _column()
        self.changes_scroll, self.changes_column = _column()
        self.body = BoxLayout(spacing=dp(6))
        self.right_pane = BoxLayout(orientation="vertical", spacing=dp(4))
        # 48 dp: a cut status line is a touch target (a tap shows it whole).
        self.status_label = FullTextLabel(size_hint_y=None, height=dp(48), show_full=self.show_text)
        vm.bind(status=self._status, error=self._status)

    def _status(self, *_args: Any) -> None:
        vm = self.vm
        self.status_label.text = vm.error or vm.status
        self.status_label.color = (1, 0.45, 0.45, 1) if vm.error else (0.8, 0.8, 0.8, 1)

    def _projects_changed(self, *_args: Any) -> None:
        self.project_picker.values = list(self.vm.projects)
        self.project_picker.text = self.vm.project or "(no project)"

    def _on_size(self, *_args: Any) -> None:
        portrait = self.height > self.width
        if portrait != self.portrait:
            self.portrait = portrait
            if portrait:
                self.tab = "history"  # a tablet held upright opens on the list of versions
            elif self.tab == "history":
                self.tab = "version"
            self._arrange()
        self._fit_recovery()

    def _fit_recovery(self, *_args: Any) -> None:
        # The panel is as tall as its text, up to 40% of the window; past that its text scrolls.
        panel = self.recovery_panel
        wanted = panel.ids.texts.minimum_height + dp(48) + dp(26)
        panel.height = min(wanted, max(dp(150), self.height * 0.4))

    def _arrange(self, *_args: Any) -> None:
        """Lay the window out for its shape and state: only what is on show is in the widget tree."""
        self.clear_widgets()
        self.add_widget(self.topbar)
        if self.vm.problem:
            self.add_widget(self.problem_box)
        if self.vm.recovery.visible:
            self.recovery_panel.ids.texts.bind(minimum_height=self._fit_recovery)
            self._fit_recovery()
            self.add_widget(self.recovery_panel)
        self.tabs.clear_widgets()
        self.body.clear_widgets()
        self.right_pane.clear_widgets()
        names = ["history", "version", "changes"] if self.portrait else ["version", "changes"]
        for name in names:
            self.tabs.add_widget(self.tab_buttons[name])
            self.tab_buttons[name].state = "down" if name == self.tab else "normal"
        panes = {"history": self.history_pane, "version": self.version_scroll, "changes": self.changes_scroll}
        if self.portrait:
            self.body.orientation = "vertical"
            self.history_pane.size_hint_x = 1
            self.body.add_widget(self.tabs)
            self.body.add_widget(panes[self.tab])
        else:
            self.body.orientation = "horizontal"
            self.history_pane.size_hint_x = 0.42
            self.right_pane.size_hint_x = 0.58
            self.right_pane.add_widget(self.tabs)
            self.right_pane.add_widget(panes[self.tab if self.tab != "history" else "version"])
            self.body.add_widget(self.history_pane)
            self.body.add_widget(self.right_pane)
        self.add_widget(self.body)
        self.add_widget(self.status_label)

    def show_tab(self, name: str) -> None:
        """Show the History, Version or Changes pane (History is always on show in landscape)."""
        if name == "history" and not self.portrait:
            return
        self.tab = name
        self._arrange()

    # -- panes ---------------------------------------------------------------------------------
    def _scroll_to_cursor(self, *_args: Any) -> None:
        rows = len(self.vm.history)
        # A short list stays at the top; a long one scrolls to keep the focused row in view.
        if rows > 1 and self.vm.cursor >= 0 and self.history_list.layout_manager.height > self.history_list.height:
            self.history_list.scroll_y = 1 - self.vm.cursor / (rows - 1)

    # -- dialogs ---------------------------------------------------------------------------------
    # -- keyboard --------------------------------------------------------------------------------
    def on_parent(self, _widget: Any, parent: Any) -> None:
        """Listen to the keyboard only while in the window."""
        Window.unbind(on_keyboard=self.on_key)
        if parent is not None:
            Window.bind(on_keyboard=self.on_key)

    def on_key(self, _window: Any, key: int, _scancode: int, _codepoint: str, modifiers: list[str]) -> bool:
        """Up/Down and PageUp/PageDown move, Enter opens, Left/Right choose and Space plays a sample, Ctrl+Z undoes.

        Escape closes what is open and never quits unasked.
        """
        if key == KEY_ESCAPE:
            if self.dialog is not None:
                self.dialog.dismiss()
            elif self.filter_input.focus:
                self.filter_input.focus = False
            elif self.project_picker.is_open:
                self.project_picker.is_open = False
            else:
                self.ask_quit()
            return True  # Kivy's own Escape handler would quit at once
        if self.dialog is not None or self.filter_input.focus or self.project_picker.is_open:
            return False
        vm = self.vm
        if key == KEY_Z and "ctrl" in modifiers:
            vm.undo_restore()
        elif key in (KEY_UP, KEY_DOWN):
            vm.move_cursor(-1 if key == KEY_UP else 1)
        elif key in (KEY_PAGE_UP, KEY_PAGE_DOWN):
            vm.page(-1 if key == KEY_PAGE_UP else 1)
        elif key in (KEY_ENTER, KEY_NUMPAD_ENTER):
            vm.open_cursor()
            self.show_tab("version")
        elif key == KEY_SPACE:
            vm.play_focused_sample(self._sample_pane())
        elif key in (KEY_LEFT, KEY_RIGHT):
            self._step_sample(-1 if key == KEY_LEFT else 1)
        else:
            return False
        return True

    def _sample_pane(self) -> str:
        # Space and Left/Right act on the samples of the Changes pane when it shows, else the Version pane's.
        return "changes" if self.tab == "changes" else "version"

    def _step_sample(self, delta: int) -> None:
        pane = self._sample_pane()
        self.vm.step_sample_choice(pane, delta)
        if pane == "changes":
            waves, index, scroll = self.changed_waves, int(self.vm.changed_choice), self.changes_scroll
        else:
            waves, index, scroll = self.sample_waves, int(self.vm.sample_choice), self.version_scroll
        if 0 <= index < len(waves) and scroll.parent is not None:
            scroll.scroll_to(waves[index], animate=False)  # the chosen waveform comes into view


def build_root(vm: Any) -> ViewerRoot:
    """Build the viewer's widget tree on a view-model."""
    return ViewerRoot(vm=vm)


__all__ = ["HistoryRow", "LineLabel", "RecycleView", "ViewerRoot", "build_root"]
