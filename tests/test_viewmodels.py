"""The viewer's view-models, without a window: prompt text, history rows, diff grouping, restore."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "testdata"))


@pytest.fixture()
def viewer_store(tmp_path: Path, demo_data: Path) -> tuple[Path, Path]:
    import make_viewer_store

    make_viewer_store.make(tmp_path / "store", tmp_path / "work", demo_data)
    return tmp_path / "store", tmp_path / "work"


def _wait(vm: object, timeout: float = 30) -> None:
    from kivy.clock import Clock

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        Clock.tick()
        if not vm.busy:
            return
        time.sleep(0.01)
    raise AssertionError("background work did not finish")


def test_view_models_create_no_window(viewer_store: tuple[Path, Path]) -> None:
    code = (
        "import sys; from gui.viewmodels import TrackerMixerRoot; "
        f"vm = TrackerMixerRoot({str(viewer_store[0])!r}, None, None); vm.load(); "
        "print('kivy.core.window' in sys.modules, 'kivy.uix.widget' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False False"


def test_recovery_prompt_and_history_rows(viewer_store: tuple[Path, Path]) -> None:
    from casstore.gui.viewmodels import KIND_COLORS, TrackerMixerRoot

    store, work = viewer_store
    vm = TrackerMixerRoot(str(store), None, str(work))
    vm.load()
    assert vm.project == "demo-project"
    assert vm.recovery.visible
    assert vm.recovery.prompt.startswith("Autosaved demo-project at ") and vm.recovery.ref.endswith("-m3")
    assert len(vm.recovery.manifest_sha256) == 64
    assert {"choir_pad_soft.wav", "gospel_stab_short.wav", "strings_choir_blend.wav"} <= set(vm.recovery.sampler_assets)
    assert "pattern verse modified" in vm.recovery.summary
    assert vm.transport.recovery_prompt.startswith(vm.recovery.prompt + " · manifest ")
    kinds = [row["kind"] for row in vm.history]
    assert kinds == ["autosave"] * 3 + ["import"] * 2  # the checkpoint before the second import is folded
    assert "+1 checkpoint" in vm.history[3]["detail"] and " ago · " in vm.history[0]["detail"]
    assert vm.history[0]["kind_color"] == KIND_COLORS["autosave"] and vm.history[0]["text"] == "Autosave m3"
    assert any(row["facts"] == "LUFS -20.6 · peak not recorded · 516.8 KiB" for row in vm.samples)
    # The note's transport column: the last import's digest, bundle and assets, beside the prompt.
    assert vm.panel.import_bundle_root.endswith("demo_bundle_rev2")
    assert len(vm.panel.import_manifest_sha256) == 64
    assert "strings_choir_blend.wav" in vm.panel.import_sampler_asset_names
    assert vm.transport.import_summary.startswith("last import demo_bundle_rev2: manifest ")


def test_diff_rows_are_grouped_by_section(viewer_store: tuple[Path, Path]) -> None:
    from casstore.gui.viewmodels import TrackerMixerRoot

    store, work = viewer_store
    vm = TrackerMixerRoot(str(store), None, str(work))
    vm.load()
    first_take = next(row["commit"] for row in vm.history if "first take" in row["text"])
    head = next(row["commit"] for row in vm.history if "verse edits" in row["text"])
    vm.toggle_select(head)
    vm.toggle_select(first_take)
    assert vm.selected == [head, first_take]
    assert [row["selected"] for row in vm.history if row["commit"] in (head, first_take)] == [True, True]
    vm.diff_selected()
    _wait(vm)
    headings = [row["text"] for row in vm.diff_rows if row["heading"]]
    assert headings == ["Project", "Patterns", "Mixer", "Samples", "Other files"]
    texts = [row["text"] for row in vm.diff_rows]
    assert any("renamed" in t and "strings_choir_blend.wav" in t for t in texts)
    assert "      mixer Verse Snapshot · channel choir_pad_soft.wav: gain_db -3.0 → -4.5" in texts


def test_restore_calls_the_library_and_checkpoints(viewer_store: tuple[Path, Path], tmp_path: Path) -> None:
    from casstore.gui.viewmodels import TrackerMixerRoot
    from casstore.storage.store import Store

    store, work = viewer_store
    vm = TrackerMixerRoot(str(store), None, str(work))
    vm.load()
    vm.restore()
    assert str(work) in vm.confirm["text"] and "checkpoint" in vm.confirm["text"]
    vm.answer(True)
    _wait(vm)
    assert vm.error == "" and not vm.recovery.visible and not vm.recovery.available
    opened = Store.open(store)
    checkpoints = opened.refs.list("demo-project", "checkpoints")
    assert any(name.endswith("-recover") for name in checkpoints)
    exported = tmp_path / "autosave"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "porcelain",
            "--store",
            str(store),
            "export",
            "demo-project/autosave/latest",
            str(exported),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    assert subprocess.run(["diff", "-r", "-x", ".casstore-checkout.json", str(exported), str(work)]).returncode == 0


def test_errors_become_readable_messages(viewer_store: tuple[Path, Path], tmp_path: Path) -> None:
    from casstore.gui.viewmodels import TrackerMixerRoot

    store, _work = viewer_store
    vm = TrackerMixerRoot(str(store), None, None)
    vm.load()
    vm.restore()
    assert "no working directory" in vm.error
    vm.import_project_bundle(str(tmp_path / "missing"))
    _wait(vm)
    assert "no such bundle" in vm.error and not vm.busy


def test_import_plan_and_import_summary(viewer_store: tuple[Path, Path], demo_data: Path) -> None:
    from casstore.gui.viewmodels import TrackerMixerRoot

    store, work = viewer_store
    vm = TrackerMixerRoot(str(store), None, str(work))
    vm.load()
    vm.configure_sampler_manifest(str(demo_data / "sampler_s3_manifest.json"))
    assert vm.panel.import_dialog_filters == ["*.wav"] and vm.panel.import_asset_count == 3
    assert vm.panel.import_label == "3 choir layers available"
    vm.import_project_bundle(str(demo_data / "second_project"))
    _wait(vm)
    assert vm.error == ""
    assert vm.panel.import_bundle_root.endswith("second_project")
    assert vm.panel.import_sampler_asset_names == ["choir_pad_soft.wav"]
    assert len(vm.panel.import_manifest_sha256) == 64
    assert "last import second_project" in vm.transport.import_summary


def test_a_damaged_revision_or_manifest_shows_an_error_not_a_crash(
    viewer_store: tuple[Path, Path], tmp_path: Path
) -> None:
    from casstore.gui.viewmodels import TrackerMixerRoot
    from casstore.storage.store import Store

    store, work = viewer_store
    vm = TrackerMixerRoot(str(store), None, str(work))
    vm.load()
    commit = vm.history[-1]["commit"]
    tree = Store.open(store).objects.path_for(json_tree_of(store, commit))
    tree.chmod(0o644)
    tree.write_bytes(b"rotten")
    vm.show_revision(commit)
    assert "corrupt" in vm.error
    vm.configure_sampler_manifest(str(tmp_path / "missing.json"))
    assert "no such sampler manifest" in vm.error


def json_tree_of(store: Path, commit: str) -> str:
    from casstore.history.commits import read_commit
    from casstore.storage.store import Store

    return read_commit(Store.open(store), commit).tree


def test_importing_a_crash_report_brings_its_autosaves_into_the_history(
    viewer_store: tuple[Path, Path], tmp_path: Path
) -> None:
    import casstore
    from casstore.gui.viewmodels import TrackerMixerRoot

    store, _work = viewer_store
    report = tmp_path / "crash.zip"
    casstore.write_crash_report(casstore.open_store(str(store)), "demo-project", report)
    casstore.init_store(tmp_path / "empty")
    vm = TrackerMixerRoot(str(tmp_path / "empty"), None, None)
    vm.load()
    assert vm.project == "" and vm.history == []
    vm.import_project_bundle(str(report))
    _wait(vm)
    assert vm.error == "" and vm.project == "demo-project"
    assert vm.status.startswith("imported crash report of demo-project: ")
    assert [row["kind"] for row in vm.history][:3] == ["autosave"] * 3


def test_the_recovery_panel_says_when_in_local_time(viewer_store: tuple[Path, Path]) -> None:
    from datetime import datetime, timedelta

    import casstore
    from casstore.gui.viewmodels import TrackerMixerRoot

    store, work = viewer_store
    point = casstore.safe_recovery_offer(casstore.open_store(store), "demo-project")
    assert point is not None
    taken = datetime.fromisoformat(point.created_at.replace("Z", "+00:00"))
    vm = TrackerMixerRoot(str(store), None, str(work), now=lambda: taken + timedelta(minutes=3))
    vm.load()
    assert vm.recovery.when == f"3 min ago · {casstore.local_time_text(point.created_at)}"


def test_left_and_right_choose_the_sample_space_plays_and_stop_at_the_ends(viewer_store: tuple[Path, Path]) -> None:
    from casstore.gui.viewmodels import TrackerMixerRoot

    store, work = viewer_store
    vm = TrackerMixerRoot(str(store), None, str(work))
    vm.load()
    vm.step_sample_choice("changes", 1)
    assert vm.status == "no samples to choose here" and vm.changed_choice == 0  # no two versions compared yet
    vm.open_version(next(row["commit"] for row in vm.history if "verse edits" in row["text"]))
    names = [row["name"] for row in vm.samples]
    assert len(names) >= 3
    vm.step_sample_choice("version", 1)
    vm.step_sample_choice("version", 1)
    assert vm.sample_choice == 2
    assert vm.status == f"sample 3 of {len(names)}: {names[2]} (Space plays it)"
    vm.step_sample_choice("version", -1)
    assert vm.sample_choice == 1
    for _ in range(len(names) + 2):
        vm.step_sample_choice("version", 1)
    assert vm.sample_choice == len(names) - 1  # the last one, not back to the first
    vm.step_sample_choice("version", -(len(names) + 5))
    assert vm.sample_choice == 0
    # In the Changes pane the keys move among the changed samples, and leave the Version pane's choice alone.
    vm.toggle_select(next(row["commit"] for row in vm.history if "verse edits" in row["text"]))
    vm.toggle_select(next(row["commit"] for row in vm.history if "first take" in row["text"]))
    vm.diff_selected()
    _wait(vm)
    changed = [sample["name"] for sample in vm.comparison["samples"]]
    assert len(changed) >= 2 and vm.changed_choice == 0
    vm.step_sample_choice("changes", 1)
    assert vm.changed_choice == 1 and vm.sample_choice == 0
    assert vm.status == f"sample 2 of {len(changed)}: {changed[1]} (Space plays it)"
