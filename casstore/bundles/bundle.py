"""Validate a bundle against its manifest: every listed file present, with its SHA-256."""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from casstore.bundles.bundle_source import BundleFile, BundleSource
from casstore.bundles.expected import ROLE_CODES, Expectations, listed_at, read_manifest
from casstore.bundles.listing import DirectoryListing
from casstore.bundles.tree_store import table_chunks, table_tree
from casstore.errors import BundleError, PathRuleError
from casstore.model.manifest import (
    ProjectManifest,
    entry_file,
    entry_label,
)
from casstore.model.objects import Tree
from casstore.model.paths import MANIFEST_NAME, _collision, check_unique_paths, path_problem
from casstore.model.tree_scan import DIGEST_BYTES, TreeScan
from casstore.storage.ids import hash_chunks
from casstore.storage.parallel import parallel_map

ProgressFn = Callable[[int, int], None]
HASH_CHUNK = 256 << 10  # bytes of a bundle file hashed at a time


@dataclass
class ScannedBundle:
    """A bundle that passed every rule: its tree (held compactly), what the manifest counts, and its files.

    The manifest's records are not kept: an import of 100,000 files let them go once checked
    (~25 MiB, issue 17); ``counts`` and ``sampler_assets`` are what a summary says of them.
    """

    source: BundleSource
    manifest_sha256: str
    table: TreeScan  # path order, the same as the source's
    tree_id: str
    counts: dict[str, int]  # patterns, mixer_snapshots, sampler_assets and unlisted files
    sampler_assets: list[str]  # their names, in the manifest's order
    warnings: list[str] = field(default_factory=list)

    @property
    def tree(self) -> Tree:
        """Return the tree with an entry object a file (made on each call: for small bundles)."""
        return table_tree(self.table)

    @property
    def total_size(self) -> int:
        """Return the bundle's size in bytes."""
        return sum(self.table.sizes)

    def file_at(self, at: int) -> BundleFile:
        """Return the file of the tree's entry at ``at``."""
        files = self.source.files
        return files.at(at) if isinstance(files, DirectoryListing) else files[self.table.paths[at]]


HashFn = Callable[[BundleFile, str | None], tuple[str, int]]


@dataclass
class ListedBundle:
    """A bundle whose manifest parsed and whose listed paths are safe and present; not yet hashed."""

    source: BundleSource
    manifest: ProjectManifest

    @property
    def listed(self) -> list[tuple[str, str, str, str]]:
        """Return ``(entry label, path, sha256, role)`` for every listed file (a label each: small bundles)."""
        return self.manifest.listed_files()

    def expected(self) -> dict[str, str]:
        """Map each listed path to the SHA-256 the manifest records for it."""
        return {entry_file(record)[0]: record.sha256 for record in self.manifest.listed_records()}

    def expected_digests(self) -> Iterator[str]:
        """Yield the SHA-256 the manifest records for each listed file."""
        return (record.sha256 for record in self.manifest.listed_records())

    def expectations(self) -> Expectations:
        """Return what the manifest says of each file, by position (an import then lets the records go)."""
        return Expectations.of(self.source, self.manifest)


def hash_file(item: BundleFile, expected: str | None = None) -> tuple[str, int]:
    """Hash one bundle file in bounded memory (``expected`` is unused: the caller compares)."""
    digest = hashlib.sha256()
    size = 0
    # A read of 1 MiB makes a 1 MiB buffer however small the file, one alive in each hashing
    # thread: ask for the listed size and one byte more, and read a big file (a sample, the
    # manifest) a quarter of that at a time (hashlib drops the GIL past 2 KiB either way).
    wanted = min(item.size + 1, HASH_CHUNK)
    with item.open() as stream:
        while chunk := stream.read(wanted):
            digest.update(chunk)
            size += len(chunk)
            wanted = HASH_CHUNK
    return digest.hexdigest(), size


def list_bundle(source: BundleSource) -> ListedBundle:
    """Parse the manifest and check every listed path (safe, unique, present) without reading files."""
    name = source.name
    manifest_file = source.files.get(MANIFEST_NAME)
    if manifest_file is None:
        raise BundleError(f"{name}: no {MANIFEST_NAME} at the top of the bundle{source.missing_manifest_hint}")
    manifest = read_manifest(manifest_file, f"{name}/{MANIFEST_NAME}")
    records = manifest.listed_records
    # Messages name an entry by its label; made only for the entry a message is about (issue 17).
    for record in records():
        path = entry_file(record)[0]
        problem = path_problem(path)
        if problem:
            raise PathRuleError(f"{name}/{MANIFEST_NAME}: {entry_label(record)}: path {path!r} {problem}")
    if _within_listing(source, manifest):
        return ListedBundle(source, manifest)  # unique and present: the walk refused any two paths that collide
    _check_listed_unique(manifest, f"{name}/{MANIFEST_NAME}")
    source.keep_listed(entry_file(record)[0] for record in records())
    for record in records():
        path = entry_file(record)[0]
        if path not in source.files:
            label = entry_label(record)
            raise BundleError(f"{name}/{MANIFEST_NAME}: {label}: listed file {path!r} is missing from the bundle")
    return ListedBundle(source, manifest)


def _within_listing(source: BundleSource, manifest: ProjectManifest) -> bool:
    """Tell whether the manifest lists distinct files of a directory's listing, none of them itself.

    Then no two listed paths collide (the walk refused any two of its paths that would) and
    none is missing, and the checks that would say so, with their sets and dicts of every
    path (~10 MiB at 100,000 files, issue 17), have nothing to find. Anything else is left to them.
    """
    files = source.files
    if not isinstance(files, DirectoryListing) or source.junk:
        return False
    seen = bytearray(len(files))
    seen[files.index(MANIFEST_NAME)] = 1  # list_bundle found it
    for record in manifest.listed_records():
        at = files.index(entry_file(record)[0])
        if at < 0 or seen[at]:
            return False
        seen[at] = 1
    return True


def _check_listed_unique(manifest: ProjectManifest, where: str) -> None:
    """Refuse listed paths that collide (the manifest's own included), as ``check_unique`` words it."""

    def where_of(path: str) -> str:
        if path == MANIFEST_NAME:
            return where
        record = next(r for r in manifest.listed_records() if entry_file(r)[0] == path)
        return f"{where}: {entry_label(record)}"

    def each() -> Iterator[str]:
        seen = {MANIFEST_NAME}
        yield MANIFEST_NAME
        for record in manifest.listed_records():
            path = entry_file(record)[0]
            if path in seen:
                raise PathRuleError(
                    f"{where}: {entry_label(record)}: path {path!r} {_collision(path, path)} ({where_of(path)})"
                )
            seen.add(path)
            yield path

    check_unique_paths(each(), where_of)


def verify_bundle(
    bundle: ListedBundle | Expectations,
    project_id: str | None = None,
    progress: ProgressFn | None = None,
    hash_one: HashFn = hash_file,
) -> ScannedBundle:
    """Hash every file (with ``hash_one``, in parallel), compare with the manifest, and build the tree.

    An import passes a ``hash_one`` that also stages new content, so each file is
    read once; whatever it staged is discarded when a digest does not match. It passes
    the manifest's :class:`Expectations`, not its records (issue 17).
    """
    expected = bundle if isinstance(bundle, Expectations) else bundle.expectations()
    source = expected.source
    # Everything per file is kept by position in path order, the tree's: no dict of digests,
    # roles or expected digests keyed by path (100,000 files, issue 17).
    paths, file_at, total = _by_position(source.files)
    done = 0
    digests = bytearray(len(paths) * DIGEST_BYTES)
    sizes = array("q")

    def hash_at(index: int) -> tuple[str, int]:
        return hash_one(file_at(index), expected.sha256(index))

    for index, (sha, size) in enumerate(parallel_map(hash_at, range(len(paths)))):
        digests[index * DIGEST_BYTES : (index + 1) * DIGEST_BYTES] = bytes.fromhex(sha)
        sizes.append(size)
        done += size
        if progress:
            progress(done, total)
    listed = range(len(paths))
    if any(expected.is_listed(at) and _digest(digests, at) != _digest(expected.digests, at) for at in listed):
        _refuse_mismatch(expected, digests)
    warnings = list(source.warnings)
    if any(expected.is_listed(at) and not sizes[at] for at in listed):
        # An empty pattern or sample is legal but almost always a failed save or copy: say which.
        warnings += [
            f"{entry_label(record)}: {entry_file(record)[0]!r} is an empty file (0 bytes)"
            for at, record in listed_at(paths, expected.manifest())
            if not sizes[at]
        ]
    unlisted = [path for at, path in enumerate(paths) if expected.roles[at] == ROLE_CODES["file"]]
    if unlisted:
        warnings.append(
            f"{len(unlisted)} file(s) not listed in the manifest, kept as plain files: {', '.join(unlisted)}"
        )
    manifest_sha = _digest(digests, bisect_left(paths, MANIFEST_NAME)).hex()
    table = TreeScan(project_id or expected.project_id, manifest_sha, paths, digests, sizes, expected.roles, 0)
    tree_id, length = hash_chunks(table_chunks(table))
    counts = {**expected.counts, "files": len(unlisted)}
    return ScannedBundle(
        source, manifest_sha, replace(table, length=length), tree_id, counts, expected.sampler_assets, warnings
    )


def _digest(digests: bytes | bytearray, at: int) -> bytes:
    return bytes(digests[at * DIGEST_BYTES : (at + 1) * DIGEST_BYTES])


def _refuse_mismatch(expected: Expectations, digests: bytearray) -> None:
    """Raise for the first listed file, in the manifest's order, whose digest is not the manifest's."""
    name = expected.source.name
    for at, record in listed_at(expected.paths, expected.manifest()):
        actual = _digest(digests, at).hex()
        if actual != record.sha256:
            raise BundleError(
                f"{name}/{MANIFEST_NAME}: {entry_label(record)}: SHA-256 mismatch for {entry_file(record)[0]!r}: "
                f"manifest says {record.sha256}, file has {actual}"
            )
    raise BundleError(f"{name}/{MANIFEST_NAME}: changed while it was being imported")


def _by_position(files: Mapping[str, BundleFile]) -> tuple[list[str], Callable[[int], BundleFile], int]:
    """Return the sorted paths of ``files``, the file at a position and their total size (no object a file kept)."""
    if isinstance(files, DirectoryListing):
        return files.paths, files.at, files.total_size()
    paths = sorted(files)
    return paths, lambda index: files[paths[index]], sum(item.size for item in files.values())


def scan_bundle(
    source: BundleSource, project_id: str | None = None, progress: ProgressFn | None = None
) -> ScannedBundle:
    """Check ``source`` against its manifest and build its tree; raise BundleError on any rule."""
    return verify_bundle(list_bundle(source), project_id, progress)
