"""The tracker app's ``project_manifest.json``, schema 1.x, as pydantic models (unknown fields kept)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from casstore import canonical
from casstore.errors import ManifestError
from casstore.paths import MANIFEST_NAME

SUPPORTED_MAJOR = 1
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _check_sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise ValueError("must be 64 lowercase hex digits")
    return value


Sha256 = Annotated[str, AfterValidator(_check_sha256)]


class ProjectRecord(_Record):
    """The ``project`` block: id, name, tempo and timestamps."""

    id: str
    name: str
    bpm: float
    swing: float
    created_at: str
    updated_at: str


class PatternFileRecord(_Record):
    """One tracker pattern file."""

    pattern_id: str
    path: str
    sha256: Sha256
    length_steps: int
    step_count: int


class MixerSnapshotRecord(_Record):
    """One mixer snapshot file."""

    name: str
    path: str
    sha256: Sha256
    snapshot_type: str


class SamplerAssetRecord(_Record):
    """One sampler asset (a WAV/FLAC sample) with its loudness and source."""

    asset_name: str
    relative_path: str
    sha256: Sha256
    lufs_lu: float | None = None
    source_uri: str | None = None


class ProjectManifest(_Record):
    """``project_manifest.json`` version 1.x."""

    manifest_version: str
    project: ProjectRecord
    patterns: list[PatternFileRecord] = Field(default_factory=list)
    mixer_snapshots: list[MixerSnapshotRecord] = Field(default_factory=list)
    sampler_assets: list[SamplerAssetRecord] = Field(default_factory=list)

    @field_validator("manifest_version")
    @classmethod
    def _known_major(cls, value: str) -> str:
        match = _VERSION.fullmatch(value)
        if not match:
            raise ValueError(f"{value!r} is not a MAJOR.MINOR.PATCH version")
        if int(match.group(1)) != SUPPORTED_MAJOR:
            raise ValueError(f"version {value} is not supported (this casstore reads {SUPPORTED_MAJOR}.x)")
        return value

    def listed_files(self) -> list[tuple[str, str, str, str]]:
        """Return ``(entry label, path, sha256, role)`` for every file the manifest lists."""
        listed = [(f"patterns[{p.pattern_id!r}]", p.path, p.sha256, "pattern") for p in self.patterns]
        listed += [(f"mixer_snapshots[{m.name!r}]", m.path, m.sha256, "mixer_snapshot") for m in self.mixer_snapshots]
        listed += [
            (f"sampler_assets[{a.asset_name!r}]", a.relative_path, a.sha256, "sampler_asset")
            for a in self.sampler_assets
        ]
        return listed

    def canonical_bytes(self) -> bytes:
        """Return this manifest in casstore's canonical form (entry lists sorted by key)."""
        data = self.model_dump(mode="json")
        data["patterns"] = sorted(data["patterns"], key=lambda p: p["pattern_id"])
        data["mixer_snapshots"] = sorted(data["mixer_snapshots"], key=lambda m: m["name"])
        data["sampler_assets"] = sorted(data["sampler_assets"], key=lambda a: a["asset_name"])
        return canonical.dumps(data)


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_manifest(raw: bytes, source: str = MANIFEST_NAME) -> ProjectManifest:
    """Parse and validate manifest bytes; errors name the file, the entry and the rule."""
    try:
        data = canonical.loads(raw)
    except UnicodeDecodeError:
        raise ManifestError(f"{source}: not UTF-8 text") from None
    except ValueError as exc:
        raise ManifestError(f"{source}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: the manifest must be a JSON object")
    try:
        manifest = ProjectManifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ManifestError(f"{source}: {_location(first['loc'])}: {message}{more}") from None
    _refuse_duplicates(manifest, source)
    return manifest


def _refuse_duplicates(manifest: ProjectManifest, source: str) -> None:
    for field, key, items in (
        ("patterns", "pattern_id", manifest.patterns),
        ("mixer_snapshots", "name", manifest.mixer_snapshots),
        ("sampler_assets", "asset_name", manifest.sampler_assets),
    ):
        seen: set[str] = set()
        for item in items:
            value = getattr(item, key)
            if value in seen:
                raise ManifestError(f"{source}: {field}[{value!r}]: duplicate {key} {value!r}")
            seen.add(value)
