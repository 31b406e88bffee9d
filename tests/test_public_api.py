"""The public API: every exported name resolves, importing it stays light, and front ends share it."""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

import casstore
from conftest import ROOT, Cli

HEAVY = ("pydantic", "zstandard", "numpy", "scipy", "soundfile", "pyloudnorm", "kivy", "blake3", "click")
INIT = ROOT / "casstore" / "__init__.py"


def test_every_exported_name_resolves_to_what_its_module_defines() -> None:
    import importlib

    for name in casstore.__all__:
        value = getattr(casstore, name)
        if name == "__version__":
            continue
        module, attribute = casstore._EXPORTS[name]
        expected = importlib.import_module(f"casstore.{module}")
        for part in (attribute or name).split("."):
            expected = getattr(expected, part)
        assert value is expected or value == expected, name
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = casstore.no_such_name  # type: ignore[attr-defined]


def test_no_exported_name_is_shadowed_by_a_module_of_the_package() -> None:
    # Importing casstore.history.gc sets the package attribute `gc` to that module: a public function
    # called `gc` would then turn into a module half-way through a run.
    modules = {path.stem for path in (ROOT / "casstore").glob("*.py")}
    modules |= {path.parent.name for path in (ROOT / "casstore").glob("*/__init__.py")}  # the layers
    assert not modules & set(casstore.__all__)


def test_all_the_export_table_and_the_type_checking_imports_agree() -> None:
    tree = ast.parse(INIT.read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    declared: dict[str, tuple[str, str]] = {}
    for node in ast.walk(guarded):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                declared[alias.asname or alias.name] = (str(node.module).removeprefix("casstore."), alias.name)
        elif isinstance(node, ast.Assign):  # `load_sampler_manifest = SamplerManifestIndex.load`
            target = node.targets[0]
            assert isinstance(target, ast.Name)
            declared[target.id] = ("audio.sampler", ast.unparse(node.value))
    assert sorted(casstore.__all__) == sorted(["__version__", *casstore._EXPORTS])
    assert set(declared) == set(casstore._EXPORTS)
    for name, (module, attribute) in casstore._EXPORTS.items():
        typed_module, typed_attribute = declared[name]
        assert typed_module == module, name
        if typed_attribute != "SamplerManifestIndex.load":
            assert typed_attribute == (attribute or name), name


def test_importing_casstore_loads_nothing_heavy() -> None:
    code = (
        "import sys, casstore\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(sorted(m for m in sys.modules if m.startswith('casstore.')))\n"
        "casstore.DEFAULTS\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    heavy, submodules, heavy_after_defaults = done.stdout.splitlines()
    assert heavy == "[]" and submodules == "[]" and heavy_after_defaults == "[]"


def _option(command: click.Command, name: str) -> click.Option:
    return next(p for p in command.params if isinstance(p, click.Option) and name in p.opts)


def test_the_command_line_defaults_are_the_librarys() -> None:
    from porcelain.cli import cli

    ctx = click.Context(cli)
    defaults = casstore.DEFAULTS
    expected = {
        ("import", "--branch"): defaults.branch,
        ("import", "--keep-checkpoints"): defaults.keep_checkpoints,
        ("checkout", "--keep-checkpoints"): defaults.keep_checkpoints,
        ("recover", "--keep-checkpoints"): defaults.keep_checkpoints,
        ("autosave", "--keep"): defaults.autosave_keep,
        ("autosave", "--interval"): defaults.watch_interval_seconds,
        ("autosave", "--debounce"): defaults.watch_debounce_seconds,
        ("gc", "--grace"): defaults.gc_grace,
        ("stress-autosave", "--iterations"): defaults.stress_iterations,
        ("stress-autosave", "--interval-seconds"): defaults.stress_interval_seconds,
        ("stress-autosave", "--keep"): defaults.autosave_keep,
    }
    for (name, flag), value in expected.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert _option(command, flag).default == value, (name, flag)
    # ... and the library's own functions default to the same values.
    assert inspect.signature(casstore.import_bundle).parameters["branch"].default == defaults.branch
    assert inspect.signature(casstore.checkout).parameters["keep_checkpoints"].default == defaults.keep_checkpoints
    assert inspect.signature(casstore.restore).parameters["keep_checkpoints"].default == defaults.keep_checkpoints
    assert inspect.signature(casstore.record_autosave).parameters["keep"].default == defaults.autosave_keep
    assert inspect.signature(casstore.stress_autosave).parameters["keep"].default == defaults.autosave_keep


_FLAG = re.compile(r"(?<![\w-])--[a-z]")


def test_library_error_messages_name_no_command_line_flag() -> None:
    # The viewer shows these messages too; a flag is for the command line to add (errors carry a hint).
    offenders = []
    for path in sorted((ROOT / "casstore").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for part in ast.walk(node.exc):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str) and _FLAG.search(part.value):
                        offenders.append(f"{path.name}:{node.lineno}: {part.value!r}")
    assert offenders == []


def test_an_error_hint_becomes_the_flag_on_the_command_line_only(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    assert cli("import", bundle).code == 0
    work = tmp_path / "work"
    assert cli("checkout", "demo-project", work).code == 0
    (work / "project.json").write_text("{}")
    refused = cli("checkout", "demo-project~0", work)
    assert refused.code == 2
    assert refused.err.strip().endswith("force the checkout, which checkpoints them first (use --force)")
    store = casstore.open_store(cli.store)
    with pytest.raises(casstore.UnsavedChanges) as caught:
        casstore.checkout(store, casstore.resolve_revision(store, "demo-project"), work)
    assert caught.value.hint == casstore.HINT_FORCE and "--" not in str(caught.value)


def test_the_command_line_words_every_hint() -> None:
    from porcelain.cli import hint_text

    hints = [getattr(casstore, name) for name in casstore.__all__ if name.startswith("HINT_")]
    assert hints and all((hint_text(hint) or "").startswith(("use --", "run ")) for hint in hints)
    assert hint_text(None) is None


def test_import_into_checks_the_destination_before_storing_anything(bundle: Path, tmp_path: Path) -> None:
    store = casstore.init_store(tmp_path / "store")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(casstore.DestinationError, match="not empty"):
        casstore.import_bundle(store, bundle, into=taken)
    assert store.refs.list() == {} and casstore.default_project(store) is None
    result = casstore.import_bundle(store, bundle, into=tmp_path / "work")
    assert isinstance(result, casstore.ImportResult)
    assert result.as_json()["into"] == str((tmp_path / "work").absolute())
    assert (tmp_path / "work" / "project_manifest.json").read_bytes() == (bundle / "project_manifest.json").read_bytes()


def test_import_recognises_a_crash_report(bundle: Path, tmp_path: Path) -> None:
    store = casstore.init_store(tmp_path / "store")
    casstore.import_bundle(store, bundle, into=tmp_path / "work")
    (tmp_path / "work" / "project.json").write_text('{"edited": true}')
    saved = casstore.record_autosave(store, tmp_path / "work")
    assert saved.prompt == f"Autosaved demo-project at {saved.stamp}" and len(saved.stamp) == 15
    report = tmp_path / "crash.zip"
    casstore.write_crash_report(store, "demo-project", report)
    other = casstore.init_store(tmp_path / "other")
    added = casstore.import_bundle(other, report)
    assert isinstance(added, casstore.CrashReportResult) and saved.ref in added.refs
    points = casstore.list_recovery_points(other, "demo-project")
    assert points[0].prompt == saved.prompt


def test_history_is_what_log_prints(cli: Cli, bundle: Path, demo_data: Path) -> None:
    assert cli("import", bundle).code == 0
    assert cli("import", demo_data / "demo_bundle_rev2").code == 0
    store = casstore.open_store(cli.store)
    entries = casstore.revision_history(store)
    assert [e.kind for e in entries] == ["import", "import"]
    assert entries[0].refs == ("demo-project/heads/main",)
    assert json.loads(cli("log", "--json").out) == [entry.as_json() for entry in entries]
    every_ref = casstore.project_history(store, "demo-project")  # checkpoints too
    assert {e.oid for e in entries} < {e.oid for e in every_ref} and "checkpoint" in {e.kind for e in every_ref}
    last = casstore.last_import(store, "demo-project")
    assert last is not None and last.commit == entries[0].oid and last.bundle_root.endswith("demo_bundle_rev2")


def test_the_api_reference_page_is_current() -> None:
    # docs/api.md is generated from casstore.__all__: a name added, renamed or re-documented
    # without regenerating the page fails here (python scripts/api_reference.py rewrites it).
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api_reference.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
