"""The version and changes panes' view-model: a version's details, waveforms, the diff of two, and playing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.properties import DictProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty

import casstore
from casstore import CasstoreError

from .rows import comparison_view, diff_rows, revision_rows, sample_rows

if TYPE_CHECKING:
    from casstore import Comparison


class DetailsModel:
    """Mixed into the root view-model: what the Version and Changes panes show, and what Space plays."""

    current = StringProperty("")  # the version whose details show
    current_title = StringProperty("")
    # Not a ListProperty: that copies every row into an ObservableList (100,000 dicts at
    # 100,000 files); this holds rows made on demand from the compact lines (issue 17).
    revision_rows = ObjectProperty([])
    samples = ListProperty([])
    waveforms = DictProperty({})  # blob -> {"mins": [...], "maxs": [...], "duration": s}
    diff_heading = StringProperty("")
    diff_rows = ListProperty([])
    comparison = DictProperty({})
    sample_choice = NumericProperty(0)  # the sampler asset Space plays in the Version pane
    changed_choice = NumericProperty(0)  # the changed sample Space plays (old, then new) in the Changes pane

    def open_version(self, commit: str) -> None:
        """Show a version's manifest and samples (a damaged one says so, and the rest keeps working)."""
        self.current = commit
        self.current_title = self.title_of(commit)
        try:
            lines, samples = casstore.version_details(self.store, commit)
        except CasstoreError as exc:
            self.revision_rows = [{"text": "This version is damaged and cannot be shown.", "heading": True}]
            self.revision_rows = [*self.revision_rows, {"text": str(exc), "heading": False}]
            self.samples = []
            self.error = f"damaged version {commit[:12]}: {exc}"
            return
        # The sampler assets show below as sample rows (loudness, peak, size, waveform, play).
        self.revision_rows = revision_rows(lines)
        peaks = {}
        if self._sampler_index is not None:
            for sample in samples:
                entry = self._sampler_index.get(sample.name)
                peaks[sample.name] = entry.peak_dbfs if entry is not None else None
        self.sample_choice = 0
        self.samples = sample_rows(samples, peaks)
        self.load_waveforms([(row["blob"], row["suffix"]) for row in self.samples if row["blob"]])

    def show_revision(self, commit: str) -> None:
        """Show a version's details (the name older front ends call)."""
        self.open_version(commit)

    def load_waveforms(self, blobs: list[tuple[str, str]]) -> None:
        """Compute the waveform thumbnails of these blobs off the UI thread (cached by the library)."""
        wanted = [(b, s) for b, s in blobs if b and b not in self.waveforms]
        if not wanted:
            return
        store = self.store

        def work() -> dict[str, Any]:
            found: dict[str, Any] = {}
            for blob, suffix in wanted:
                try:
                    wave = casstore.waveform_envelope(store, blob, suffix)
                except CasstoreError:
                    continue  # a damaged or unreadable sample simply shows no waveform
                found[blob] = {"mins": list(wave.mins), "maxs": list(wave.maxs), "duration": wave.duration_s}
            return found

        def done(found: dict[str, Any]) -> None:
            self.waveforms = {**self.waveforms, **found}

        self.run_in_background("waveforms", work, done)

    def diff_selected(self) -> None:
        """Compare the two selected versions (older → newer)."""
        if len(self.selected) != 2:
            self.error = "select two versions to compare"
            return
        old, new = self.selected
        order = [row["commit"] for row in self.history]
        if old in order and new in order and order.index(old) < order.index(new):
            old, new = new, old  # history is newest first; compare from the older one
        self.diff_heading = f"{self.title_of(old)} → {self.title_of(new)}"
        self.run_in_background("compare", lambda: casstore.compare_versions(self.store, old, new), self._show_diff)

    def _show_diff(self, comparison: Comparison) -> None:
        self.changed_choice = 0
        self.diff_rows = diff_rows(list(comparison.records)) or [{"text": "no differences", "heading": False}]
        self.comparison = comparison_view(comparison)
        blobs = [(s[k], s["suffix"]) for s in self.comparison["samples"] for k in ("old", "new") if s[k]]
        self.load_waveforms(blobs)

    # -- audio ---------------------------------------------------------------------------
    def play(self, items: list[tuple[str, str, str]]) -> None:
        """Decode ``(label, blob, suffix)`` samples and play them one after another."""
        store = self.store

        def work() -> list[tuple[str, str]]:
            return [(label, str(casstore.playable_wav(store, blob, suffix))) for label, blob, suffix in items]

        self.run_in_background("play", work, self.player.play)

    def choose_sample(self, index: int) -> None:
        """Make a sampler asset of the version on show the one Space plays."""
        if 0 <= index < len(self.samples):
            self.sample_choice = index

    def choose_changed_sample(self, index: int) -> None:
        """Make a changed sample of the comparison the one Space plays (old, then new)."""
        if 0 <= index < len(self.comparison.get("samples", [])):
            self.changed_choice = index

    def step_sample_choice(self, pane: str, delta: int) -> None:
        """Left/Right: choose the previous or next sample of the pane Space plays from, and say which."""
        if pane == "changes":
            names = [sample["name"] for sample in self.comparison.get("samples", [])]
            chosen = int(self.changed_choice)
        else:
            names = [row["name"] for row in self.samples]
            chosen = int(self.sample_choice)
        if not names:
            self.status = "no samples to choose here"
            return
        # Stops at either end rather than wrapping: a musician counting presses lands where expected.
        index = min(len(names) - 1, max(0, chosen + delta))
        if pane == "changes":
            self.choose_changed_sample(index)
        else:
            self.choose_sample(index)
        self.status = f"sample {index + 1} of {len(names)}: {names[index]} (Space plays it)"

    def play_sample(self, index: int) -> None:
        """Choose and play a sampler asset of the version on show."""
        self.choose_sample(index)
        if 0 <= index < len(self.samples):
            row = self.samples[index]
            if not row["blob"]:
                self.status = f"{row['name']} has no audio in the store"
                return
            self.play([(row["name"], row["blob"], row["suffix"])])

    def play_changed_sample(self, index: int) -> None:
        """Choose and play a changed sample: the old one, then the new one (whichever exist)."""
        self.choose_changed_sample(index)
        changed = self.comparison.get("samples", [])
        if 0 <= index < len(changed):
            sample = changed[index]
            self.play(
                [
                    (f"{sample['name']} ({when})", sample[key], sample["suffix"])
                    for key, when in (("old", "before"), ("new", "after"))
                    if sample[key]
                ]
            )

    def play_focused_sample(self, pane: str = "version") -> None:
        """Space: play the chosen changed sample in the Changes pane, else the chosen sampler asset."""
        if pane == "changes" and self.comparison.get("samples"):
            self.play_changed_sample(int(self.changed_choice))
        elif self.samples:
            self.play_sample(min(int(self.sample_choice), len(self.samples) - 1))
