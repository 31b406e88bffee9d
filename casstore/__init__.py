"""casstore: a content-addressed, git-like store for music-tracker project bundles.

This package is the library's public API: the command line and the viewer use only the
names below (``from casstore import import_bundle``), never the modules behind them, so
the modules can move without breaking a front end. docs/api.md lists them with their signatures
(scripts/api_reference.py writes it from ``__all__``).

Importing this package loads nothing heavy: each name is imported from its module the
first time it is used (PEP 562), so ``casstore --help`` starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it (and the name there, when it differs).
_EXPORTS: dict[str, tuple[str, str | None]] = {
    # defaults
    "DEFAULTS": ("defaults", None),
    "Defaults": ("defaults", None),
    # errors (each carries the exit code the command line uses)
    "CasstoreError": ("errors", None),
    "UsageError": ("errors", None),
    "StoreNotFound": ("errors", None),
    "StoreFormatError": ("errors", None),
    "BundleError": ("errors", None),
    "ManifestError": ("errors", None),
    "PathRuleError": ("errors", None),
    "RevisionError": ("errors", None),
    "RefError": ("errors", None),
    "RefConflict": ("errors", None),
    "RefLocked": ("errors", None),
    "ObjectError": ("errors", None),
    "ObjectMissing": ("errors", None),
    "CorruptObject": ("errors", None),
    "DestinationError": ("errors", None),
    "UnsavedChanges": ("workdir.worktree", None),
    "SamplerParityError": ("audio.sampler", None),
    "AudioUnavailable": ("audio.loudness", None),
    "AudioFormatError": ("audio.loudness", None),
    "HINT_FORCE": ("errors", None),
    "HINT_PROJECT": ("errors", None),
    "HINT_STORE": ("errors", None),
    # stores and revisions
    "Store": ("storage.store", None),
    "open_store": ("api", None),
    "find_store": ("api", None),
    "init_store": ("api", None),
    "open_or_init_store": ("actions", None),
    "default_project": ("api", None),
    "resolve_revision": ("history.revisions", "resolve"),
    "parse_duration": ("clock", None),
    "Commit": ("model.objects", None),
    "Tree": ("model.objects", None),
    "TreeEntry": ("model.objects", None),
    "ProgressFn": ("bundles.bundle", None),
    # import, export, bundles
    "import_bundle": ("actions", None),
    "ImportResult": ("importer", None),
    "export_revision": ("bundles.exporter", None),
    "ExportResult": ("bundles.exporter", None),
    "build_bundle": ("bundles.bundle_build", None),
    "BuildResult": ("bundles.bundle_build", None),
    "MixerSpec": ("bundles.bundle_build", None),
    "AssetSpec": ("bundles.bundle_build", None),
    "load_sampler_manifest": ("audio.sampler", "SamplerManifestIndex.load"),
    "SamplerManifestIndex": ("audio.sampler", None),
    "ImportPlan": ("audio.sampler", None),
    # working directories
    "checkout": ("workdir.worktree", None),
    "CheckoutResult": ("workdir.worktree", None),
    "status": ("workdir.worktree", None),
    "StatusReport": ("workdir.worktree", None),
    # autosave and recovery
    "record_autosave": ("workdir.autosave", "autosave"),
    "AutosaveResult": ("workdir.autosave", None),
    "autosave_prompt": ("history.autosaves", None),
    "Watcher": ("workdir.watch", None),
    "list_recovery_points": ("workdir.recover", None),
    "RecoveryPoint": ("workdir.recover", None),
    "restore": ("workdir.recover", None),
    "RestoreResult": ("workdir.recover", None),
    "recovery_offer": ("api", None),
    "write_crash_report": ("crashreport", None),
    "CrashReportResult": ("crashreport", None),
    "stress_autosave": ("actions", None),
    "StressSummary": ("workdir.stress", None),
    # history, revisions, diff
    "revision_history": ("api", None),
    "project_history": ("api", None),
    "HistoryEntry": ("api", None),
    "last_import": ("api", None),
    "LastImport": ("api", None),
    "show_revision": ("bundles.inspect", None),
    "human_bytes": ("units", None),
    "manifest_lines": ("bundles.inspect", None),
    "RevisionView": ("bundles.inspect", None),
    "revision_lines": ("api", None),
    "revision_text": ("api", None),
    "version_details": ("api", None),
    "project_timeline": ("workdir.timeline", None),
    "Version": ("workdir.timeline", None),
    "local_time_text": ("workdir.timeline", None),
    "relative_time": ("workdir.timeline", None),
    "list_projects": ("workdir.versions", None),
    "tag_version": ("workdir.versions", None),
    "plan_restore": ("workdir.versions", None),
    "RestorePlan": ("workdir.versions", None),
    "restore_version": ("workdir.versions", None),
    "undo_restore": ("workdir.versions", None),
    "RestoreDone": ("workdir.versions", None),
    "safe_recovery_offer": ("workdir.versions", None),
    "import_sampler_asset": ("workdir.versions", None),
    "AssetImport": ("workdir.versions", None),
    "compare_versions": ("diff.compare", None),
    "Comparison": ("diff.compare", None),
    "PatternGrid": ("diff.compare", None),
    "GridCell": ("diff.compare", None),
    "MixerValue": ("diff.compare", None),
    "SampleChange": ("diff.compare", None),
    "SampleInfo": ("diff.compare", None),
    "version_samples": ("diff.compare", None),
    "waveform_envelope": ("audio.waveform", None),
    "Waveform": ("audio.waveform", None),
    "playable_wav": ("audio.waveform", None),
    "diff_revisions": ("diff.semantic", "diff_specs"),
    "DiffRecord": ("diff.semantic", None),
    "diff_headline": ("diff.semantic", "headline"),
    "diff_stat": ("diff.semantic", "stat"),
    "diff_stat_lines": ("diff.semantic", "stat_lines"),
    "StatLine": ("diff.semantic", None),
    "diff_value_text": ("diff.text", "value_text"),
    # loudness
    "measure_loudness": ("audio.loudness", "measure"),
    "Loudness": ("audio.loudness", None),
    "revision_loudness": ("bundles.loudness_report", None),
    "SampleLoudness": ("bundles.loudness_report", None),
    "LoudnessChange": ("bundles.loudness_report", None),
    # integrity and space
    "fsck_store": ("history.fsck", "fsck"),
    "FsckReport": ("history.fsck", None),
    "Finding": ("history.fsck", None),
    "gc_store": ("history.gc", "gc"),
    "GcReport": ("history.gc", None),
    # refs
    "list_refs": ("history.branches", None),
    "create_ref": ("history.branches", None),
    "delete_ref": ("history.branches", None),
    "RefRecord": ("history.branches", None),
    # remotes (S3-compatible object storage)
    "RemoteSpec": ("remote.remotes", None),
    "Remote": ("remote.remotes", None),
    "add_remote": ("remote.remotes", None),
    "list_remotes": ("remote.remotes", None),
    "remove_remote": ("remote.remotes", None),
    "open_remote": ("remote.remotes", None),
    "ls_remote": ("remote.remotes", None),
    "FetchFirst": ("remote.remotes", None),
    "Diverged": ("remote.remotes", None),
    "RemoteNotFound": ("remote.remotes", None),
    "RemoteError": ("storage.backend_s3_client", None),
    "UnsafeRemote": ("storage.backend_s3_client", None),
    "push_remote": ("remote.push", "push"),
    "PushResult": ("remote.push", None),
    "RefUpdate": ("remote.push", None),
    "fetch_remote": ("remote.fetch", "fetch"),
    "pull_remote": ("remote.fetch", "pull"),
    "clone_remote": ("remote.fetch", "clone"),
    "FetchResult": ("remote.fetch", None),
    "PullResult": ("remote.fetch", None),
    "CloneResult": ("remote.fetch", None),
    "RemoteCorrupt": ("remote.fetch", None),
    "gc_remote": ("remote.gc", None),
    "RemoteGcReport": ("remote.gc", None),
    "fsck_remote": ("remote.fsck", None),
    # QA hand-off
    "qa_handoff": ("actions", None),
    "HandoffResult": ("actions", None),
    "Handoff": ("handoff", None),
}

# Kept literal so that ruff and mypy see the re-exports; tests/test_public_api.py checks it
# against _EXPORTS and the TYPE_CHECKING imports below.
__all__ = [
    "DEFAULTS",
    "HINT_FORCE",
    "HINT_PROJECT",
    "HINT_STORE",
    "AssetImport",
    "AssetSpec",
    "AudioFormatError",
    "AudioUnavailable",
    "AutosaveResult",
    "BuildResult",
    "BundleError",
    "CasstoreError",
    "CheckoutResult",
    "CloneResult",
    "Commit",
    "Comparison",
    "CorruptObject",
    "CrashReportResult",
    "Defaults",
    "DestinationError",
    "DiffRecord",
    "Diverged",
    "ExportResult",
    "FetchFirst",
    "FetchResult",
    "Finding",
    "FsckReport",
    "GcReport",
    "GridCell",
    "Handoff",
    "HandoffResult",
    "HistoryEntry",
    "ImportPlan",
    "ImportResult",
    "LastImport",
    "Loudness",
    "LoudnessChange",
    "ManifestError",
    "MixerSpec",
    "MixerValue",
    "ObjectError",
    "ObjectMissing",
    "PathRuleError",
    "PatternGrid",
    "ProgressFn",
    "PullResult",
    "PushResult",
    "RecoveryPoint",
    "RefConflict",
    "RefError",
    "RefLocked",
    "RefRecord",
    "RefUpdate",
    "Remote",
    "RemoteCorrupt",
    "RemoteError",
    "RemoteGcReport",
    "RemoteNotFound",
    "RemoteSpec",
    "RestoreDone",
    "RestorePlan",
    "RestoreResult",
    "RevisionError",
    "RevisionView",
    "SampleChange",
    "SampleInfo",
    "SampleLoudness",
    "SamplerManifestIndex",
    "SamplerParityError",
    "StatLine",
    "StatusReport",
    "Store",
    "StoreFormatError",
    "StoreNotFound",
    "StressSummary",
    "Tree",
    "TreeEntry",
    "UnsafeRemote",
    "UnsavedChanges",
    "UsageError",
    "Version",
    "Watcher",
    "Waveform",
    "__version__",
    "add_remote",
    "autosave_prompt",
    "build_bundle",
    "checkout",
    "clone_remote",
    "compare_versions",
    "create_ref",
    "default_project",
    "delete_ref",
    "diff_headline",
    "diff_revisions",
    "diff_stat",
    "diff_stat_lines",
    "diff_value_text",
    "export_revision",
    "fetch_remote",
    "find_store",
    "fsck_remote",
    "fsck_store",
    "gc_remote",
    "gc_store",
    "human_bytes",
    "import_bundle",
    "import_sampler_asset",
    "init_store",
    "last_import",
    "list_projects",
    "list_recovery_points",
    "list_refs",
    "list_remotes",
    "load_sampler_manifest",
    "local_time_text",
    "ls_remote",
    "manifest_lines",
    "measure_loudness",
    "open_or_init_store",
    "open_remote",
    "open_store",
    "parse_duration",
    "plan_restore",
    "playable_wav",
    "project_history",
    "project_timeline",
    "pull_remote",
    "push_remote",
    "qa_handoff",
    "record_autosave",
    "recovery_offer",
    "relative_time",
    "remove_remote",
    "resolve_revision",
    "restore",
    "restore_version",
    "revision_history",
    "revision_lines",
    "revision_loudness",
    "revision_text",
    "safe_recovery_offer",
    "show_revision",
    "status",
    "stress_autosave",
    "tag_version",
    "undo_restore",
    "version_details",
    "version_samples",
    "waveform_envelope",
    "write_crash_report",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use, and keep it."""
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'casstore' has no attribute {name!r}") from None
    value: Any = importlib.import_module(f"casstore.{module_name}")
    for part in (attribute or name).split("."):
        value = getattr(value, part)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from casstore.actions import HandoffResult, import_bundle, open_or_init_store, qa_handoff, stress_autosave
    from casstore.api import (
        HistoryEntry,
        LastImport,
        default_project,
        find_store,
        init_store,
        last_import,
        open_store,
        project_history,
        recovery_offer,
        revision_history,
        revision_lines,
        revision_text,
        version_details,
    )
    from casstore.audio.loudness import AudioFormatError, AudioUnavailable, Loudness
    from casstore.audio.loudness import measure as measure_loudness
    from casstore.audio.sampler import ImportPlan, SamplerManifestIndex, SamplerParityError
    from casstore.audio.waveform import Waveform, playable_wav, waveform_envelope
    from casstore.bundles.bundle import ProgressFn
    from casstore.bundles.bundle_build import AssetSpec, BuildResult, MixerSpec, build_bundle
    from casstore.bundles.exporter import ExportResult, export_revision
    from casstore.bundles.inspect import RevisionView, manifest_lines, show_revision
    from casstore.bundles.loudness_report import LoudnessChange, SampleLoudness, revision_loudness
    from casstore.clock import parse_duration
    from casstore.crashreport import CrashReportResult, write_crash_report
    from casstore.defaults import DEFAULTS, Defaults
    from casstore.diff.compare import (
        Comparison,
        GridCell,
        MixerValue,
        PatternGrid,
        SampleChange,
        SampleInfo,
        compare_versions,
        version_samples,
    )
    from casstore.diff.semantic import DiffRecord, StatLine
    from casstore.diff.semantic import diff_specs as diff_revisions
    from casstore.diff.semantic import headline as diff_headline
    from casstore.diff.semantic import stat as diff_stat
    from casstore.diff.semantic import stat_lines as diff_stat_lines
    from casstore.diff.text import value_text as diff_value_text
    from casstore.errors import (
        HINT_FORCE,
        HINT_PROJECT,
        HINT_STORE,
        BundleError,
        CasstoreError,
        CorruptObject,
        DestinationError,
        ManifestError,
        ObjectError,
        ObjectMissing,
        PathRuleError,
        RefConflict,
        RefError,
        RefLocked,
        RevisionError,
        StoreFormatError,
        StoreNotFound,
        UsageError,
    )
    from casstore.handoff import Handoff
    from casstore.history.autosaves import autosave_prompt
    from casstore.history.branches import RefRecord, create_ref, delete_ref, list_refs
    from casstore.history.fsck import Finding, FsckReport
    from casstore.history.fsck import fsck as fsck_store
    from casstore.history.gc import GcReport
    from casstore.history.gc import gc as gc_store
    from casstore.history.revisions import resolve as resolve_revision
    from casstore.importer import ImportResult
    from casstore.model.objects import Commit, Tree, TreeEntry
    from casstore.remote.fetch import CloneResult, FetchResult, PullResult, RemoteCorrupt
    from casstore.remote.fetch import clone as clone_remote
    from casstore.remote.fetch import fetch as fetch_remote
    from casstore.remote.fetch import pull as pull_remote
    from casstore.remote.fsck import fsck_remote
    from casstore.remote.gc import RemoteGcReport, gc_remote
    from casstore.remote.push import PushResult, RefUpdate
    from casstore.remote.push import push as push_remote
    from casstore.remote.remotes import (
        Diverged,
        FetchFirst,
        Remote,
        RemoteNotFound,
        RemoteSpec,
        add_remote,
        list_remotes,
        ls_remote,
        open_remote,
        remove_remote,
    )
    from casstore.storage.backend_s3_client import RemoteError, UnsafeRemote
    from casstore.storage.store import Store
    from casstore.units import human_bytes
    from casstore.workdir.autosave import AutosaveResult
    from casstore.workdir.autosave import autosave as record_autosave
    from casstore.workdir.recover import RecoveryPoint, RestoreResult, list_recovery_points, restore
    from casstore.workdir.stress import StressSummary
    from casstore.workdir.timeline import Version, local_time_text, project_timeline, relative_time
    from casstore.workdir.versions import (
        AssetImport,
        RestoreDone,
        RestorePlan,
        import_sampler_asset,
        list_projects,
        plan_restore,
        restore_version,
        safe_recovery_offer,
        tag_version,
        undo_restore,
    )
    from casstore.workdir.watch import Watcher
    from casstore.workdir.worktree import CheckoutResult, StatusReport, UnsavedChanges, checkout, status

    load_sampler_manifest = SamplerManifestIndex.load
