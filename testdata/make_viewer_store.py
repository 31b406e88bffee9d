"""Make the viewer's demo store: the demo project, three autosaves newer than its head, a workdir.

Usage: make_viewer_store.py STORE WORKDIR [DATA]  (DATA defaults to testdata/out).
The workdir is left at the head with one unsaved edit, so restoring an autosave
there records a checkpoint first.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from casstore.importer import import_bundle
from casstore.storage.store import Store
from casstore.workdir.autosave import autosave
from casstore.workdir.worktree import checkout


def _edit(work: Path, old: bytes, new: bytes, path: str = "patterns/verse.json") -> None:
    target = work / path
    target.write_bytes(target.read_bytes().replace(old, new, 1))


def make(store_path: Path, workdir: Path, data: Path) -> Store:
    store = Store.init(store_path)
    # The takes are an hour and ten minutes old, the autosaves a few minutes: times a musician reads.
    now = datetime.now(UTC).replace(microsecond=0)
    pinned = os.environ.get("CASSTORE_NOW")
    try:
        os.environ["CASSTORE_NOW"] = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        first = import_bundle(store, data / "demo_bundle", message="first take")
        os.environ["CASSTORE_NOW"] = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        second = import_bundle(store, data / "demo_bundle_rev2", message="verse edits, trimmed stab")
    finally:
        if pinned is None:
            os.environ.pop("CASSTORE_NOW", None)
        else:
            os.environ["CASSTORE_NOW"] = pinned
    checkout(store, second.commit, workdir)
    start = now - timedelta(minutes=6)
    edits = [
        (b'"velocity": 90', b'"velocity": 96', "patterns/verse.json"),
        (b'"gain_db": -4.5', b'"gain_db": -5.0', "mixer/verse_snapshot.json"),
        (b'"velocity": 64', b'"velocity": 72', "patterns/verse.json"),
    ]
    for index, (old, new, path) in enumerate(edits, 1):
        _edit(workdir, old, new, path)
        autosave(store, workdir, "demo-project", f"m{index}", now=start + timedelta(seconds=90 * index))
    checkout(store, second.commit, workdir, force=True)
    _edit(workdir, b'"gain_db": -4.5', b'"gain_db": -6.5', "mixer/verse_snapshot.json")  # unsaved
    del first
    return store


if __name__ == "__main__":
    root = Path(__file__).resolve().parent
    make(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else root / "out")
    print(f"viewer demo store in {sys.argv[1]}, working directory {sys.argv[2]}")
