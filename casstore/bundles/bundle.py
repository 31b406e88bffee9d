"""Validate a bundle against its manifest: every listed file present, with its SHA-256."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from casstore.bundles.bundle_source import BundleFile, BundleSource
from casstore.errors import BundleError
from casstore.model.manifest import ProjectManifest, parse_manifest
from casstore.model.objects import Tree, TreeEntry
from casstore.model.paths import MANIFEST_NAME, check_path, check_unique
from casstore.storage.ids import hash_stream
from casstore.storage.parallel import parallel_map

ProgressFn = Callable[[int, int], None]


@dataclass
class ScannedBundle:
    """A bundle that passed every rule: its manifest, its tree and where each file comes from."""

    source: BundleSource
    manifest: ProjectManifest
    manifest_sha256: str
    tree: Tree
    warnings: list[str] = field(default_factory=list)

    def files(self) -> list[tuple[TreeEntry, BundleFile]]:
        """Return each tree entry with the file it comes from."""
        return [(entry, self.source.files[entry.path]) for entry in self.tree.entries]


HashFn = Callable[[BundleFile, str | None], tuple[str, int]]


@dataclass
class ListedBundle:
    """A bundle whose manifest parsed and whose listed paths are safe and present; not yet hashed."""

    source: BundleSource
    manifest: ProjectManifest
    listed: list[tuple[str, str, str, str]]

    def expected(self) -> dict[str, str]:
        """Map each listed path to the SHA-256 the manifest records for it."""
        return {path: sha for _label, path, sha, _role in self.listed}


def hash_file(item: BundleFile, expected: str | None = None) -> tuple[str, int]:
    """Hash one bundle file in bounded memory (``expected`` is unused: the caller compares)."""
    with item.open() as stream:
        return hash_stream(stream)


def list_bundle(source: BundleSource) -> ListedBundle:
    """Parse the manifest and check every listed path (safe, unique, present) without reading files."""
    name = source.name
    manifest_file = source.files.get(MANIFEST_NAME)
    if manifest_file is None:
        raise BundleError(f"{name}: no {MANIFEST_NAME} at the top of the bundle{source.missing_manifest_hint}")
    with manifest_file.open() as stream:
        manifest_raw = stream.read()
    manifest = parse_manifest(manifest_raw, f"{name}/{MANIFEST_NAME}")
    listed = manifest.listed_files()
    where = {path: f"{name}/{MANIFEST_NAME}: {label}" for label, path, _sha, _role in listed}
    for label, path, _sha, _role in listed:
        check_path(path, f"{name}/{MANIFEST_NAME}: {label}")
    check_unique([(MANIFEST_NAME, f"{name}/{MANIFEST_NAME}")] + [(path, where[path]) for _l, path, _s, _r in listed])
    source.keep_listed(path for _label, path, _sha, _role in listed)
    for label, path, _sha, _role in listed:
        if path not in source.files:
            raise BundleError(f"{name}/{MANIFEST_NAME}: {label}: listed file {path!r} is missing from the bundle")
    return ListedBundle(source, manifest, listed)


def verify_bundle(
    bundle: ListedBundle,
    project_id: str | None = None,
    progress: ProgressFn | None = None,
    hash_one: HashFn = hash_file,
) -> ScannedBundle:
    """Hash every file (with ``hash_one``, in parallel), compare with the manifest, and build the tree.

    An import passes a ``hash_one`` that also stages new content, so each file is
    read once; whatever it staged is discarded when a digest does not match.
    """
    source, manifest, listed = bundle.source, bundle.manifest, bundle.listed
    name = source.name
    expected = bundle.expected()
    ordered = sorted(source.files.values(), key=lambda f: f.path)
    total = sum(f.size for f in ordered)
    done = 0
    digests: dict[str, tuple[str, int]] = {}
    work = parallel_map(lambda item: hash_one(item, expected.get(item.path)), ordered)
    for item, result in zip(ordered, work, strict=True):
        digests[item.path] = result
        done += item.size
        if progress:
            progress(done, total)

    roles = {MANIFEST_NAME: "manifest"}
    for label, path, sha, role in listed:
        actual = digests[path][0]
        if actual != sha:
            raise BundleError(
                f"{name}/{MANIFEST_NAME}: {label}: SHA-256 mismatch for {path!r}: "
                f"manifest says {sha}, file has {actual}"
            )
        roles[path] = role
    warnings = list(source.warnings)
    # An empty pattern or sample is legal but almost always a failed save or copy: say which.
    warnings += [
        f"{label}: {path!r} is an empty file (0 bytes)" for label, path, _sha, _role in listed if not digests[path][1]
    ]
    unlisted = [path for path in digests if path not in roles]
    if unlisted:
        warnings.append(
            f"{len(unlisted)} file(s) not listed in the manifest, kept as plain files: {', '.join(unlisted)}"
        )
    entries = tuple(
        TreeEntry(path, digests[path][0], digests[path][1], roles.get(path, "file")) for path in sorted(digests)
    )
    tree = Tree(project_id or manifest.project.id, digests[MANIFEST_NAME][0], entries)
    return ScannedBundle(source, manifest, digests[MANIFEST_NAME][0], tree, warnings)


def scan_bundle(
    source: BundleSource, project_id: str | None = None, progress: ProgressFn | None = None
) -> ScannedBundle:
    """Check ``source`` against its manifest and build its tree; raise BundleError on any rule."""
    return verify_bundle(list_bundle(source), project_id, progress)
