"""Where a sample's loudness came from: the manifest's value beside casstore's own measurement.

``show``, ``handoff``, ``diff`` and ``import --sampler-manifest`` all say which value is the
manifest's and which was measured (and how: ``bs1770`` or ``short clip, padded``), and call
a difference of more than :data:`QA_THRESHOLD_LU` a QA finding: worth a look, not an error.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from casstore.audio.loudness import Loudness, measure
from casstore.errors import CasstoreError
from casstore.model.jsondiff import FieldChange

QA_THRESHOLD_LU = 0.5
SOURCE_MANIFEST = "manifest"
SOURCE_MEASURED = "measured"


def lufs_text(value: float | None) -> str:
    """A level for people: two decimals and its unit (``-15.43 LUFS``; ``—`` for silence)."""
    return "—" if value is None else f"{value:.2f} LUFS"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def measure_from(name: str, write: Callable[[BinaryIO], None]) -> Loudness:
    """Measure a sample that ``write`` copies into a scratch file (stores and zips are not seekable files)."""
    with tempfile.TemporaryDirectory(prefix="casstore-loudness-") as scratch:
        path = Path(scratch) / (PurePosixPath(name).name or "sample")
        with open(path, "wb") as out:
            write(out)
        return measure(path)


def _copy(opener: Callable[[], Any]) -> Callable[[BinaryIO], None]:
    def write(out: BinaryIO) -> None:
        with opener() as stream:
            while chunk := stream.read(1 << 20):
                out.write(chunk)

    return write


@dataclass(frozen=True)
class SampleLoudness:
    """One sampler asset's loudness: the manifest's value, the measurement, and whether they disagree."""

    asset_name: str
    path: str | None
    manifest_lufs: float | None
    measured: Loudness | None
    error: str | None = None  # why it could not be measured

    @property
    def measured_lufs(self) -> float | None:
        """The measured integrated loudness (LUFS), if measured and not silence."""
        return None if self.measured is None else self.measured.lufs

    @property
    def method(self) -> str | None:
        """How the measured value was made (``bs1770`` or ``short clip, padded``)."""
        return None if self.measured is None else self.measured.method

    @property
    def difference_lu(self) -> float | None:
        """Measured minus manifest, in LU, when both exist."""
        if self.manifest_lufs is None or self.measured_lufs is None:
            return None
        return self.measured_lufs - self.manifest_lufs

    @property
    def qa_finding(self) -> str | None:
        """A sentence for QA when manifest and measurement differ by more than 0.5 LU."""
        diff = self.difference_lu
        if diff is None or abs(diff) <= QA_THRESHOLD_LU:
            return None
        return (
            f"{self.asset_name}: manifest {lufs_text(self.manifest_lufs)}, measured {lufs_text(self.measured_lufs)} "
            f"({self.method}): differ by {abs(diff):.2f} LU"
        )

    def measured_text(self) -> str:
        """The measured value with its source and method (``-22.84 LUFS (measured; short clip, padded)``)."""
        if self.measured is None:
            return f"not measured ({self.error})"
        return f"{lufs_text(self.measured_lufs)} (measured; {self.method})"

    def manifest_text(self) -> str:
        """The manifest's value with its source (``-17.61 LUFS (manifest)``)."""
        return "— (manifest has none)" if self.manifest_lufs is None else f"{lufs_text(self.manifest_lufs)} (manifest)"

    def as_json(self) -> dict[str, Any]:
        """Return both values, the method and the finding as a JSON object (two decimals)."""
        measured = self.measured
        return {
            "asset_name": self.asset_name,
            "path": self.path,
            "manifest_lufs_lu": _round(self.manifest_lufs),
            "measured_lufs_lu": _round(self.measured_lufs),
            "lufs_method": self.method,
            "peak_dbfs": None if measured is None else _round(measured.peak_dbfs),
            "peak_kind": "sample peak",
            "duration_s": None if measured is None else round(measured.duration_s, 3),
            "lufs_difference_lu": _round(self.difference_lu),
            "qa_finding": self.qa_finding,
            "measure_error": self.error,
        }


def sample_loudness(
    asset_name: str, path: str | None, manifest_lufs: Any, write: Callable[[BinaryIO], None] | None
) -> SampleLoudness:
    """Measure one asset (``write`` copies its bytes) and pair it with the manifest's value."""
    manifest_value = float(manifest_lufs) if isinstance(manifest_lufs, int | float) else None
    if write is None:
        return SampleLoudness(asset_name, path, manifest_value, None, "file missing")
    try:
        return SampleLoudness(asset_name, path, manifest_value, measure_from(path or asset_name, write))
    except CasstoreError as exc:
        return SampleLoudness(asset_name, path, manifest_value, None, str(exc))


def revision_loudness(store: Any, tree: Any, manifest: dict[str, Any] | None) -> list[SampleLoudness]:
    """Every sampler asset of a stored revision: its manifest value and its measurement."""
    from casstore.bundles.exporter import copy_object_to

    by_path = {entry.path: entry for entry in tree.entries}
    found = []
    for asset in (manifest or {}).get("sampler_assets") or []:
        if not isinstance(asset, dict):
            continue
        path = asset.get("relative_path")
        entry = by_path.get(path) if isinstance(path, str) else None
        write = None if entry is None else (lambda out, e=entry: copy_object_to(store, e, out))
        found.append(sample_loudness(str(asset.get("asset_name")), path, asset.get("lufs_lu"), write))
    return found


def import_warnings(entries: Iterable[tuple[str, str, Any, Callable[[], Any]]], bundle: str) -> list[str]:
    """QA findings for ``import --sampler-manifest``: (asset, path, sampler-manifest LUFS, opener) each."""
    warnings = []
    for asset_name, path, manifest_lufs, opener in entries:
        found = sample_loudness(asset_name, path, manifest_lufs, _copy(opener))
        diff = found.difference_lu
        if diff is not None and abs(diff) > QA_THRESHOLD_LU:
            warnings.append(
                f"{bundle}/{path}: QA finding: the sampler manifest says {lufs_text(found.manifest_lufs)}, "
                f"measured {lufs_text(found.measured_lufs)} ({found.method}): they differ by {abs(diff):.2f} LU "
                f"(more than {QA_THRESHOLD_LU} LU)"
            )
    return warnings


# --- diff -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoudnessChange(FieldChange):
    """A loudness value in a diff record, with where it came from, how it was made and its unit."""

    source: str = SOURCE_MEASURED
    unit: str = "LUFS"
    old_method: str | None = None
    new_method: str | None = None
    qa_finding: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the change as a JSON object: the FieldChange keys plus source, unit, methods, finding."""
        out = super().as_json()
        out.update({"source": self.source, "unit": self.unit})
        if self.source == SOURCE_MEASURED:
            out.update({"old_method": self.old_method, "new_method": self.new_method})
        if self.qa_finding is not None:
            out["qa_finding"] = self.qa_finding
        return out

    def _value(self, value: Any) -> str:
        if value is None:
            return "(none)"
        return f"{value:.2f} {self.unit}" if isinstance(value, int | float) else str(value)

    def _how(self, methods: list[str | None]) -> str:
        shown = [m for m in methods if m is not None]
        if not shown:
            return self.source
        return f"{self.source}; {' → '.join(shown) if len(set(shown)) > 1 else shown[0]}"

    def describe(self) -> str:
        """One line for ``diff``: field, old → new with units, then the source and method (or the finding)."""
        if self.qa_finding is not None:
            return f"QA finding: {self.qa_finding}"
        how = self._how([self.old_method, self.new_method])
        return f"{self.field} {self._value(self.old)} → {self._value(self.new)} ({how})"

    def fact(self, added: bool) -> str:
        """The value of an added (or removed) sample, for the one-line summary."""
        value, method = (self.new, self.new_method) if added else (self.old, self.old_method)
        return f"{self.field} {self._value(value)} ({self._how([method])})"


def _measure_side(side: Any, path: str | None) -> SampleLoudness | None:
    if path is None or path not in side.files:
        return None
    return sample_loudness(path, path, None, _copy(lambda: side.opener(path)))


def sample_loudness_changes(
    changes: list[FieldChange], old: Any, new: Any, old_item: dict[str, Any], new_item: dict[str, Any], path_key: str
) -> list[FieldChange]:
    """Label a modified sample's loudness: manifest values as such, the measured change, QA findings."""
    labelled: list[FieldChange] = []
    for change in changes:
        if change.field in ("lufs_lu", "peak_dbfs") and not isinstance(change, LoudnessChange):
            unit = "LUFS" if change.field == "lufs_lu" else "dBFS"
            labelled.append(LoudnessChange(change.field, change.old, change.new, source=SOURCE_MANIFEST, unit=unit))
        else:
            labelled.append(change)
    old_path, new_path = old_item.get(path_key), new_item.get(path_key)
    content_changed = old.files.get(old_path) != new.files.get(new_path)
    if not content_changed and not any(isinstance(c, LoudnessChange) for c in labelled):
        return labelled
    before, after = _measure_side(old, old_path), _measure_side(new, new_path)
    measured_both = before is not None and before.measured is not None and after is not None and after.measured
    if content_changed and measured_both and before is not None and after is not None:
        # Audio that cannot be read is compared by its bytes alone.
        old_value, new_value = _round(before.measured_lufs), _round(after.measured_lufs)
        if (old_value, before.method) != (new_value, after.method):
            labelled.append(
                LoudnessChange(
                    "lufs_measured",
                    old_value,
                    new_value,
                    source=SOURCE_MEASURED,
                    unit="LUFS",
                    old_method=before.method,
                    new_method=after.method,
                )
            )
    if after is not None:
        paired = sample_loudness_pair(after, new_item.get("lufs_lu"), str(new_item.get("asset_name")))
        if paired.qa_finding:
            labelled.append(
                LoudnessChange(
                    "lufs_difference",
                    None,
                    _round(paired.difference_lu),
                    source="manifest vs measured",
                    unit="LU",
                    qa_finding=paired.qa_finding,
                )
            )
    return labelled


def sample_loudness_pair(found: SampleLoudness, manifest_lufs: Any, asset_name: str) -> SampleLoudness:
    """The same measurement paired with a manifest value, under the asset's name."""
    value = float(manifest_lufs) if isinstance(manifest_lufs, int | float) else None
    return SampleLoudness(asset_name, found.path, value, found.measured, found.error)


def sample_loudness_facts(side: Any, path: str, added: bool) -> list[FieldChange]:
    """The measured loudness of an added (None → value) or removed (value → None) sample."""
    found = _measure_side(side, path)
    if found is None or found.measured is None:
        return []
    value, method = _round(found.measured_lufs), found.method
    if added:
        return [LoudnessChange("lufs_measured", None, value, source=SOURCE_MEASURED, unit="LUFS", new_method=method)]
    return [LoudnessChange("lufs_measured", value, None, source=SOURCE_MEASURED, unit="LUFS", old_method=method)]
