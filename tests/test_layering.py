"""Layering: the library imports neither click nor kivy; porcelain and gui do not import each other."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def _casstore_uses(package: str) -> dict[str, set[str]]:
    """What each file of ``package`` takes from casstore: modules it imports, names it uses from the package."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        used: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                used.update(alias.name for alias in node.names if alias.name.split(".")[0] == "casstore")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "casstore":
                used.update(f"casstore:{alias.name}" for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("casstore."):
                used.add(str(node.module))
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "casstore":
                used.add(f"casstore:{node.attr}")
        found[str(path.relative_to(ROOT))] = used
    return found


def test_frontends_use_only_the_public_api() -> None:
    # `from casstore.storage.store import Store` in a front end would tie it to a module that may move;
    # the names casstore/__init__.py exports are the one API both front ends share.
    import casstore

    public = {"casstore"} | {f"casstore:{name}" for name in casstore.__all__}
    for package in ("porcelain", "gui"):
        for path, used in _casstore_uses(package).items():
            assert used <= public, f"{path} reaches past the public API: {sorted(used - public)}"


def test_the_public_api_check_sees_a_reach_past_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "gui").mkdir()
    (tmp_path / "gui" / "x.py").write_text(
        "import casstore\nfrom casstore import api, open_store\n"
        "def f():\n    from casstore.storage.store import Store\n    return casstore.storage.store, casstore.DEFAULTS\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _casstore_uses("gui") == {
        "gui/x.py": {
            "casstore",
            "casstore:api",
            "casstore:open_store",
            "casstore.storage.store",
            "casstore:storage",
            "casstore:DEFAULTS",
        }
    }


def test_importing_the_library_loads_no_click() -> None:
    code = (
        "import sys, casstore.importer, casstore.bundles.exporter, casstore.history.fsck; print('click' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"


HEAVY = ("pydantic", "zstandard", "numpy", "scipy", "soundfile", "pyloudnorm", "kivy", "blake3")


def _modules_loaded_by(argv: list[str], cwd: Path) -> set[str]:
    """Run the CLI in a fresh interpreter and return which heavy modules it imported."""
    code = (
        f"import sys, runpy; sys.argv={['casstore', *argv]!r}\n"
        "try:\n    runpy.run_module('porcelain', run_name='__main__')\nexcept SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    return set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))


def test_commands_load_only_the_heavy_modules_they_need(demo_data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert _modules_loaded_by(["--help"], tmp_path) == set()
    assert _modules_loaded_by(["init", str(store)], tmp_path) == set()
    # Import and export decode manifests without pydantic; only zstd (for objects) is needed.
    assert _modules_loaded_by(["--store", str(store), "import", str(demo_data / "demo_bundle")], tmp_path) <= {
        "zstandard"
    }
    assert _modules_loaded_by(["--store", str(store), "log"], tmp_path) <= {"zstandard"}
    assert _modules_loaded_by(["--store", str(store), "refs"], tmp_path) == set()
    out = tmp_path / "out"
    assert _modules_loaded_by(["--store", str(store), "export", "demo-project", str(out)], tmp_path) <= {"zstandard"}
    assert (out / "project_manifest.json").is_file()


def test_view_models_import_no_widgets() -> None:
    tree = ast.parse((ROOT / "gui" / "viewmodels.py").read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(m.startswith(("kivy.uix", "kivy.core.window")) for m in modules)
    assert not any(m.startswith(("porcelain", "click")) for m in modules)


def test_every_command_loads_from_the_module_the_table_names() -> None:
    import click

    from porcelain.cli import COMMAND_MODULES, cli

    ctx = click.Context(cli)
    for name in COMMAND_MODULES:
        assert cli.get_command(ctx, name) is not None, name
    assert sorted(cli.commands) == sorted(COMMAND_MODULES)


def test_the_installed_distribution_takes_no_generic_top_level_names(tmp_path: Path) -> None:
    # Outside the source tree, as a user's program sees the installed casstore.
    probe = (
        "import importlib.util as u, casstore.porcelain.cli, casstore.gui.viewmodels\n"
        "print(u.find_spec('porcelain') is None, u.find_spec('gui') is None)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    if "No module named 'casstore'" in done.stderr:
        pytest.skip("casstore is not installed in this interpreter (make test installs it)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


# Bottom to top (docs/architecture.md). A module may import its own layer and those below;
# errors, clock, defaults and units sit under everything; the top-level modules (importer,
# crashreport, handoff, actions, api and the package's public names) orchestrate the layers.
LAYERS = ["storage", "model", "history", "audio", "bundles", "diff", "workdir", "remote"]
BASE = {"errors", "clock", "defaults", "units"}


def _rank(module: str) -> int:
    part = module.split(".")[1] if module.count(".") else ""
    if part in BASE:
        return -1
    if part in LAYERS:
        return LAYERS.index(part)
    return len(LAYERS)


def _library_imports() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "casstore").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found += [(module, node.module)]
                if node.module == "casstore":
                    found += [(module, f"casstore.{alias.name}") for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [(module, alias.name) for alias in node.names]
    return [(module, target) for module, target in found if target.startswith("casstore.")]


def test_every_library_module_sits_in_a_layer_or_on_top() -> None:
    top = {"casstore", "casstore.actions", "casstore.api", "casstore.crashreport", "casstore.handoff"}
    top |= {"casstore.importer"}
    for path in sorted((ROOT / "casstore").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        assert module in top or _rank(module) < len(LAYERS), f"{module}: put it in a layer or list it as the top"


def test_no_library_import_runs_upward() -> None:
    upward = [
        f"{module} imports {target}"
        for module, target in _library_imports()
        if module != "casstore" and _rank(target) > _rank(module)
    ]
    assert upward == []


def test_the_layer_check_sees_an_upward_import() -> None:
    assert _rank("casstore.storage.store") < _rank("casstore.workdir.autosave")
    assert _rank("casstore.bundles.exporter") > _rank("casstore.history.commits")
    assert _rank("casstore.importer") > _rank("casstore.workdir.checkpoints")


def test_every_library_package_is_installed() -> None:
    # pyproject lists packages by hand (porcelain/ and gui/ install under casstore): a layer
    # missing from that list would import here, from the source tree, and fail once installed.
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "casstore").rglob("__init__.py")} - {
        ""
    }
    assert packages <= listed, sorted(packages - listed)
    assert all(name.startswith("casstore") for name in listed)
