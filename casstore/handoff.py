"""The QA hand-off pack: commands, autosave stress figures, the LUFS/peak/SHA table and a checklist."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casstore.bundles.exporter import export_revision
from casstore.bundles.loudness_report import QA_THRESHOLD_LU, SampleLoudness, revision_loudness
from casstore.defaults import STRESS_INTERVAL_SECONDS, STRESS_ITERATIONS
from casstore.history.commits import read_commit, read_tree, walk_first_parent
from casstore.model.manifest_view import read_tree_manifest
from casstore.storage.store import Store


@dataclass
class AssetRow:
    """One row of the hand-off table: the measured values, the manifest's, and how they were made."""

    asset_name: str
    lufs_lu: float | None  # measured integrated loudness (LUFS), two decimals
    peak_dbfs: float | None  # measured sample peak (dBFS), two decimals
    sha256: str
    loudness: SampleLoudness | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the row as a JSON object."""
        found = self.loudness
        return {
            "asset_name": self.asset_name,
            "lufs_lu": self.lufs_lu,
            "lufs_source": "measured" if found is not None and found.measured is not None else None,
            "lufs_method": found.method if found else None,
            "peak_dbfs": self.peak_dbfs,
            "peak_kind": "sample peak",
            "manifest_lufs_lu": found.as_json()["manifest_lufs_lu"] if found else None,
            "lufs_difference_lu": found.as_json()["lufs_difference_lu"] if found else None,
            "qa_finding": found.qa_finding if found else None,
            "sha256": self.sha256,
            "sha256_short": self.sha256[:16],
        }


@dataclass
class Handoff:
    """Everything the hand-off README says, as data."""

    project: str
    revision: str
    commit: str
    manifest_sha256: str | None
    commands: dict[str, str]
    stress: dict[str, Any]
    assets: list[AssetRow] = field(default_factory=list)
    checklist: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the hand-off as a JSON object."""
        return {
            "project": self.project,
            "revision": self.revision,
            "commit": self.commit,
            "manifest_sha256": self.manifest_sha256,
            "commands": self.commands,
            "stress": self.stress,
            "assets": [row.as_json() for row in self.assets],
            "checklist": self.checklist,
        }


def build_handoff(store: Store, commit_id: str, revision: str, stress_summary: dict[str, Any] | None) -> Handoff:
    """Gather the hand-off for one revision; runs the stress harness when no summary is given."""
    commit = read_commit(store, commit_id)
    tree = read_tree(store, commit.tree)
    manifest = read_tree_manifest(store, tree).shown()
    project = commit.project_id
    imported = next((e for e in walk_first_parent(store, commit_id) if e.commit.kind == "import"), None)
    bundle_dir = f"dist/projects/{project}_bundle"
    commands = {
        "build": manifest.get("build_command") or "(the tracker app wrote this bundle; no build command recorded)",
        "import": (imported.commit.extra.get("command") if imported else None)
        or f"casstore import {bundle_dir} --project {project}",
        "export": f"casstore export {commit_id[:12]} {bundle_dir}",
        "verify": "casstore fsck",
    }
    digests = {str(a.get("asset_name")): str(a.get("sha256")) for a in manifest.get("sampler_assets", [])}
    rows = []
    for found in revision_loudness(store, tree, manifest):
        if found.error == "file missing":
            continue
        measured = found.measured
        lufs = None if measured is None or measured.lufs is None else round(measured.lufs, 2)
        peak = None if measured is None or measured.peak_dbfs is None else round(measured.peak_dbfs, 2)
        rows.append(AssetRow(found.asset_name, lufs, peak, digests[found.asset_name], found))
    if stress_summary is None:
        stress_summary = _run_stress(store, commit_id, project, len(rows))
    checklist = [
        f"Run `casstore import {bundle_dir} --json` and archive the JSON summary (manifest SHA-256 `{tree.manifest}`).",
        f"Launch the tracker shell (or `casstore-viewer {project}`), confirm the autosave recovery prompt "
        f"(`Autosaved {project} at YYYYMMDD-HHMMSS`) references the manifest digest, and capture a screenshot "
        "if QA requires visual proof.",
        f"When filing a crash report, run `casstore crash-report {project} --out crash-{project}.zip` and attach it "
        "with the exported `project_manifest.json`, so engineering can replay the session with `casstore import`.",
    ]
    return Handoff(project, revision, commit_id, tree.manifest, commands, stress_summary, rows, checklist)


def _run_stress(store: Store, commit_id: str, project: str, asset_count: int) -> dict[str, Any]:
    from casstore.workdir.stress import run_stress

    with tempfile.TemporaryDirectory(prefix="casstore-handoff-") as scratch:
        bundle = Path(scratch) / "bundle"
        export_revision(store, commit_id, bundle)
        scratch_store = Store.init(Path(scratch) / "store")
        summary = run_stress(
            scratch_store,
            project,
            Path(scratch) / "work",
            STRESS_ITERATIONS,
            STRESS_INTERVAL_SECONDS,
            bundle / "project_manifest.json",
            asset_count,
        )
    return summary.as_json()


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _method_cell(row: AssetRow) -> str:
    found = row.loudness
    if found is None or found.measured is None:
        return f"not measured ({found.error})" if found else "—"
    return found.measured.method


def _manifest_cell(row: AssetRow) -> str:
    found = row.loudness
    if found is None or found.manifest_lufs is None:
        return "—"
    diff = found.difference_lu
    flag = " ⚠" if diff is not None and abs(diff) > QA_THRESHOLD_LU else ""
    return f"{found.manifest_lufs:.2f}{flag}"


def render_markdown(handoff: Handoff) -> str:
    """Render the hand-off as the README QA sends to remote musicians."""
    stress = handoff.stress
    latest = stress.get("latest_prompt", {})
    lines = [
        f"# QA hand-off: {handoff.project} at {handoff.commit[:12]}",
        "",
        f"Revision `{handoff.revision}` (commit `{handoff.commit}`), manifest SHA-256 `{handoff.manifest_sha256}`.",
        "",
        "## 1. Commands",
        "",
        "```",
        f"# build\n{handoff.commands['build']}",
        f"# import\n{handoff.commands['import']}",
        f"# export\n{handoff.commands['export']}",
        f"# verify\n{handoff.commands['verify']}",
        "```",
        "",
        "## 2. Autosave stress harness",
        "",
        f"`casstore stress-autosave --project-id {stress.get('project', handoff.project)} "
        f"--iterations {stress.get('iterations')} --interval-seconds {stress.get('interval_seconds')}`",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| iterations | {stress.get('iterations')} |",
        f"| checkpoints written (autosaves) | {stress.get('autosaves_written')} |",
        f"| pruned | {stress.get('pruned')} |",
        f"| retained | {len(stress.get('retained', []))} |",
        f"| unchanged skips | {stress.get('unchanged_skips')} |",
        f"| latest prompt | {latest.get('prompt', '—')} |",
        f"| prompt manifest SHA-256 | `{latest.get('manifest_sha256', '—')}` |",
        f"| prompt asset count | {latest.get('asset_count', '—')} |",
        "",
        "## 3. Sampler assets",
        "",
        "Integrated loudness per ITU-R BS.1770-4 / EBU R 128, measured from the stored samples; a sample "
        "shorter than one 400 ms gating block is measured zero-padded to 400 ms plus one sample "
        "(`short clip, padded`). The manifest's value is shown beside it; ⚠ marks a difference over "
        f"{QA_THRESHOLD_LU} LU (a QA finding, listed below).",
        "",
        "| Asset | Measured loudness (LUFS) | Method | Manifest loudness (LUFS) | Sample peak (dBFS) "
        "| Manifest SHA-256 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in handoff.assets:
        lines.append(
            f"| `{row.asset_name}` | {_cell(row.lufs_lu)} | {_method_cell(row)} | {_manifest_cell(row)} "
            f"| {_cell(row.peak_dbfs)} | `{row.sha256[:16]}` |"
        )
    findings = [row.loudness.qa_finding for row in handoff.assets if row.loudness and row.loudness.qa_finding]
    if findings:
        lines += ["", "QA findings (manifest and measured loudness differ by more than 0.5 LU):", ""]
        lines += [f"- {finding}" for finding in findings]
    lines += ["", "## 4. Tester checklist", ""]
    lines += [f"- [ ] {item}" for item in handoff.checklist]
    return "\n".join(lines) + "\n"


def load_stress_summary(path: Path) -> dict[str, Any]:
    """Load a saved ``stress-autosave`` JSON summary."""
    from casstore.errors import UsageError

    try:
        summary: dict[str, Any] = json.loads(path.read_text())
        return summary
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a stress-autosave JSON summary: {exc}") from None
