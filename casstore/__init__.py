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
    "UnsavedChanges": ("worktree", None),
    "SamplerParityError": ("sampler", None),
    "AudioUnavailable": ("loudness", None),
    "AudioFormatError": ("loudness", None),
    "HINT_FORCE": ("errors", None),
    "HINT_PROJECT": ("errors", None),
    "HINT_STORE": ("errors", None),
    # stores and revisions
    "Store": ("store", None),
    "open_store": ("api", None),
    "find_store": ("api", None),
    "init_store": ("api", None),
    "open_or_init_store": ("actions", None),
    "default_project": ("api", None),
    "resolve_revision": ("revisions", "resolve"),
    "parse_duration": ("clock", None),
    "Commit": ("objects", None),
    "Tree": ("objects", None),
    "TreeEntry": ("objects", None),
    "ProgressFn": ("bundle", None),
    # import, export, bundles
    "import_bundle": ("actions", None),
    "ImportResult": ("importer", None),
    "export_revision": ("exporter", None),
    "ExportResult": ("exporter", None),
    "build_bundle": ("bundle_build", None),
    "BuildResult": ("bundle_build", None),
    "MixerSpec": ("bundle_build", None),
    "AssetSpec": ("bundle_build", None),
    "load_sampler_manifest": ("sampler", "SamplerManifestIndex.load"),
    "SamplerManifestIndex": ("sampler", None),
    "ImportPlan": ("sampler", None),
    # working directories
    "checkout": ("worktree", None),
    "CheckoutResult": ("worktree", None),
    "status": ("worktree", None),
    "StatusReport": ("worktree", None),
    # autosave and recovery
    "record_autosave": ("autosave", "autosave"),
    "AutosaveResult": ("autosave", None),
    "autosave_prompt": ("autosave", None),
    "Watcher": ("watch", None),
    "list_recovery_points": ("recover", None),
    "RecoveryPoint": ("recover", None),
    "restore": ("recover", None),
    "RestoreResult": ("recover", None),
    "recovery_offer": ("api", None),
    "write_crash_report": ("crashreport", None),
    "CrashReportResult": ("crashreport", None),
    "stress_autosave": ("actions", None),
    "StressSummary": ("stress", None),
    # history, revisions, diff
    "revision_history": ("api", None),
    "project_history": ("api", None),
    "HistoryEntry": ("api", None),
    "last_import": ("api", None),
    "LastImport": ("api", None),
    "show_revision": ("inspect", None),
    "manifest_lines": ("inspect", None),
    "RevisionView": ("inspect", None),
    "revision_lines": ("api", None),
    "diff_revisions": ("diff", "diff_specs"),
    "DiffRecord": ("diff", None),
    "diff_headline": ("diff", "headline"),
    "diff_stat": ("diff", "stat"),
    "diff_stat_lines": ("diff", "stat_lines"),
    "StatLine": ("diff", None),
    "diff_value_text": ("diff_text", "value_text"),
    # loudness
    "measure_loudness": ("loudness", "measure"),
    "Loudness": ("loudness", None),
    "revision_loudness": ("loudness_report", None),
    "SampleLoudness": ("loudness_report", None),
    "LoudnessChange": ("loudness_report", None),
    # integrity and space
    "fsck_store": ("fsck", "fsck"),
    "FsckReport": ("fsck", None),
    "Finding": ("fsck", None),
    "gc_store": ("gc", "gc"),
    "GcReport": ("gc", None),
    # refs
    "list_refs": ("branches", None),
    "create_ref": ("branches", None),
    "delete_ref": ("branches", None),
    "RefRecord": ("branches", None),
    # remotes (S3-compatible object storage)
    "RemoteSpec": ("remote", None),
    "Remote": ("remote", None),
    "add_remote": ("remote", None),
    "list_remotes": ("remote", None),
    "remove_remote": ("remote", None),
    "open_remote": ("remote", None),
    "ls_remote": ("remote", None),
    "FetchFirst": ("remote", None),
    "Diverged": ("remote", None),
    "RemoteNotFound": ("remote", None),
    "RemoteError": ("backend_s3_client", None),
    "UnsafeRemote": ("backend_s3_client", None),
    "push_remote": ("remote_push", "push"),
    "PushResult": ("remote_push", None),
    "RefUpdate": ("remote_push", None),
    "fetch_remote": ("remote_fetch", "fetch"),
    "pull_remote": ("remote_fetch", "pull"),
    "clone_remote": ("remote_fetch", "clone"),
    "FetchResult": ("remote_fetch", None),
    "PullResult": ("remote_fetch", None),
    "CloneResult": ("remote_fetch", None),
    "RemoteCorrupt": ("remote_fetch", None),
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
    "ObjectError",
    "ObjectMissing",
    "PathRuleError",
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
    "RemoteNotFound",
    "RemoteSpec",
    "RestoreResult",
    "RevisionError",
    "RevisionView",
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
    "Watcher",
    "__version__",
    "add_remote",
    "autosave_prompt",
    "build_bundle",
    "checkout",
    "clone_remote",
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
    "fsck_store",
    "gc_store",
    "import_bundle",
    "init_store",
    "last_import",
    "list_recovery_points",
    "list_refs",
    "list_remotes",
    "load_sampler_manifest",
    "ls_remote",
    "manifest_lines",
    "measure_loudness",
    "open_or_init_store",
    "open_remote",
    "open_store",
    "parse_duration",
    "project_history",
    "pull_remote",
    "push_remote",
    "qa_handoff",
    "record_autosave",
    "recovery_offer",
    "remove_remote",
    "resolve_revision",
    "restore",
    "revision_history",
    "revision_lines",
    "revision_loudness",
    "show_revision",
    "status",
    "stress_autosave",
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
    )
    from casstore.autosave import AutosaveResult, autosave_prompt
    from casstore.autosave import autosave as record_autosave
    from casstore.backend_s3_client import RemoteError, UnsafeRemote
    from casstore.branches import RefRecord, create_ref, delete_ref, list_refs
    from casstore.bundle import ProgressFn
    from casstore.bundle_build import AssetSpec, BuildResult, MixerSpec, build_bundle
    from casstore.clock import parse_duration
    from casstore.crashreport import CrashReportResult, write_crash_report
    from casstore.defaults import DEFAULTS, Defaults
    from casstore.diff import DiffRecord, StatLine
    from casstore.diff import diff_specs as diff_revisions
    from casstore.diff import headline as diff_headline
    from casstore.diff import stat as diff_stat
    from casstore.diff import stat_lines as diff_stat_lines
    from casstore.diff_text import value_text as diff_value_text
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
    from casstore.exporter import ExportResult, export_revision
    from casstore.fsck import Finding, FsckReport
    from casstore.fsck import fsck as fsck_store
    from casstore.gc import GcReport
    from casstore.gc import gc as gc_store
    from casstore.handoff import Handoff
    from casstore.importer import ImportResult
    from casstore.inspect import RevisionView, manifest_lines, show_revision
    from casstore.loudness import AudioFormatError, AudioUnavailable, Loudness
    from casstore.loudness import measure as measure_loudness
    from casstore.loudness_report import LoudnessChange, SampleLoudness, revision_loudness
    from casstore.objects import Commit, Tree, TreeEntry
    from casstore.recover import RecoveryPoint, RestoreResult, list_recovery_points, restore
    from casstore.remote import (
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
    from casstore.remote_fetch import CloneResult, FetchResult, PullResult, RemoteCorrupt
    from casstore.remote_fetch import clone as clone_remote
    from casstore.remote_fetch import fetch as fetch_remote
    from casstore.remote_fetch import pull as pull_remote
    from casstore.remote_push import PushResult, RefUpdate
    from casstore.remote_push import push as push_remote
    from casstore.revisions import resolve as resolve_revision
    from casstore.sampler import ImportPlan, SamplerManifestIndex, SamplerParityError
    from casstore.store import Store
    from casstore.stress import StressSummary
    from casstore.watch import Watcher
    from casstore.worktree import CheckoutResult, StatusReport, UnsavedChanges, checkout, status

    load_sampler_manifest = SamplerManifestIndex.load
