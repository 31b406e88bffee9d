"""Layering: the library imports neither click nor kivy; porcelain and gui do not import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_library_imports_neither_click_nor_kivy_nor_its_frontends() -> None:
    for path, names in _imports("casstore").items():
        assert not names & {"click", "kivy", "porcelain", "gui"}, path


def test_frontends_do_not_import_each_other() -> None:
    for path, names in _imports("porcelain").items():
        assert "gui" not in names and "kivy" not in names, path
    for path, names in _imports("gui").items():
        assert "porcelain" not in names and "click" not in names, path


def test_importing_the_library_loads_no_click() -> None:
    code = "import sys, casstore.importer, casstore.exporter, casstore.fsck; print('click' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"


def test_help_does_not_load_heavy_modules() -> None:
    code = (
        "import sys, runpy; sys.argv=['casstore','--help']\n"
        "try:\n    runpy.run_module('porcelain', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pydantic','zstandard','numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_view_models_import_no_widgets() -> None:
    tree = ast.parse((ROOT / "gui" / "viewmodels.py").read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(m.startswith(("kivy.uix", "kivy.core.window")) for m in modules)
    assert not any(m.startswith(("porcelain", "click")) for m in modules)
