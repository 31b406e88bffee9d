"""View-models of the viewer: plain EventDispatchers holding all state; no widget is created here.

Names follow the tracker note where they match it: ``TrackerMixerRoot`` is the
root, ``TrackerPanelState`` the import panel, ``TransportControlsState`` what the
note's ``TransportControlsWidget`` shows. Long work runs on a thread and its
result is applied on the Kivy clock, so the UI never blocks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty

import casstore
from casstore import CasstoreError

if TYPE_CHECKING:
    from casstore import AutosaveResult, CrashReportResult, DiffRecord, HistoryEntry, ImportResult, RestoreResult

KIND_COLORS = {
    "import": (0.35, 0.65, 1.0, 1),
    "save": (0.45, 0.85, 0.45, 1),
    "autosave": (1.0, 0.75, 0.3, 1),
    "checkpoint": (0.85, 0.5, 0.95, 1),
}
# The viewer's font (Roboto) has no arrow glyph, so rows use "->".
SECTION_TITLES = {
    "project": "Project",
    "manifest": "Manifest",
    "pattern": "Patterns",
    "mixer": "Mixer",
    "sample": "Samples",
    "file": "Other files",
}


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
    """The recovery panel shown on launch when autosaves are newer than the head."""

    visible = BooleanProperty(False)
    prompt = StringProperty("")
    manifest_sha256 = StringProperty("")
    sampler_assets = ListProperty([])
    summary = StringProperty("")
    ref = StringProperty("")


def history_rows(entries: list[HistoryEntry], selected: list[str]) -> list[dict[str, Any]]:
    """Turn history entries into RecycleView rows (all state in the data, as RecycleView needs)."""
    rows = []
    for entry in entries:
        commit = entry.commit
        mutation = f"  [{commit.mutation_id}]" if commit.mutation_id else ""
        when = commit.created_at[:19].replace("T", " ")
        rows.append(
            {
                "commit": entry.oid,
                "kind": commit.kind,
                "text": f"{when}  {commit.kind:<10}  {commit.message}{mutation}",
                "kind_color": KIND_COLORS.get(commit.kind, (0.8, 0.8, 0.8, 1)),
                "selected": entry.oid in selected,
            }
        )
    return rows


def diff_rows(records: list[DiffRecord]) -> list[dict[str, Any]]:
    """Group diff records under section headings: a row per heading, record and change, in QA's words."""
    rows: list[dict[str, Any]] = []
    for section in SECTION_TITLES:
        members = [r for r in records if r.section == section]
        if not members:
            continue
        rows.append({"text": SECTION_TITLES[section], "heading": True})
        for record in members:
            rows.append({"text": f"  {_glyphs(casstore.diff_headline(record))}", "heading": False})
            if record.change in ("modified", "renamed"):
                for line in record.lines():
                    rows.append({"text": f"      {_glyphs(line)}", "heading": False})
    return rows


def _glyphs(text: str) -> str:
    return text.replace("→", "->")


class TrackerMixerRoot(EventDispatcher):
    """The viewer's root view-model: a project's history, recovery, revision and diff views, import."""

    project = StringProperty("")
    workdir = StringProperty("")
    busy = BooleanProperty(False)
    status = StringProperty("")
    error = StringProperty("")
    history = ListProperty([])
    selected = ListProperty([])
    revision_rows = ListProperty([])
    diff_rows = ListProperty([])
    panel = ObjectProperty(None, rebind=True)
    transport = ObjectProperty(None, rebind=True)
    recovery = ObjectProperty(None, rebind=True)

    def __init__(self, store_path: str | None, project: str | None, workdir: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = casstore.open_store(store_path)
        self.project = project or casstore.default_project(self.store) or ""
        self.workdir = str(Path(workdir).absolute()) if workdir else ""
        self.panel = TrackerPanelState()
        self.transport = TransportControlsState()
        self.recovery = RecoveryState()
        self._autosave_event: Any = None
        self._sampler_index: Any = None

    # -- background work -------------------------------------------------------------------
    def run_in_background(self, label: str, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Run ``work`` off the UI thread; apply ``done(result)`` (or show the error) on the clock."""
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
        self.busy = False
        self.status = f"{label}: done"
        done(result)

    def _failed(self, label: str, message: str) -> None:
        self.busy = False
        self.status = f"{label}: failed"
        self.error = message

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        """Read history and recovery state (synchronously: both are small reads)."""
        if not self.project:
            self.status = "the store has no projects yet"
            return
        self.refresh_history()
        if self.history:
            self.show_revision(self.history[0]["commit"])
        imported = casstore.last_import(self.store, self.project)
        if imported is not None:
            self._show_import(imported.manifest_sha256, imported.bundle_root, list(imported.sampler_assets))
        point = casstore.recovery_offer(self.store, self.project)
        if point is not None:
            self.recovery.prompt = point.prompt
            self.recovery.manifest_sha256 = point.manifest_sha256 or ""
            self.recovery.sampler_assets = list(point.sampler_assets)
            self.recovery.summary = point.summary
            self.recovery.ref = point.ref
            self.recovery.visible = True
            self.transport.recovery_prompt = self._prompt_line(point.prompt, point.manifest_sha256)
        else:
            self.recovery.visible = False

    def _prompt_line(self, prompt: str, manifest_sha256: str | None) -> str:
        digest = (manifest_sha256 or "")[:16]
        line = f"{prompt} · manifest {digest}"
        if self.transport.import_summary:
            line += f" · {self.transport.import_summary}"
        return line

    def refresh_history(self) -> None:
        """Reload the project's history rows, newest first."""
        entries = casstore.project_history(self.store, self.project)
        self.history = history_rows(entries, list(self.selected))

    # -- selection, revision and diff views ---------------------------------------------------
    def toggle_select(self, commit: str) -> None:
        """Select a history row (at most two: the diff pair); show the newest selection's revision."""
        chosen = [c for c in self.selected if c != commit]
        if commit not in self.selected:
            chosen = [*chosen, commit][-2:]
        self.selected = chosen
        self.history = [{**row, "selected": row["commit"] in chosen} for row in self.history]
        if commit in chosen:
            self.show_revision(commit)

    def show_revision(self, commit: str) -> None:
        """Fill the revision view with the manifest of ``commit`` (a damaged revision shows as an error)."""
        try:
            lines = casstore.revision_lines(self.store, commit)
        except CasstoreError as exc:
            self.error = str(exc)
            return
        self.revision_rows = [{"text": line, "heading": heading} for line, heading in lines]

    def diff_selected(self) -> None:
        """Diff the two selected revisions (older → newer), or a revision against the working directory."""
        if len(self.selected) == 2:
            old, new = self.selected
        elif len(self.selected) == 1 and self.workdir:
            old, new = self.selected[0], self.workdir
        else:
            self.error = "select two revisions (or one, with a working directory) to compare"
            return
        order = [row["commit"] for row in self.history]
        if old in order and new in order and order.index(old) < order.index(new):
            old, new = new, old  # history is newest first; diff from the older one
        self.run_in_background("diff", lambda: casstore.diff_revisions(self.store, old, new), self._show_diff)

    def _show_diff(self, records: list[DiffRecord]) -> None:
        self.diff_rows = diff_rows(records) or [{"text": "no differences", "heading": False}]

    # -- recovery --------------------------------------------------------------------------
    def restore(self) -> None:
        """Restore the offered autosave into the working directory (checkpointing what it replaces)."""
        if not self.workdir:
            self.error = "no working directory to restore into (start the viewer with --workdir)"
            return
        ref = self.recovery.ref
        self.run_in_background(
            "restore", lambda: casstore.restore(self.store, self.project, ref, Path(self.workdir)), self._restored
        )

    def _restored(self, done: tuple[str, RestoreResult]) -> None:
        restored, result = done
        self.recovery.visible = False
        checkpoint = f"; what it held is checkpoint {result.checkpoint}" if result.checkpoint else ""
        self.status = f"restored {restored} into {self.workdir}{checkpoint}"
        self.refresh_history()

    def dismiss_recovery(self) -> None:
        """Hide the recovery panel ("Not now")."""
        self.recovery.visible = False

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

    def import_project_bundle(self, bundle: str) -> None:
        """Import a bundle (directory or zip, or a crash report) in the background and show its summary."""
        root = str(Path(bundle).absolute())
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
        if not self.project:
            self.project = result.project
        if isinstance(result, casstore.CrashReportResult):
            self.status = f"imported crash report of {result.project}: {len(result.refs)} autosaves and checkpoints"
            self.refresh_history()
            return
        self._show_import(result.manifest_sha256, bundle_root, result.sampler_assets)
        self.status = (
            f"imported {result.project} as {result.commit[:12]}: {result.counts['patterns']} patterns, "
            f"{result.counts['sampler_assets']} sampler assets, {result.bytes_new} bytes new"
        )
        self.refresh_history()

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
