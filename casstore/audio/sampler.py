"""The canonical sampler manifest: parity checks, asset copies and the import dialog's filters."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from casstore.errors import BundleError, ManifestError
from casstore.model.manifest import SamplerAssetRecord
from casstore.model.paths import check_path
from casstore.storage import canonical
from casstore.storage.atomic import replacing
from casstore.storage.ids import CHUNK_SIZE

DEFAULT_NOUN = "sampler assets"


class SamplerParityError(BundleError):
    """An asset is unknown to the sampler manifest, or its digest differs from the manifest's."""


class SamplerEntry(BaseModel):
    """One asset of the canonical sampler manifest (unknown fields kept)."""

    model_config = ConfigDict(extra="allow")

    asset_name: str
    sha256: str
    lufs_lu: float | None = None
    peak_dbfs: float | None = None
    source_uri: str | None = None


class SamplerManifest(BaseModel):
    """The canonical sampler manifest file."""

    model_config = ConfigDict(extra="allow")

    sampler_assets: list[SamplerEntry] = Field(default_factory=list)
    collection: str | None = None


@dataclass(frozen=True)
class ImportPlan:
    """What the GUI's import dialog shows: its filters, how many assets, and a label."""

    filters: list[str]
    asset_count: int
    label: str

    def as_json(self) -> dict[str, Any]:
        """Return the plan as a JSON object."""
        return {"filters": self.filters, "asset_count": self.asset_count, "label": self.label}


class SamplerManifestIndex:
    """Loads a sampler manifest and answers by asset name."""

    def __init__(self, manifest: SamplerManifest, source: str = "sampler manifest") -> None:
        self.manifest = manifest
        self.source = source
        self.entries: dict[str, SamplerEntry] = {}
        for entry in manifest.sampler_assets:
            if entry.asset_name in self.entries:
                raise ManifestError(f"{source}: sampler_assets[{entry.asset_name!r}]: duplicate asset_name")
            self.entries[entry.asset_name] = entry

    @classmethod
    def load(cls, path: Path) -> SamplerManifestIndex:
        """Load and validate the sampler manifest at ``path``."""
        try:
            data = canonical.loads(path.read_bytes())
            return cls(SamplerManifest.model_validate(data), path.name)
        except FileNotFoundError:
            raise ManifestError(f"{path}: no such sampler manifest") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ManifestError(f"{path.name}: {where}: {first['msg']}") from None
        except ValueError as exc:
            raise ManifestError(f"{path.name}: invalid JSON: {exc}") from None

    def get(self, asset_name: str) -> SamplerEntry | None:
        """Return the entry for ``asset_name``, if the manifest knows it."""
        return self.entries.get(asset_name)

    def check(self, asset_name: str, sha256: str, where: str = "") -> SamplerEntry:
        """Return the entry, or raise SamplerParityError naming the asset and both digests."""
        prefix = f"{where}: " if where else ""
        entry = self.entries.get(asset_name)
        if entry is None:
            raise SamplerParityError(f"{prefix}asset {asset_name!r} is not in the sampler manifest {self.source}")
        if entry.sha256 != sha256:
            raise SamplerParityError(
                f"{prefix}asset {asset_name!r} does not match the sampler manifest {self.source}: "
                f"expected SHA-256 {entry.sha256}, file has {sha256}"
            )
        return entry

    def copy_asset(
        self, src: Path, bundle_root: Path, relative_to: Path | None = None, asset_name: str | None = None
    ) -> SamplerAssetRecord:
        """Copy ``src`` into ``bundle_root/assets/`` only if its SHA-256 matches the manifest's entry.

        The copy streams to a temp file beside its target and is renamed into
        place only after the digest matched, so a mismatch leaves nothing behind.
        """
        name = asset_name or src.name
        check_path(f"assets/{name}", f"{self.source}: asset {name!r}")
        target = bundle_root / "assets" / name
        digest = hashlib.sha256()
        # A short temp name that names its writer: an asset name near the 255-byte limit still fits.
        with open(src, "rb") as source, replacing(target, "asset", ".partial") as out:
            while chunk := source.read(CHUNK_SIZE):
                digest.update(chunk)
                out.write(chunk)
            entry = self.check(name, digest.hexdigest(), str(src))  # a mismatch leaves no file
        base = relative_to or bundle_root
        relative = PurePosixPath(*target.absolute().relative_to(base.absolute()).parts).as_posix()
        return SamplerAssetRecord(
            asset_name=name,
            relative_path=relative,
            sha256=entry.sha256,
            lufs_lu=entry.lufs_lu,
            source_uri=entry.source_uri,
            extra={"peak_dbfs": entry.peak_dbfs},
        )

    def dialog_filters(self) -> list[str]:
        """Return the file-dialog patterns for the manifest's suffixes, sorted, without duplicates."""
        suffixes = {PurePosixPath(name).suffix.lower() for name in self.entries}
        return sorted(f"*{suffix}" for suffix in suffixes if suffix)

    def build_import_plan(self, noun: str | None = None) -> ImportPlan:
        """Return the filters, the asset count and the label ("3 choir layers available")."""
        count = len(self.entries)
        chosen = noun or self.manifest.collection or DEFAULT_NOUN
        if count == 1 and chosen.endswith("s"):
            chosen = chosen[:-1]
        return ImportPlan(self.dialog_filters(), count, f"{count} {chosen} available")
