"""The import dialog's view-model: sampler manifest filters, importing a bundle or a sample, autosaving."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.properties import StringProperty

import casstore
from casstore import CasstoreError

from .settings import load_settings, save_settings

if TYPE_CHECKING:
    from casstore import AutosaveResult, CrashReportResult, ImportResult


class ImportModel:
    """Mixed into the root view-model: what the import dialog offers and does, and the autosave timer."""

    last_folder = StringProperty("")

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

    def offered_in_dialog(self, _folder: str, filename: str) -> bool:
        """Tell whether the import dialog lists a file: a bundle zip, or a sample the sampler manifest names."""
        name = Path(filename).name
        if name.lower().endswith(".zip"):
            return True
        return self._sampler_index is not None and self._sampler_index.get(name) is not None

    def sampler_assets_in(self, folder: str) -> str:
        """Say how many of the sampler manifest's assets a folder holds (the import dialog's note)."""
        if self._sampler_index is None:
            return ""
        try:
            here = {entry.name for entry in Path(folder).iterdir() if entry.is_file()}
        except OSError:
            here = set()
        found = len(here & set(self._sampler_index.entries))
        return f"{self.panel.import_label} in the sampler manifest; {found} of them in this folder"

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
