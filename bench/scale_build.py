"""Build big stores fast through the library, for the scale preset and tests/test_scale_growth.py.

Histories are made the way a tracker makes them (imports and autosaves of an edited
bundle), but in one process and without the per-write fsyncs: the store is synced once at
the end. Only building skips durability; every measured command runs with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from workload import Preset, write_workload

from casstore import import_bundle, init_store, record_autosave
from casstore.storage.fileops import FileOps, installed
from casstore.storage.store import Store


class _NoSync(FileOps):
    """Durable operations minus the fsyncs: a store built in bulk is synced once at the end."""

    def fsync(self, fd: int) -> None:
        """Skip: :func:`fast_writes` syncs everything once."""

    def fsync_dir(self, directory: Path) -> None:
        """Skip: :func:`fast_writes` syncs everything once."""


@contextlib.contextmanager
def fast_writes() -> Iterator[None]:
    """Build without per-write fsyncs, then sync the filesystem once."""
    with installed(_NoSync()):
        yield
    os.sync()


def bundle(root: Path, patterns: int = 8, samples: int = 2, sample_bytes: int = 20_000) -> Path:
    """Write one small tracker bundle (rev1 of a custom workload) and return it."""
    preset = Preset(samples=samples, sample_bytes=sample_bytes, patterns=patterns, snapshots=1)
    rev1, rev2 = write_workload(root, "scale", preset=preset)
    shutil.rmtree(rev2)
    return rev1


def edit(root: Path, step: int) -> list[Path]:
    """Change one step of one pattern (as a tracker's save does) and the manifest's digest of it; return both files."""
    manifest_path = root / "project_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    record = manifest["patterns"][step % len(manifest["patterns"])]
    path = root / record["path"]
    pattern = json.loads(path.read_text())
    pattern["steps"][0]["velocity"] = step % 128
    pattern["steps"][0]["note"] = f"C-{step % 10}"
    pattern["edit"] = step  # every save differs, even when step % 128 repeats
    path.write_text(json.dumps(pattern, indent=2))
    record["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return [path, manifest_path]


def history(store: Store, root: Path, commits: int, project: str = "scale", autosave_every: int = 2) -> None:
    """Add ``commits`` edits to ``project``: every ``autosave_every``-th an import, the rest autosaves."""
    for step in range(commits):
        edit(root, step)
        if step % autosave_every == 0:
            import_bundle(store, root, project, message=f"save {step}")
        else:
            record_autosave(store, root, project)


def projects(store: Store, root: Path, count: int, start: int = 0) -> None:
    """Import the bundle as ``count`` projects (``p<start>`` …): they share every sample."""
    for index in range(start, start + count):
        import_bundle(store, root, f"p{index}", message="first save")


def new_store(path: Path) -> Store:
    """Make an empty store at ``path``."""
    return init_store(path)


def run(argv: list[str]) -> None:
    """Run a command that must succeed (an untimed step), with its error shown if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-800:]}")
