"""The README and the Makefile as a new user meets them: first lines, the tour, knobs, links, temp dirs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "bench" / "README.md"]
# Where environment variables can be read: the library, CLI, viewer, tests, scripts and build files.
SOURCES = [
    *(
        p
        for d in ("casstore", "porcelain", "gui", "tests", "scripts", "testdata", "bench")
        for p in (ROOT / d).rglob("*")
    ),
    ROOT / "Makefile",
    ROOT / "pyproject.toml",
    ROOT / ".ci" / "run",
]


def _prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return "\n".join(part for n, part in enumerate(re.split(r"^```.*$", text, flags=re.M)) if n % 2 == 0)


def test_title_first_then_the_two_setup_commands() -> None:
    lines = [line for line in README.splitlines() if line.strip()]
    assert lines[0] == "# casstore"
    assert lines[1].split()[:2] == ["make", "demo"] and lines[2].split()[:2] == ["make", "test"]


def test_readme_says_where_make_puts_casstore_before_the_tour() -> None:
    before_tour = README.split("## A short tour", 1)[0]
    assert ".venv/bin/casstore" in before_tour
    assert ". .venv/bin/activate" in before_tour and 'PATH="$PWD/.venv/bin:$PATH"' in before_tour


def _tour_commands() -> list[tuple[str, str]]:
    """Each ``$ `` line of the tour's code blocks, with the output line that follows it."""
    tour = README.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    found = []
    for block in re.findall(r"^```\n(.*?)^```", tour, flags=re.M | re.S):
        lines = block.splitlines()
        for n, line in enumerate(lines):
            if line.startswith("$ "):
                found.append((line[2:], lines[n + 1] if n + 1 < len(lines) else ""))
    return found


def test_the_tour_runs_as_written(tmp_path: Path, demo_data: Path) -> None:
    """Every command of the tour, in order, in a fresh directory: each succeeds, or fails as shown."""
    (tmp_path / "testdata").mkdir()
    (tmp_path / "testdata" / "out").symlink_to(demo_data)
    # The two refused bundles the tour shows.
    shutil.copytree(demo_data / "demo_bundle", tmp_path / "bad_bundle")
    with open(tmp_path / "bad_bundle" / "patterns" / "verse.json", "a") as verse:
        verse.write(" ")
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as evil:
        evil.writestr("project_manifest.json", (demo_data / "demo_bundle" / "project_manifest.json").read_text())
        evil.writestr("../../evil.txt", "x")
    env = {k: v for k, v in os.environ.items() if k != "CASSTORE_DIR"}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", PYTHONPATH=str(ROOT))
    commands = _tour_commands()
    assert any(c.startswith("casstore autosave") for c, _ in commands)
    for command, first_output in commands:
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True)
        if first_output.startswith("casstore: error: "):
            subject = first_output.split(": ")[2]  # the README's refusal names this file first
            assert done.returncode == 2, f"$ {command}: expected a refusal, got {done.returncode}"
            assert done.stderr.startswith(f"casstore: error: {subject}"), (command, done.stderr)
        else:
            assert done.returncode == 0, f"$ {command} failed ({done.returncode}): {done.stderr}"


def test_fsck_quick_means_the_same_in_readme_and_help() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "porcelain", "fsck", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    ).stdout
    options = help_text.split("Options:", 1)[1]
    quick = re.search(r"--quick\s+(.*?)\n\s+-", options, flags=re.S)
    assert quick, help_text
    meaning = " ".join(quick.group(1).split())
    row = next(line for line in README.splitlines() if line.startswith("| `casstore fsck"))
    assert f"`--quick`: {meaning}" in row, (meaning, row)


def _knobs_used() -> set[str]:
    names: set[str] = set()
    for path in SOURCES:
        if not path.is_file() or path.suffix in (".wav", ".flac", ".zip", ".png") or "__pycache__" in path.parts:
            continue
        text = path.read_text(errors="replace")
        names |= set(re.findall(r"\bCASSTORE_[A-Z0-9_]*[A-Z0-9]\b", text))
        names |= set(re.findall(r"""(?:environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']""", text))
    return names


def test_every_environment_knob_is_in_the_readme_table() -> None:
    used = _knobs_used()
    assert {"CASSTORE_DIR", "CASSTORE_KILL_RUNS", "CASSTORE_NOW"} <= used  # the scan finds them at all
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)[=`]", README, flags=re.M))
    assert sorted(used - listed) == [], "README's environment table misses these"


def test_docs_point_to_no_file_outside_the_repository() -> None:
    for doc in DOCS:
        prose = _prose(doc.read_text())
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+://|#|mailto:", target):
                continue
            resolved = (doc.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
            assert resolved.exists(), f"{doc.name} links to a missing file: {target}"
        outside = re.findall(r"`((?:\.\./)+[^`]*|/work/[^`]*)`", prose)
        assert outside == [], f"{doc.name} names files outside the repository: {outside}"


MAKE_TARGETS = ["demo", "test", "lint", "testdata", "viewer", "screenshots", "qa-autosave", "bench", "fmt", "clean"]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_leaves_no_temporary_directories(tmp_path: Path) -> None:
    """Reading the Makefile (``make -n``, which runs no recipe) creates nothing in $TMPDIR."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    for target in MAKE_TARGETS:
        subprocess.run(["make", "-n", "-C", str(ROOT), target], env=env, capture_output=True, check=True)
        assert list(scratch.iterdir()) == [], f"make -n {target} left {list(scratch.iterdir())}"
