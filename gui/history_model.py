"""The history list's view-model: versions newest first, folding, filter, keyboard cursor, selection, names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty

import casstore
from casstore import CasstoreError

from .rows import history_rows

if TYPE_CHECKING:
    from casstore import Version

PAGE_ROWS = 8


class HistoryModel:
    """Mixed into the root view-model: the rows of the history list and the keyboard cursor over them."""

    history = ListProperty([])
    cursor = NumericProperty(-1)
    selected = ListProperty([])
    show_checkpoints = BooleanProperty(False)
    filter_text = StringProperty("")

    def refresh_history(self) -> None:
        """Reload the project's versions, newest first."""
        self._versions = casstore.project_timeline(self.store, self.project)
        self._rebuild_rows()

    def _rebuild_rows(self) -> None:
        rows = history_rows(self._versions, self.now(), list(self.selected), self.show_checkpoints, self.filter_text)
        if rows:
            self.cursor = min(max(self.cursor, 0), len(rows) - 1)
            rows[self.cursor]["focused"] = True
        else:
            self.cursor = -1
        self.history = rows

    def on_show_checkpoints(self, *_args: Any) -> None:
        """Fold or unfold checkpoints."""
        self._rebuild_rows()

    def on_filter_text(self, *_args: Any) -> None:
        """Show only the versions whose words match the filter."""
        self.cursor = 0
        self._rebuild_rows()

    # -- keyboard cursor -------------------------------------------------------------------
    def move_cursor(self, delta: int) -> None:
        """Move the focused history row (arrows: 1, PageUp/PageDown: a page)."""
        if not self.history:
            return
        self.cursor = min(max(self.cursor + delta, 0), len(self.history) - 1)
        self.history = [{**row, "focused": i == self.cursor} for i, row in enumerate(self.history)]

    def page(self, direction: int) -> None:
        """Move the cursor by a page."""
        self.move_cursor(direction * PAGE_ROWS)

    def open_cursor(self) -> None:
        """Open the focused version's details (Enter)."""
        if 0 <= self.cursor < len(self.history):
            self.open_version(self.history[self.cursor]["commit"])

    # -- selection, version details and diff -----------------------------------------------
    def toggle_select(self, commit: str) -> None:
        """Select a row (at most two: the pair to compare) and show its details; two selected compare."""
        chosen = [c for c in self.selected if c != commit]
        if commit not in self.selected:
            chosen = [*chosen, commit][-2:]
        self.selected = chosen
        self.history = [{**row, "selected": row["commit"] in chosen} for row in self.history]
        rows = [row["commit"] for row in self.history]
        if commit in rows:
            self.cursor = rows.index(commit)
            self.history = [{**row, "focused": i == self.cursor} for i, row in enumerate(self.history)]
        if commit in chosen:
            self.open_version(commit)
        if len(chosen) == 2:
            self.diff_selected()

    def _version(self, commit: str) -> Version | None:
        for version in self._versions:
            for item in (version, *version.folded):
                if item.oid == commit:
                    return item
        return None

    def title_of(self, commit: str) -> str:
        """Name a version for headings: its title and short id."""
        version = self._version(commit)
        return f"{version.title} ({commit[:8]})" if version else commit[:12]

    # -- naming versions -------------------------------------------------------------------
    def tag_current(self, name: str) -> None:
        """Name the version on show (a tag)."""
        try:
            ref = casstore.tag_version(self.store, self.project, name, self.current)
        except CasstoreError as exc:
            self.error = str(exc)
            return
        self.status = f"named {self.current[:12]} {ref.rsplit('/', 1)[-1]!r}"
        self.refresh_history()
