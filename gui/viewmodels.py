"""View-models of the viewer: plain EventDispatchers holding all state; no widget is created here.

Names follow the tracker note where they match it: ``TrackerMixerRoot`` is the
root, ``TrackerPanelState`` the import panel, ``TransportControlsState`` what the
note's ``TransportControlsWidget`` shows. Long work runs on a thread and its
result is applied on the Kivy clock, so the UI never blocks. Every failure of the
library becomes a message in the window (``error``, or ``problem`` when there is no
store or project to show), never a traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty

import casstore
from casstore import CasstoreError

from .audio import SamplePlayer
from .rows import KIND_COLORS, comparison_view, diff_rows, history_rows, sample_rows
from .settings import load_settings, save_settings

if TYPE_CHECKING:
    from casstore import AutosaveResult, Comparison, CrashReportResult, ImportResult, RestoreDone, Version

__all__ = ["KIND_COLORS", "RecoveryState", "TrackerMixerRoot", "TrackerPanelState", "TransportControlsState"]
PAGE_ROWS = 8


class TrackerPanelState(EventDispatcher):
    """The import side of the panel: dialog filters and what the last import brought in."""

    import_dialog_filters = ListProperty([])
    import_asset_count = NumericProperty(0)
    import_label = StringProperty("")
    import_manifest_sha256 = StringProperty("")
    import_bundle_root = StringProperty("")
    import_sampler_asset_names = ListProperty([])


class TransportControlsState(EventDispatcher):
    """What the transport column shows: the recovery prompt and the last import's summary."""

    recovery_prompt = StringProperty("")
    import_summary = StringProperty("")


class RecoveryState(EventDispatcher):
    """The recovery panel shown on launch when an autosave is newer than the head (reopenable)."""

    visible = BooleanProperty(False)
    available = BooleanProperty(False)
    prompt = StringProperty("")
    manifest_sha256 = StringProperty("")
    sampler_assets = ListProperty([])
    summary = StringProperty("")
    ref = StringProperty("")


class TrackerMixerRoot(EventDispatcher):
    """The viewer's root view-model: projects, history, version details, diff, restore and undo, import, audio."""

    project = StringProperty("")
    projects = ListProperty([])
    workdir = StringProperty("")
    store_path = StringProperty("")
    busy = BooleanProperty(False)
    status = StringProperty("")
    error = StringProperty("")
    problem = StringProperty("")  # no store, or no such project: the window shows this with a folder picker
    history = ListProperty([])
    cursor = NumericProperty(-1)
    selected = ListProperty([])
    show_checkpoints = BooleanProperty(False)
    filter_text = StringProperty("")
    current = StringProperty("")  # the version whose details show
    current_title = StringProperty("")
    revision_rows = ListProperty([])
    samples = ListProperty([])
    waveforms = DictProperty({})  # blob -> {"mins": [...], "maxs": [...], "duration": s}
    diff_heading = StringProperty("")
    diff_rows = ListProperty([])
    comparison = DictProperty({})
    confirm = DictProperty({})  # a pending question: {"title", "text", "action"}
    last_restore = ObjectProperty(None, allownone=True)
    last_folder = StringProperty("")
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

    def _offer_recovery(self) -> None:
        point = casstore.safe_recovery_offer(self.store, self.project)
        self.recovery.available = point is not None
        if point is None:
            self.recovery.visible = False
            return
        self.recovery.prompt = point.prompt
        self.recovery.manifest_sha256 = point.manifest_sha256 or ""
        self.recovery.sampler_assets = list(point.sampler_assets)
        self.recovery.summary = point.summary
        self.recovery.ref = point.ref
        self.recovery.visible = True
        self.transport.recovery_prompt = self._prompt_line(point.prompt, point.manifest_sha256)

    def _prompt_line(self, prompt: str, manifest_sha256: str | None) -> str:
        line = f"{prompt} · manifest {(manifest_sha256 or '')[:16]}"
        if self.transport.import_summary:
            line += f" · {self.transport.import_summary}"
        return line

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

    def open_version(self, commit: str) -> None:
        """Show a version's manifest and samples (a damaged one says so, and the rest keeps working)."""
        self.current = commit
        self.current_title = self.title_of(commit)
        try:
            lines = casstore.revision_lines(self.store, commit)
            samples = casstore.version_samples(self.store, commit)
        except CasstoreError as exc:
            self.revision_rows = [{"text": "This version is damaged and cannot be shown.", "heading": True}]
            self.revision_rows = [*self.revision_rows, {"text": str(exc), "heading": False}]
            self.samples = []
            self.error = f"damaged version {commit[:12]}: {exc}"
            return
        # The sampler assets show below as sample rows (loudness, peak, size, waveform, play).
        shown = [(line, heading) for line, heading in lines[1:]]
        cut = next((i for i, (text, head) in enumerate(shown) if head and text.startswith("Sampler assets")), None)
        self.revision_rows = [{"text": line, "heading": heading} for line, heading in shown[:cut]]
        peaks = {}
        if self._sampler_index is not None:
            for sample in samples:
                entry = self._sampler_index.get(sample.name)
                peaks[sample.name] = entry.peak_dbfs if entry is not None else None
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
        self.diff_rows = diff_rows(list(comparison.records)) or [{"text": "no differences", "heading": False}]
        self.comparison = comparison_view(comparison)
        blobs = [(s[k], s["suffix"]) for s in self.comparison["samples"] for k in ("old", "new") if s[k]]
        self.load_waveforms(blobs)

    # -- restore any version, and undo ------------------------------------------------------
    def ask_restore(self, rev: str) -> None:
        """Ask before restoring: the question names the folder written to and what is checkpointed."""
        if not self.workdir:
            self.error = "no working folder to restore into (start the viewer with --workdir)"
            return
        try:
            plan = casstore.plan_restore(self.store, rev, Path(self.workdir))
        except CasstoreError as exc:
            self.error = str(exc)
            return
        title = f"Restore {self.title_of(plan.commit)}?"
        self.confirm = {"title": title, "text": plan.question, "action": "restore", "rev": rev}

    def answer(self, yes: bool) -> None:
        """Answer the pending question."""
        question, self.confirm = dict(self.confirm), {}
        if yes and question.get("action") == "restore":
            self.restore_version(str(question["rev"]))

    def restore_version(self, rev: str) -> None:
        """Restore any version into the working folder (what it replaces is checkpointed first)."""
        workdir = Path(self.workdir)
        self.run_in_background(
            "restore", lambda: casstore.restore_version(self.store, self.project, rev, workdir), self._restored
        )

    def restore(self) -> None:
        """Restore the offered autosave (the recovery panel's primary action) after confirming."""
        if not self.workdir:
            self.error = "no working directory to restore into (start the viewer with --workdir)"
            return
        self.ask_restore(self.recovery.ref)

    def _restored(self, done: RestoreDone) -> None:
        self.last_restore = done
        self.recovery.visible = False
        kept = f"; your unsaved changes are kept in checkpoint {done.checkpoint}" if done.checkpoint else ""
        self.status = f"restored {self.title_of(done.commit)} into {done.directory}{kept}. Ctrl+Z undoes it."
        self.refresh_history()
        self._offer_recovery()
        self.recovery.visible = False

    def undo_restore(self) -> None:
        """Undo the last restore: put back what the folder held before it (Ctrl+Z)."""
        done = self.last_restore
        if done is None:
            self.status = "nothing to undo"
            return
        self.run_in_background("undo", lambda: casstore.undo_restore(self.store, self.project, done), self._undone)

    def _undone(self, done: RestoreDone) -> None:
        self.last_restore = None
        self.status = f"undone: {done.directory} holds what it held before the restore"
        self.refresh_history()

    def dismiss_recovery(self) -> None:
        """Hide the recovery panel ("Not now"); it can be reopened."""
        self.recovery.visible = False

    def reopen_recovery(self) -> None:
        """Show the recovery panel again."""
        self.recovery.visible = self.recovery.available
        if not self.recovery.available:
            self.status = "no autosave newer than the project to recover"

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

    # -- audio ---------------------------------------------------------------------------
    def play(self, items: list[tuple[str, str, str]]) -> None:
        """Decode ``(label, blob, suffix)`` samples and play them one after another."""
        store = self.store

        def work() -> list[tuple[str, str]]:
            return [(label, str(casstore.playable_wav(store, blob, suffix))) for label, blob, suffix in items]

        self.run_in_background("play", work, self.player.play)

    def play_focused_sample(self) -> None:
        """Play the first sample of the version on show (Space)."""
        if self.samples:
            row = self.samples[0]
            self.play([(row["name"], row["blob"], row["suffix"])])

    # -- import and autosave (the note's TrackerMixerRoot API) ----------------------------------
    def configure_sampler_manifest(self, path: str) -> None:
        """Load a sampler manifest: its dialog filters, asset count and label go to the panel state."""
        try:
            index = casstore.load_sampler_manifest(Path(path))
        except CasstoreError as exc:
            self.error = str(exc)
            return
        plan = index.build_import_plan()
        self._sampler_index = index
        self.panel.import_dialog_filters = plan.filters
        self.panel.import_asset_count = plan.asset_count
        self.panel.import_label = plan.label

    def remember_folder(self, folder: str) -> None:
        """Remember the import dialog's folder for next time (and the next launch)."""
        self.last_folder = folder
        save_settings({**load_settings(), "last_folder": folder})

    def import_path(self, path: str) -> None:
        """Import what the dialog chose: a sampler asset into the working folder, else a bundle."""
        chosen = Path(path)
        self.remember_folder(str(chosen.parent))
        suffixes = {f.lstrip("*").lower() for f in self.panel.import_dialog_filters}
        if chosen.is_file() and chosen.suffix.lower() in suffixes and chosen.suffix.lower() != ".zip":
            self.import_sampler_asset(path)
        else:
            self.import_project_bundle(path)

    def import_sampler_asset(self, path: str) -> None:
        """Copy a sample into the working folder through the parity check, write its entry, autosave."""
        if self._sampler_index is None or not self.workdir:
            self.error = "importing a sample needs a sampler manifest and a working folder"
            return
        index, workdir = self._sampler_index, Path(self.workdir)
        self.run_in_background(
            "import sample",
            lambda: casstore.import_sampler_asset(self.store, index, Path(path), workdir),
            self._asset_imported,
        )

    def _asset_imported(self, done: Any) -> None:
        lufs = f"LUFS {done.lufs_lu}" if done.lufs_lu is not None else "no LUFS"
        self.status = f"added {done.asset_name} to {self.workdir} ({lufs}, {done.sha256[:12]}); autosaved"
        self.refresh_history()

    def import_project_bundle(self, bundle: str) -> None:
        """Import a bundle (directory or zip, or a crash report) in the background and show its summary."""
        root = str(Path(bundle).absolute())
        if self.store is None:
            self.error = "open a store first"
            return
        self.run_in_background(
            "import",
            lambda: casstore.import_bundle(self.store, Path(bundle)),
            lambda result: self._imported(result, root),
        )

    def _show_import(self, manifest_sha256: str, bundle_root: str, assets: list[str]) -> None:
        self.panel.import_manifest_sha256 = manifest_sha256
        self.panel.import_bundle_root = bundle_root
        self.panel.import_sampler_asset_names = assets
        self.transport.import_summary = (
            f"last import {Path(bundle_root).name}: manifest {manifest_sha256[:16]}, "
            f"sampler assets {', '.join(assets) or '(none)'}"
        )

    def _imported(self, result: ImportResult | CrashReportResult, bundle_root: str) -> None:
        self.projects = casstore.list_projects(self.store)
        if result.project != self.project:
            self.project = result.project  # show what was just imported, not a stale screen
            self.selected, self.comparison, self.diff_rows = [], {}, []
        if isinstance(result, casstore.CrashReportResult):
            self.status = f"imported crash report of {result.project}: {len(result.refs)} autosaves and checkpoints"
            self.refresh_history()
            self._offer_recovery()
            return
        self._show_import(result.manifest_sha256, bundle_root, result.sampler_assets)
        size = casstore.diff_value_text("size", result.bytes_new)
        self.status = (
            f"imported {result.project} as {result.commit[:12]}: {result.counts['patterns']} patterns, "
            f"{result.counts['sampler_assets']} sampler assets, {size} new"
        )
        self.refresh_history()
        if self.history:
            self.open_version(self.history[0]["commit"])

    def enable_autosave(self, interval: float = casstore.DEFAULTS.watch_interval_seconds) -> None:
        """Autosave the working directory every ``interval`` seconds while the viewer runs."""
        if self._autosave_event is not None:
            self._autosave_event.cancel()
        if not self.workdir:
            return
        self._autosave_event = Clock.schedule_interval(lambda _dt: self.autosave_now(), interval)

    def autosave_now(self) -> None:
        """Autosave the working directory in the background."""
        if self.workdir and not self.busy:
            self.run_in_background(
                "autosave",
                lambda: casstore.record_autosave(self.store, Path(self.workdir), self.project or None),
                self._autosaved,
            )

    def _autosaved(self, result: AutosaveResult) -> None:
        if not result.unchanged:
            self.transport.recovery_prompt = self._prompt_line(result.prompt, result.manifest_sha256)
            self.refresh_history()
