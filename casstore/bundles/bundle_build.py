"""Build a bundle from loose files: the tracker note's export service, with sampler-manifest parity."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casstore.audio.sampler import SamplerManifestIndex
from casstore.bundles.bundle import scan_bundle
from casstore.bundles.bundle_source import opened
from casstore.bundles.exporter import check_destination
from casstore.errors import BundleError, UsageError
from casstore.model.manifest import ProjectManifest, manifest_from_json
from casstore.model.paths import MANIFEST_NAME, check_path
from casstore.storage import canonical
from casstore.storage.atomic import ensure_dir, fsync_dirs, new_file, staged
from casstore.storage.ids import hash_stream
from casstore.storage.refs import check_component


@dataclass(frozen=True)
class MixerSpec:
    """``"Verse Snapshot=exports/verse_snapshot.json,master"`` parsed."""

    name: str
    path: Path
    snapshot_type: str

    @classmethod
    def parse(cls, text: str) -> MixerSpec:
        """Parse ``NAME=PATH[,TYPE]``."""
        name, sep, rest = text.partition("=")
        if not sep or not name or not rest:
            raise UsageError(f"mixer snapshot {text!r}: expected NAME=PATH[,TYPE]")
        path, _, kind = rest.partition(",")
        return cls(name, Path(path), kind or "master")


@dataclass(frozen=True)
class AssetSpec:
    """``"choir_pad_soft.wav=imports/choir_pad_soft.wav"`` parsed."""

    name: str
    path: Path

    @classmethod
    def parse(cls, text: str) -> AssetSpec:
        """Parse ``NAME=PATH`` (or a bare PATH, named after its file)."""
        name, sep, path = text.partition("=")
        if not sep:
            return cls(Path(text).name, Path(text))
        if not name or not path:
            raise UsageError(f"sampler asset {text!r}: expected NAME=PATH")
        return cls(name, Path(path))


@dataclass
class BuildResult:
    """The built bundle and its summary (the import summary's shape, without a commit)."""

    destination: str
    summary: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path, what: str) -> Any:
    try:
        return canonical.loads(path.read_bytes())
    except FileNotFoundError:
        raise BundleError(f"{path}: no such {what} file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: {what} is not valid JSON: {exc}") from None


def _copy_in(src: Path, target: Path) -> None:
    """Copy a loose file into the bundle being staged (fsynced; the staged directory's rename publishes it)."""
    ensure_dir(target.parent)
    with open(src, "rb") as source, new_file(target) as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _sha(path: Path) -> str:
    with open(path, "rb") as stream:
        return hash_stream(stream)[0]


def build_bundle(
    dest: Path,
    project_file: Path,
    patterns: list[Path],
    mixer_snapshots: list[MixerSpec],
    assets: list[AssetSpec],
    sampler_manifest: Path | None = None,
    build_command: str | None = None,
) -> BuildResult:
    """Write a complete bundle at ``dest`` (new or empty), or nothing at all if any input is refused."""
    from casstore.audio.loudness import measure

    dest = dest.absolute()
    check_destination(dest)
    project = _read_json(project_file, "project")
    if not isinstance(project, dict) or "id" not in project:
        raise BundleError(f"{project_file}: project file needs at least an 'id'")
    check_component(str(project["id"]), "project id")
    index = SamplerManifestIndex.load(sampler_manifest) if sampler_manifest else None
    with staged(dest, directory=True) as staging:
        manifest: dict[str, Any] = {
            "manifest_version": "1.0.0",
            "project": {key: project.get(key) for key in ("id", "name", "bpm", "swing", "created_at", "updated_at")},
            "patterns": [],
            "mixer_snapshots": [],
            "sampler_assets": [],
        }
        if build_command:
            manifest["build_command"] = build_command
        for pattern_path in patterns:
            pattern = _read_json(pattern_path, "pattern")
            pattern_id = str(pattern.get("pattern_id") or pattern_path.stem) if isinstance(pattern, dict) else ""
            check_component(pattern_id, "pattern_id")
            rel = check_path(f"patterns/{pattern_id}.json", f"pattern {pattern_path}")
            target = staging / rel
            _copy_in(pattern_path, target)
            steps = pattern.get("steps", [])
            manifest["patterns"].append(
                {
                    "pattern_id": pattern_id,
                    "path": rel,
                    "sha256": _sha(target),
                    "length_steps": int(pattern.get("length_steps", len(steps))),
                    "step_count": len(steps) if isinstance(steps, list) else 0,
                }
            )
        for spec in mixer_snapshots:
            _read_json(spec.path, "mixer snapshot")
            rel = check_path(f"mixer/{spec.path.name}", f"mixer snapshot {spec.name!r}")
            target = staging / rel
            _copy_in(spec.path, target)
            manifest["mixer_snapshots"].append(
                {"name": spec.name, "path": rel, "sha256": _sha(target), "snapshot_type": spec.snapshot_type}
            )
        for asset in assets:
            if not asset.path.is_file():
                raise BundleError(f"sampler asset {asset.name}: no such file {asset.path}")
            if index is not None:
                record = index.copy_asset(asset.path, staging, asset_name=asset.name).as_json()
            else:
                rel = check_path(f"assets/{asset.name}", f"sampler asset {asset.name!r}")
                _copy_in(asset.path, staging / rel)
                loudness = measure(staging / rel)
                record = {
                    "asset_name": asset.name,
                    "relative_path": rel,
                    "sha256": _sha(staging / rel),
                    "lufs_lu": None if loudness.lufs is None else round(loudness.lufs, 2),
                    "source_uri": None,
                    "peak_dbfs": None if loudness.peak_dbfs is None else round(loudness.peak_dbfs, 2),
                }
            manifest["sampler_assets"].append(record)
        _copy_in(project_file, staging / "project.json")
        with new_file(staging / MANIFEST_NAME) as out:
            out.write(manifest_from_json(manifest).canonical_bytes())
        # Each file was fsynced as it was written; their names must last too, before the rename publishes them.
        fsync_dirs({staging, *(path.parent for path in staging.rglob("*") if path.is_file())})
        with opened(staging) as source:
            scanned = scan_bundle(source)
    summary = {
        "project": scanned.table.project_id,
        "branch": None,
        "commit": None,
        "tree": scanned.tree_id,
        "manifest_sha256": scanned.manifest_sha256,
        "sampler_assets": scanned.sampler_assets,
        "counts": scanned.counts,
        "bytes": {"total": scanned.total_size, "new": scanned.total_size},
        "warnings": [w for w in scanned.warnings if "project.json" not in w],
        "destination": str(dest),
    }
    return BuildResult(str(dest), summary)


def check_sampler_parity(index: SamplerManifestIndex, manifest: ProjectManifest, bundle: str) -> None:
    """Refuse a bundle whose sampler assets the sampler manifest does not know, or knows differently."""
    for asset in manifest.sampler_assets:
        index.check(asset.asset_name, asset.sha256, f"{bundle}/{MANIFEST_NAME}: sampler_assets[{asset.asset_name!r}]")
