"""Import a bundle: validate everything first, then store blobs, tree and commit, then move the ref."""

from __future__ import annotations

import contextlib
import struct
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

from casstore.bundles.bundle import (
    HashFn,
    ListedBundle,
    ProgressFn,
    ScannedBundle,
    hash_file,
    list_bundle,
    verify_bundle,
)
from casstore.bundles.bundle_source import BundleFile, opened
from casstore.bundles.expected import Expectations
from casstore.bundles.listing import STAT_BYTES, DirectoryListing
from casstore.bundles.stat_table import RECORD, StatTable
from casstore.bundles.tree_store import put_table
from casstore.clock import utc_now_iso
from casstore.errors import HINT_PROJECT, RefConflict, RefError
from casstore.history.commits import new_commit, read_commit
from casstore.storage.object_store import PACKED_OBJECT_LIMIT, PutResult
from casstore.storage.packs import PackWriter
from casstore.storage.parallel import parallel_map
from casstore.storage.refs import DEFAULT_BRANCH, check_component, ref_name
from casstore.storage.store import Store
from casstore.workdir.checkpoints import DEFAULT_KEEP_CHECKPOINTS, checkpoint_commit
from casstore.workdir.statcache import DirCache, load_dir_cache, save_dir_cache

_SIZE = struct.Struct("<Q")
_MISSING_BATCH = 4096  # digests asked about at once
# How often an import commits again on top of a head that other imports keep moving.
IMPORT_RETRIES = 20


@dataclass
class ImportResult:
    """What an import did, in the words of the contract's JSON summary."""

    project: str
    branch: str
    commit: str
    tree: str
    manifest_sha256: str
    sampler_assets: list[str]
    counts: dict[str, int]
    bytes_total: int
    bytes_new: int
    objects_total: int
    objects_new: int
    created_commit: bool
    checkpoint: str | None = None
    warnings: list[str] = field(default_factory=list)
    into: str | None = None  # the directory the revision was also laid out in
    files_hashed: int = 0  # files read to check them; the stat cache vouched for the others
    bytes_hashed: int = 0

    def as_json(self) -> dict[str, Any]:
        """Return the contract's import summary."""
        summary: dict[str, Any] = {
            "project": self.project,
            "branch": self.branch,
            "commit": self.commit,
            "tree": self.tree,
            "manifest_sha256": self.manifest_sha256,
            "sampler_assets": self.sampler_assets,
            "counts": self.counts,
            "bytes": {"total": self.bytes_total, "new": self.bytes_new},
            "objects": {"total": self.objects_total, "new": self.objects_new},
            "created_commit": self.created_commit,
            "checkpoint": self.checkpoint,
            "warnings": self.warnings,
            "hashed": {"files": self.files_hashed, "bytes": self.bytes_hashed},
        }
        if self.into is not None:
            summary["into"] = self.into
        return summary


@dataclass
class StoredTotals:
    """How many objects and bytes an import stored, and how many of them were new (not one record per file)."""

    objects: int = 0
    objects_new: int = 0
    bytes_new: int = 0
    tree: str = ""  # the stored tree's id

    def add(self, result: PutResult) -> None:
        """Count one stored object."""
        self.objects += 1
        if result.new:
            self.objects_new += 1
            self.bytes_new += result.size


def store_bundle_objects(
    store: Store,
    scanned: ScannedBundle,
    progress: ProgressFn | None = None,
    pack: PackWriter | None = None,
    staged: dict[str, PutResult] | None = None,
) -> StoredTotals:
    """Store every file of a scanned bundle (skipping what the store has or ``staged`` holds) and its tree."""
    staged = staged or {}
    table = scanned.table
    total = scanned.total_size
    done = 0

    def put(at: int) -> PutResult:
        path = table.paths[at]
        if path in staged:
            return staged[path]
        return store.objects.put_stream(
            lambda: scanned.file_at(at).open(), table.sizes[at], expected=table.sha256(at), pack=pack
        )

    totals = StoredTotals()
    for at, result in enumerate(parallel_map(put, range(len(table)))):
        totals.add(result)
        done += table.sizes[at]
        if progress:
            progress(done, total)
    tree = put_table(store, table, scanned.tree_id, pack)
    totals.add(tree)
    totals.tree = tree.oid
    return totals


@dataclass
class StatTrust:
    """The directory's stat cache as an import uses it, and what the import had to read anyway."""

    cache: StatTable
    cached_at_ns: int
    hashed: array[int] = field(default_factory=lambda: array("q"))  # sizes of the files read (appends are atomic)
    cached_paths: list[str] = field(default_factory=list)  # the cache's paths, once its records are let go

    def done(self) -> None:
        """Let the cache's records go once every file is checked (~8 MiB at 100,000 files); keep its paths."""
        self.cached_paths = self.cache.paths
        self.cache = StatTable([], b"")

    def wrap(self, hash_one: HashFn, missing: set[str]) -> HashFn:
        """Return ``hash_one`` that skips a file the cache vouches for, as git's index does.

        It is skipped only when its size, mtime, inode and ctime are as cached (outside the
        racy window), the cached digest is the one the manifest records, and the store holds
        that object; anything else is read and checked in full, with the usual errors.
        """

        def hash_or_trust(item: BundleFile, expected: str | None) -> tuple[str, int]:
            known = self.cache.index(item.path)
            if known >= 0 and item.stat is not None and self.cache.vouches(known, item.stat, self.cached_at_ns):
                digest, size = self.cache.record(known)[:2]
                sha = digest.hex()
                if (expected is None or sha == expected) and sha not in missing:
                    return sha, size
            self.hashed.append(item.size)
            return hash_one(item, expected)

        return hash_or_trust


def _scan_and_stage(
    store: Store,
    expectations: Expectations,
    project: str | None,
    progress: ProgressFn | None,
    pack: PackWriter | None,
    missing: set[str],
    trust: StatTrust,
) -> tuple[ScannedBundle, dict[str, PutResult]]:
    """Validate every file; with a pack, new small files (``missing`` ones) are encoded into it in the same read."""
    staged: dict[str, PutResult] = {}

    def hash_and_stage(item: BundleFile, expected: str | None) -> tuple[str, int]:
        if pack is None or item.size > PACKED_OBJECT_LIMIT or (expected is not None and expected not in missing):
            return hash_file(item)
        result = store.objects.put_in_pack(item.open, item.size, pack)
        staged[item.path] = result
        return result.oid, result.size

    return verify_bundle(expectations, project, progress, trust.wrap(hash_and_stage, missing)), staged


def _missing(store: Store, digests: Iterator[str]) -> set[str]:
    """Return which of ``digests`` the store lacks, asked a batch at a time (not a str of each held at once)."""
    missing: set[str] = set()
    while batch := list(islice(digests, _MISSING_BATCH)):
        missing |= store.objects.missing(batch)
    return missing


def _refresh_cache(store: Store, location: Path, scanned: ScannedBundle, trust: StatTrust, taken_at_ns: int) -> None:
    """Remember every file's stat and digest for the next import, autosave or checkout of this directory."""
    listing, table = scanned.source.files, scanned.table
    if not isinstance(listing, DirectoryListing) or not len(table):
        return  # a zip's files have no stat to remember
    if listing.paths is not table.paths and listing.paths != table.paths:
        return  # never pair a file's stat with another file's digest (verify keeps the listing's order)
    # The listing and the tree hold the same paths in the same order: a record is the tree's
    # digest and size and the listing's stat, position by position.
    # RECORD is the digest, then the stat's four fields: the size the hash read, then the rest.
    records = bytearray(len(table) * RECORD.size)
    stats, digests, sizes = listing.stats, table.digests, table.sizes
    for at in range(len(table)):
        start = at * RECORD.size
        records[start : start + 32] = digests[at * 32 : at * 32 + 32]
        records[start + 32 : start + 64] = stats[at * STAT_BYTES : (at + 1) * STAT_BYTES]
        _SIZE.pack_into(records, start + 32, sizes[at])
    files = StatTable(table.paths, records)
    if not trust.hashed and files.paths == trust.cached_paths:
        return  # every file was vouched for by the cache as it stands: nothing to write
    # A cache: the commit is already made, so failing to remember it only costs re-hashing.
    with contextlib.suppress(OSError):
        save_dir_cache(store, location, files, taken_at_ns)


def import_bundle(
    store: Store,
    location: Path,
    project: str | None = None,
    branch: str = DEFAULT_BRANCH,
    message: str | None = None,
    progress: ProgressFn | None = None,
    keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS,
    sampler_manifest: Path | None = None,
    command: str | None = None,
    verify: bool = False,
) -> ImportResult:
    """Validate the bundle at ``location`` and commit it on ``project``'s ``branch``.

    Nothing is written until the whole bundle has passed validation, and the
    ref moves only after every object it reaches is durable. A directory that
    casstore imported, autosaved or checked out before has a stat cache: files whose
    stat is unchanged are not read again unless ``verify`` asks for every byte.
    """
    loudness_findings: list[str] = []
    taken_at = time.time_ns()
    with opened(location) as source:
        listed = list_bundle(source)
        if sampler_manifest is not None:
            from casstore.audio.sampler import SamplerManifestIndex
            from casstore.bundles.bundle_build import check_sampler_parity

            index = SamplerManifestIndex.load(sampler_manifest)
            check_sampler_parity(index, listed.manifest, source.name)
            loudness_findings = sampler_loudness_findings(index, listed, source)
        try:
            project_id = check_component(project or listed.manifest.project.id, "project id")
        except RefError as exc:
            if project is not None:
                raise RefError(f"{source.name}/project_manifest.json: project.id: {exc}") from None
            raise RefError(
                f"{source.name}/project_manifest.json: project.id: {exc}; choose a project id", hint=HINT_PROJECT
            ) from None
        ref = ref_name(project_id, "heads", check_component(branch, "branch name"))
        # The manifest's records go before the stat cache is loaded and the files are hashed:
        # what it says of each file is held by position (~25 MiB less at 100,000 files, issue 17).
        expected = listed.expectations()
        del listed
        cached = DirCache() if verify or not location.is_dir() else load_dir_cache(store, location)
        trust = StatTrust(cached.files, cached.written_at_ns)
        del cached
        old = store.refs.read(ref)
        missing = _missing(store, expected.listed_digests())
        pack = store.objects.pack_for(len(missing))
        try:
            scanned, staged = _scan_and_stage(store, expected, project, progress, pack, missing, trust)
            del expected
            trust.done()
            stored = store_bundle_objects(store, scanned, progress, pack, staged)
            staged.clear()
            tree_id = stored.tree
            # Where the bundle came from and how: the viewer shows the last import's bundle root,
            # and the QA hand-off quotes the exact command that made this revision.
            extra = {"bundle": str(location.absolute())}
            if command:
                extra["command"] = command

            def commit_on(parent: str | None) -> tuple[str, bool, PutResult | None]:
                """Return (commit, created, stored) for the bundle's tree on top of ``parent``."""
                if parent is not None and read_commit(store, parent).tree == tree_id:
                    return parent, False, None
                commit = new_commit(
                    tree_id, [parent] if parent else [], project_id, "import", message or f"import {location.name}"
                )
                commit = replace(commit, extra=extra)
                return commit.id, True, store.objects.put_bytes(commit.encode(), pack)

            commit_id, created, put = commit_on(old)
            if put:
                stored.add(put)
            if pack is not None:
                store.objects.publish(pack)
                pack = None
        except BaseException:
            if pack is not None:
                pack.discard()
            raise
    store.objects.sync()
    checkpoint, conflicts = None, 0
    while created:
        if old is not None:
            # The head an import moves stays reachable, and recover lists it, for 'keep_checkpoints' imports.
            checkpoint = checkpoint_commit(store, project_id, old, "import", keep_checkpoints)
        try:
            store.refs.compare_and_swap(ref, old, commit_id, f"import: {location.name}", utc_now_iso())
            break
        except RefConflict:
            conflicts += 1
            if conflicts >= IMPORT_RETRIES:
                raise
            # Another import moved the branch meanwhile: every object is stored, so this one
            # commits again on top of the new head instead of failing.
            old = store.refs.read(ref)
            commit_id, created, _put = commit_on(old)
            checkpoint = None
            store.objects.sync()
    _refresh_cache(store, location, scanned, trust, taken_at)
    return ImportResult(
        project=project_id,
        branch=branch,
        commit=commit_id,
        tree=tree_id,
        manifest_sha256=scanned.manifest_sha256,
        sampler_assets=scanned.sampler_assets,
        counts=scanned.counts,
        bytes_total=scanned.total_size,
        bytes_new=stored.bytes_new,
        objects_total=stored.objects,
        objects_new=stored.objects_new,
        created_commit=created,
        checkpoint=checkpoint,
        warnings=scanned.warnings + loudness_findings,
        files_hashed=len(trust.hashed),
        bytes_hashed=sum(trust.hashed),
    )


def sampler_loudness_findings(index: Any, listed: ListedBundle, source: Any) -> list[str]:
    """Warn (not refuse) where the sampler manifest's loudness and the measured one differ by over 0.5 LU."""
    from casstore.bundles.loudness_report import import_warnings

    entries = []
    for asset in listed.manifest.sampler_assets:
        entry, item = index.get(asset.asset_name), source.files.get(asset.relative_path)
        if entry is not None and entry.lufs_lu is not None and item is not None:
            entries.append((asset.asset_name, asset.relative_path, entry.lufs_lu, item.open))
    return import_warnings(entries, source.name)
