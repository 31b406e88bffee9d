"""The recovery panel's and Restore's view-model: the autosave offer, restore any version after asking, undo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kivy.properties import DictProperty, ObjectProperty

import casstore
from casstore import CasstoreError

if TYPE_CHECKING:
    from casstore import RestoreDone


class RestoreModel:
    """Mixed into the root view-model: the recovery offer, the restore question, restoring and undoing."""

    confirm = DictProperty({})  # a pending question: {"title", "text", "action"}
    last_restore = ObjectProperty(None, allownone=True)

    def _offer_recovery(self) -> None:
        point = casstore.safe_recovery_offer(self.store, self.project)
        self.recovery.available = point is not None
        if point is None:
            self.recovery.visible = False
            return
        self.recovery.prompt = point.prompt
        self.recovery.when = (
            f"{casstore.relative_time(point.created_at, self.now())} · {casstore.local_time_text(point.created_at)}"
        )
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
