"""Coverage-guided fuzzing with atheris (not part of `make test`; docs/fuzzing.md).

    .venv/bin/pip install atheris
    .venv/bin/python scripts/fuzz_atheris.py TARGET [libFuzzer flags, e.g. -runs=20000]

TARGET is one of: manifest, tree, commit, revision, zip, index. Only CasstoreError may
escape a target; anything else is reported by atheris as a crash, with the input saved.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from casstore.bundles.bundle_source import opened
    from casstore.errors import CasstoreError
    from casstore.history.revisions import parse_revision
    from casstore.model.manifest import parse_manifest
    from casstore.model.objects import Commit, Tree
    from casstore.storage.packs import Pack

OID = "0" * 64
_SCRATCH = Path(tempfile.mkdtemp(prefix="casstore-atheris-"))


def _zip(data: bytes) -> None:
    path = _SCRATCH / "bundle.zip"
    path.write_bytes(data)
    with opened(path) as source:
        for item in source.files.values():
            with item.open() as stream:
                while stream.read(1 << 16):
                    pass


def _index(data: bytes) -> None:
    (_SCRATCH / "pack-x.pack").write_bytes(bytes(4096))
    path = _SCRATCH / "pack-x.idx"
    path.write_bytes(data)
    Pack.load(path)


TARGETS = {
    "manifest": lambda data: parse_manifest(data, "fuzz.json"),
    "tree": lambda data: Tree.decode(OID, data),
    "commit": lambda data: Commit.decode(OID, data),
    "revision": lambda data: parse_revision(data.decode("utf-8", "replace")),
    "zip": _zip,
    "index": _index,
}


def main() -> None:
    """Run the chosen target under atheris until its flags say stop."""
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: fuzz_atheris.py {{{','.join(TARGETS)}}} [libFuzzer flags]")
    target = TARGETS[sys.argv.pop(1)]

    def one(data: bytes) -> None:
        with contextlib.suppress(CasstoreError):
            target(data)

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
