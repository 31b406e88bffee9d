"""What a bundle's manifest says of each of its files, held by position rather than as a record a file.

An import checks every file against its manifest. Holding the manifest's records while the
stat cache is loaded and every file is hashed was ~25 MiB at 100,000 files (issue 17:
<= 100 MiB); :class:`Expectations` keeps 33 bytes a file, and a message that names an entry
reads the manifest again to name it as the records would have.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from casstore.bundles.bundle_source import BundleFile, BundleSource
from casstore.bundles.listing import DirectoryListing
from casstore.model.manifest import ProjectManifest, entry_file, parse_manifest, parse_manifest_text
from casstore.model.manifest_chunks import parse_manifest_chunks
from casstore.model.objects import ROLES
from casstore.model.paths import MANIFEST_NAME
from casstore.model.tree_scan import DIGEST_BYTES

MANIFEST_CHUNK = 1 << 16  # bytes of the manifest read at a time: the text held is about twice this
ROLE_CODES = {role: code for code, role in enumerate(ROLES)}
_UNLISTED = frozenset({ROLE_CODES["file"], ROLE_CODES["manifest"]})


def read_manifest(manifest_file: BundleFile, where: str) -> ProjectManifest:
    """Read and validate the manifest, streamed: neither its bytes nor its text held whole (issue 17)."""
    with manifest_file.open() as stream:
        manifest = parse_manifest_chunks(iter(partial(stream.read, MANIFEST_CHUNK), b""), where)
    if manifest is not None:
        return manifest
    # Not one the streamed parse takes: the usual parse decides, and names any problem.
    with manifest_file.open() as stream:
        try:
            text = stream.read().decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is None:
        with manifest_file.open() as stream:
            return parse_manifest(stream.read(), where)  # which says why it is not UTF-8
    return parse_manifest_text(text, where)


def sorted_paths(files: Mapping[str, BundleFile]) -> list[str]:
    """Return the paths of ``files`` in order (a directory's listing is sorted already)."""
    return files.paths if isinstance(files, DirectoryListing) else sorted(files)


@dataclass
class Expectations:
    """The manifest's word on each file of ``source``, by position in its sorted ``paths``."""

    source: BundleSource
    paths: list[str]
    digests: bytearray  # the manifest's digest of each listed file, DIGEST_BYTES a position (else zeros)
    roles: bytes  # the tree role of each file, an index into ROLES: unlisted files are "file" (or "manifest")
    project_id: str
    counts: dict[str, int]  # patterns, mixer_snapshots, sampler_assets
    sampler_assets: list[str]  # their names, in the manifest's order

    @classmethod
    def of(cls, source: BundleSource, manifest: ProjectManifest) -> Expectations:
        """Take what ``manifest`` (whose listed paths are all among the source's files) says of each file."""
        paths = sorted_paths(source.files)
        digests = bytearray(len(paths) * DIGEST_BYTES)
        roles = bytearray([ROLE_CODES["file"]]) * len(paths)
        for record in manifest.listed_records():
            path, sha256, role = entry_file(record)
            at = bisect_left(paths, path)
            digests[at * DIGEST_BYTES : (at + 1) * DIGEST_BYTES] = bytes.fromhex(sha256)
            roles[at] = ROLE_CODES[role]
        at = bisect_left(paths, MANIFEST_NAME)
        if at < len(paths) and paths[at] == MANIFEST_NAME and roles[at] == ROLE_CODES["file"]:
            roles[at] = ROLE_CODES["manifest"]
        counts = {
            "patterns": len(manifest.patterns),
            "mixer_snapshots": len(manifest.mixer_snapshots),
            "sampler_assets": len(manifest.sampler_assets),
        }
        assets = [asset.asset_name for asset in manifest.sampler_assets]
        return cls(source, paths, digests, bytes(roles), manifest.project.id, counts, assets)

    def is_listed(self, at: int) -> bool:
        """Tell whether the manifest lists the file at ``at``."""
        return self.roles[at] not in _UNLISTED

    def sha256(self, at: int) -> str | None:
        """Return the digest the manifest records for the file at ``at``, or None when it does not list it."""
        return self.digests[at * DIGEST_BYTES : (at + 1) * DIGEST_BYTES].hex() if self.is_listed(at) else None

    def listed_digests(self) -> Iterator[str]:
        """Yield the digest the manifest records for each file it lists."""
        return (
            self.digests[at * DIGEST_BYTES : (at + 1) * DIGEST_BYTES].hex()
            for at in range(len(self.paths))
            if self.is_listed(at)
        )

    def manifest(self) -> ProjectManifest:
        """Read the manifest again, for a message that names its entries (rare: a problem, an empty file)."""
        name = self.source.name
        return read_manifest(self.source.files[MANIFEST_NAME], f"{name}/{MANIFEST_NAME}")


def listed_at(paths: list[str], manifest: ProjectManifest) -> Iterator[tuple[int, Any]]:
    """Yield the position in ``paths`` of each file ``manifest`` lists, with its record, in the manifest's order.

    A path that ``paths`` lacks (the manifest read again has changed since) is passed over.
    """
    for record in manifest.listed_records():
        path = entry_file(record)[0]
        at = bisect_left(paths, path)
        if at < len(paths) and paths[at] == path:
            yield at, record
