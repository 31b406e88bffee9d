"""View-models of the viewer: plain EventDispatchers holding all state; no widget is created here.

Names follow the tracker note where they match it: ``TrackerMixerRoot`` is the
root, ``TrackerPanelState`` the import panel, ``TransportControlsState`` what the
note's ``TransportControlsWidget`` shows. The root is put together from one mixin
per job (history_model, details_model, restore_model, import_model). Long work runs
on a thread and its result is applied on the Kivy clock, so the UI never blocks.
Every failure of the library becomes a message in the window (``error``, or
``problem`` when there is no store or project to show), never a traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

import casstore
from casstore import CasstoreError

from .audio import SamplePlayer
from .details_model import DetailsModel
from .history_model import PAGE_ROWS, HistoryModel
from .import_model import ImportModel
from .restore_model import RestoreModel
from .rows import KIND_COLORS
from .settings import load_settings
from .states import RecoveryState, TrackerPanelState, TransportControlsState

if TYPE_CHECKING:
    from casstore import Version

__all__ = [
    "KIND_COLORS",
    "PAGE_ROWS",
    "RecoveryState",
    "TrackerMixerRoot",
    "TrackerPanelState",
    "TransportControlsState",
]


class TrackerMixerRoot(HistoryModel, DetailsModel, RestoreModel, ImportModel, EventDispatcher):
    """The viewer's root view-model: projects, history, version details, diff, restore and undo, import, audio."""

    project = StringProperty("")
    projects = ListProperty([])
    workdir = StringProperty("")
    store_path = StringProperty("")
    busy = BooleanProperty(False)
    status = StringProperty("")
    error = StringProperty("")
    problem = StringProperty("")  # no store, or no such project: the window shows this with a folder picker
    panel = ObjectProperty(None, rebind=True)
    transport = ObjectProperty(None, rebind=True)
    recovery = ObjectProperty(None, rebind=True)
    player = ObjectProperty(None, rebind=True)

    def __init__(
        self,
        store_path: str | None,
        project: str | None,
        workdir: str | None,
        now: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.panel = TrackerPanelState()
        self.transport = TransportControlsState()
        self.recovery = RecoveryState()
        self.player = SamplePlayer()
        self.now = now or (lambda: datetime.now(UTC))
        self.workdir = str(Path(workdir).absolute()) if workdir else ""
        self._asked_project = project or ""
        self._versions: list[Version] = []
        self._autosave_event: Any = None
        self._jobs = 0  # background jobs under way: busy until the last one is done
        self._sampler_index: Any = None
        self.store: Any = None
        self.last_folder = str(load_settings().get("last_folder") or Path.cwd())
        self.open_store_at(store_path, project)

    # -- store and project -------------------------------------------------------------------
    def open_store_at(self, path: str | None, project: str | None = None) -> None:
        """Open a store (or say in the window why not); pick the asked project or the first one."""
        try:
            self.store = casstore.open_store(path)
        except CasstoreError as exc:
            self.store = None
            self.problem = f"No casstore store here. {exc}. Choose the folder that holds your store."
            return
        self.store_path = str(self.store.root)
        self.projects = casstore.list_projects(self.store)
        wanted = project if project is not None else self._asked_project
        if wanted and wanted not in self.projects:
            self.project = ""
            self.problem = (
                f"This store has no project called {wanted!r}. "
                f"Pick one of: {', '.join(self.projects) or '(none yet)'}, or choose another store folder."
            )
            return
        self.problem = ""
        self.project = wanted or (self.projects[0] if self.projects else "")

    def select_project(self, project: str) -> None:
        """Show another project of the store."""
        self._asked_project = project
        self.selected, self.comparison, self.diff_rows, self.diff_heading = [], {}, [], ""
        self.open_store_at(self.store_path or None, project)
        self.load()

    # -- background work -------------------------------------------------------------------
    def run_in_background(self, label: str, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Run ``work`` off the UI thread; apply ``done(result)`` (or show the error) on the clock."""
        self._jobs += 1
        self.busy, self.error, self.status = True, "", f"{label}…"

        def target() -> None:
            try:
                result = work()
            except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
                message = str(exc) or type(exc).__name__
                Clock.schedule_once(lambda _dt: self._failed(label, message), 0)
                return
            Clock.schedule_once(lambda _dt: self._finished(label, done, result), 0)

        threading.Thread(target=target, name=f"viewer-{label}", daemon=True).start()

    def _finished(self, label: str, done: Callable[[Any], None], result: Any) -> None:
        self._jobs -= 1
        self.busy = self._jobs > 0
        self.status = f"{label}: done"
        done(result)

    def _failed(self, label: str, message: str) -> None:
        self._jobs -= 1
        self.busy = self._jobs > 0
        self.status = f"{label}: failed"
        self.error = message

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        """Read history and the recovery offer (small reads, on the UI thread); damage never stops it."""
        if self.store is None or self.problem:
            return
        if not self.project:
            self.status = "the store has no projects yet: import a bundle"
            return
        self.refresh_history()
        if self.history:
            self.open_version(self.history[0]["commit"])
        try:
            imported = casstore.last_import(self.store, self.project)
        except CasstoreError:
            imported = None
        if imported is not None:
            self._show_import(imported.manifest_sha256, imported.bundle_root, list(imported.sampler_assets))
        self._offer_recovery()
