"""Start-up stays lean: a no-op command loads no thread pool, logging or compaction code.

Every command pays for what the CLI imports before it runs (the bench's no-op phase); a
module-level import of the FLAC compactor once cost the no-op 13% more instructions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = [
    "concurrent.futures",
    "logging",
    "casstore.storage.flac_compact",
    "casstore.storage.flac",  # the FLAC decoder: loaded when a compacted object is read (no-op +2%)
    "zstandard",
    "numpy",
    "soundfile",
]

PROBE = """
import sys
from casstore.porcelain.cli import cli
try:
    cli(["--store", sys.argv[1], "refs"], prog_name="casstore")
except SystemExit as exit:
    assert not exit.code, exit.code
print(" ".join(name for name in sys.argv[2:] if name in sys.modules))
"""


def test_a_no_op_command_imports_nothing_heavy(tmp_path: Path) -> None:
    store = tmp_path / "store"
    subprocess.run([str(Path(sys.executable).parent / "casstore"), "init", str(store)], check=True, capture_output=True)
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE, str(store), *HEAVY], check=True, capture_output=True, text=True
    ).stdout.split()
    assert loaded == [], f"a no-op command imported {loaded}"
