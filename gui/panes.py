"""The Version and Changes panes: a version's details with its samples, and what changed between two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button

from .dialogs import WrapLabel
from .drawing import WaveformView
from .step_grid import StepGrid, StepGridPane


class PanesMixin:
    """Mixed into the window: fills the Version and Changes columns from the view-model."""

    def _fill_version(self, *_args: Any) -> None:
        vm, column = self.vm, self.version_column
        column.clear_widgets()
        self.wave_views: dict[str, list[WaveformView]] = {}
        self.sample_waves: list[WaveformView] = []
        if not vm.current:
            column.add_widget(WrapLabel(text="Pick a version in the history to see it here."))
            return
        column.add_widget(WrapLabel(text=vm.current_title, heading=True, font_size="18sp"))
        actions = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(6))
        folder = Path(vm.workdir).name if vm.workdir else "…"
        restore = Button(text=f"Restore into {folder}", bold=True, background_color=(0.3, 0.8, 0.4, 1))
        restore.text_size, restore.shorten, restore.split_str, restore.halign = (None, None), True, " ", "center"
        restore.bind(size=lambda b, s: setattr(b, "text_size", (s[0] - dp(12), None)))
        restore.bind(on_release=lambda *_a: vm.ask_restore(vm.current))
        self.restore_version_button = restore
        self.name_button = Button(text="Name…", size_hint_x=None, width=dp(96))
        self.name_button.bind(on_release=lambda *_a: self.open_name_dialog())
        actions.add_widget(restore)
        actions.add_widget(self.name_button)
        column.add_widget(actions)
        for row in vm.revision_rows:
            column.add_widget(WrapLabel(text=row["text"], heading=row["heading"]))
        column.add_widget(WrapLabel(text=f"Samples ({len(vm.samples)})", heading=True))
        for index, row in enumerate(vm.samples):
            column.add_widget(WrapLabel(text=row["name"], bold=True))
            column.add_widget(WrapLabel(text=row["facts"], font_size="13sp", color=(0.75, 0.8, 0.85, 1)))
            line = BoxLayout(size_hint_y=None, height=dp(56), spacing=dp(6))
            wave = WaveformView(tap_action=lambda i=index: vm.choose_sample(i), chosen=index == vm.sample_choice)
            self._set_wave(wave, row["blob"])
            self.wave_views.setdefault(row["blob"], []).append(wave)
            self.sample_waves.append(wave)
            play = Button(text="Play", size_hint_x=None, width=dp(72))
            play.bind(on_release=lambda *_a, i=index: vm.play_sample(i))
            line.add_widget(wave)
            line.add_widget(play)
            column.add_widget(line)

    def _mark_choices(self, *_args: Any) -> None:
        """Frame the samples Space plays: the chosen one in each pane."""
        for index, wave in enumerate(getattr(self, "sample_waves", [])):
            wave.chosen = index == self.vm.sample_choice
        for index, wave in enumerate(getattr(self, "changed_waves", [])):
            wave.chosen = index == self.vm.changed_choice

    def _set_wave(self, wave: WaveformView, blob: str, overlay: str = "") -> None:
        data = self.vm.waveforms.get(blob) or {}
        wave.mins, wave.maxs = data.get("mins", []), data.get("maxs", [])
        if overlay:
            other = self.vm.waveforms.get(overlay) or {}
            wave.overlay_mins, wave.overlay_maxs = other.get("mins", []), other.get("maxs", [])

    def _sample_change_text(self, sample: dict[str, Any]) -> str:
        """Say how a sample changed; a changed one also gives both lengths (a trim shows as a shorter one)."""
        text = f"{sample['name']}: {sample['what']}"
        old, new = (self.vm.waveforms.get(sample[key]) for key in ("old", "new"))
        if sample["old"] and sample["new"] and old and new:
            text += f", {old['duration']:.2f} s → {new['duration']:.2f} s"
        return text

    def _refresh_waves(self, *_args: Any) -> None:
        for said, sample in getattr(self, "sample_change_labels", []):
            said.text = self._sample_change_text(sample)
        for blob, views in getattr(self, "wave_views", {}).items():
            for wave in views:
                self._set_wave(wave, blob)
        for wave, old, new in getattr(self, "overlay_views", []):
            self._set_wave(wave, old, new)

    def _fill_changes(self, *_args: Any) -> None:
        vm, column = self.vm, self.changes_column
        column.clear_widgets()
        self.overlay_views: list[tuple[WaveformView, str, str]] = []
        self.changed_waves: list[WaveformView] = []
        self.sample_change_labels: list[tuple[WrapLabel, dict[str, Any]]] = []
        self.grids: list[StepGrid] = []
        self.grid_panes: list[StepGridPane] = []
        if not vm.comparison:
            column.add_widget(WrapLabel(text="Select two versions in the history to see what changed."))
            return
        column.add_widget(WrapLabel(text=vm.diff_heading, heading=True, font_size="18sp"))
        for grid in vm.comparison["grids"]:
            column.add_widget(
                WrapLabel(text=f"Pattern {grid['pattern']}: {grid['changed']} steps changed", heading=True)
            )
            column.add_widget(WrapLabel(text="Tracks: " + ", ".join(grid["tracks"]), font_size="13sp"))
            picked = WrapLabel(text="Tap a cell to see old → new.", font_size="13sp", color=(1, 0.8, 0.5, 1))
            pane = StepGridPane(grid, show_full=self.show_text)
            pane.cells.bind(picked=picked.setter("text"))
            self.grids.append(pane.cells)
            self.grid_panes.append(pane)
            column.add_widget(pane)
            column.add_widget(picked)
        if vm.comparison["mixer"]:
            column.add_widget(WrapLabel(text="Mixer: before → after", heading=True))
            for value in vm.comparison["mixer"]:
                text = f"{value['where']} · {value['field']}: {value['old']} → {value['new']}"
                column.add_widget(WrapLabel(text=text))
        if vm.comparison["samples"]:
            column.add_widget(WrapLabel(text="Samples (blue: before, orange: after)", heading=True))
        for index, sample in enumerate(vm.comparison["samples"]):
            said = WrapLabel(text=self._sample_change_text(sample))
            self.sample_change_labels.append((said, sample))
            column.add_widget(said)
            line = BoxLayout(size_hint_y=None, height=dp(56), spacing=dp(6))
            wave = WaveformView(
                tap_action=lambda i=index: vm.choose_changed_sample(i), chosen=index == vm.changed_choice
            )
            self._set_wave(wave, sample["old"], sample["new"])
            self.overlay_views.append((wave, sample["old"], sample["new"]))
            self.changed_waves.append(wave)
            both = sample["old"] and sample["new"]
            play = Button(text="Play both" if both else "Play", size_hint_x=None, width=dp(110))
            play.bind(on_release=lambda *_a, i=index: vm.play_changed_sample(i))
            line.add_widget(wave)
            line.add_widget(play)
            column.add_widget(line)
        column.add_widget(WrapLabel(text="In words", heading=True))
        for row in vm.diff_rows:
            column.add_widget(WrapLabel(text=row["text"], heading=row["heading"], font_size="13sp"))
