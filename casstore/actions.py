"""What users do, orchestrated once for every front end: import, stress-test autosaves, hand off to QA.

Each function here strings library steps together the way a command does (check the
destination, import, lay the bundle out; recognise a crash report), so the command line
and the viewer only parse, call and show. Heavy modules load inside the functions: a
command that does not import pays nothing for the importer.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casstore.defaults import AUTOSAVE_KEEP, BRANCH, KEEP_CHECKPOINTS, STRESS_INTERVAL_SECONDS, STRESS_ITERATIONS
from casstore.storage.store import CONFIG_NAME, Store

if TYPE_CHECKING:
    from casstore.bundles.bundle import ProgressFn
    from casstore.crashreport import CrashReportResult
    from casstore.handoff import Handoff
    from casstore.importer import ImportResult
    from casstore.workdir.stress import StressSummary


def import_bundle(
    store: Store,
    location: Path,
    project: str | None = None,
    branch: str = BRANCH,
    message: str | None = None,
    *,
    into: Path | None = None,
    progress: ProgressFn | None = None,
    keep_checkpoints: int = KEEP_CHECKPOINTS,
    sampler_manifest: Path | None = None,
    command: str | None = None,
    verify: bool = False,
) -> ImportResult | CrashReportResult:
    """Import a bundle directory or zip and commit it, or add the refs of a crash-report zip.

    With ``into``, the imported revision is also laid out in that new directory; it is
    checked first, so a bad destination refuses the import before anything is stored.
    ``command`` is the command line recorded in the commit, when there is one. ``verify``
    re-reads every file, even those the directory's stat cache vouches for.
    """
    if location.is_file():  # only a zip can be a crash report; directories skip loading that code
        from casstore.crashreport import import_crash_report, is_crash_report

        if is_crash_report(location):
            return import_crash_report(store, location)
    if into is not None:
        from casstore.bundles.exporter import check_destination

        check_destination(into)
    from casstore.importer import import_bundle as run_import

    result = run_import(
        store, location, project, branch, message, progress, keep_checkpoints, sampler_manifest, command, verify
    )
    if into is None:
        return result
    from casstore.workdir.worktree import checkout

    checkout(store, result.commit, into)
    return replace(result, into=str(into.absolute()))


def open_or_init_store(path: Path) -> Store:
    """Open the store at ``path``, creating it first when there is none."""
    return Store.open(path) if (path / CONFIG_NAME).exists() else Store.init(path)


def stress_autosave(
    project: str,
    iterations: int = STRESS_ITERATIONS,
    interval_seconds: float = STRESS_INTERVAL_SECONDS,
    manifest: Path | None = None,
    asset_count: int | None = None,
    keep: int = AUTOSAVE_KEEP,
    *,
    store_dir: Path | None = None,
    store_path: str | os.PathLike[str] | None = None,
) -> StressSummary:
    """Run the autosave stress harness in a scratch working copy, on a synthetic clock.

    It runs against ``store_dir`` (created when missing), else the store ``store_path``
    names or the one found upward.
    """
    from casstore.storage.refs import check_component
    from casstore.workdir.stress import run_stress

    check_component(project, "project id")
    store = open_or_init_store(store_dir) if store_dir is not None else Store.locate(store_path)
    with tempfile.TemporaryDirectory(prefix="casstore-stress-") as scratch:
        return run_stress(
            store, project, Path(scratch) / "work", iterations, interval_seconds, manifest, asset_count, keep
        )


@dataclass(frozen=True)
class HandoffResult:
    """A QA hand-off pack: the data, its Markdown, and the file it was written to (if any)."""

    pack: Handoff
    markdown: str
    out: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the pack as a JSON object, with where its Markdown went."""
        return {**self.pack.as_json(), "out": self.out}


def qa_handoff(store: Store, rev: str, stress_summary: Path | None = None, out: Path | None = None) -> HandoffResult:
    """Build the QA hand-off pack of revision ``rev``; with ``out``, write its Markdown there durably.

    Without a saved stress-harness summary the harness runs on a scratch copy.
    """
    from casstore.handoff import build_handoff, load_stress_summary, render_markdown
    from casstore.history.revisions import resolve
    from casstore.storage.atomic import write_durable

    summary = load_stress_summary(stress_summary) if stress_summary else None
    pack = build_handoff(store, resolve(store, rev), rev, summary)
    text = render_markdown(pack)
    if out is not None:
        write_durable(out.absolute(), text.encode())
    return HandoffResult(pack, text, str(out) if out is not None else None)
