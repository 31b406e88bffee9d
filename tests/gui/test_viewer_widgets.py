"""The real Kivy widgets with real touches and keys: layout at three sizes, restore any version and undo,
the keyboard, a damaged store, a missing store, audio, import, and the app run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "testdata"))
sys.path.insert(0, str(Path(__file__).parent))
from gui_helpers import click, frames, history_row, mount, press, wait

SIZES = [(1280, 800), (1024, 600), (800, 1280)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_nothing_overlaps_or_overflows_on_a_crowded_store(
    kivy_window: Any, crowded_store: tuple[Path, Path], size: tuple[int, int]
) -> None:
    from layout_check import layout_problems, small_targets, visible_leaves

    from casstore.gui.step_grid import StepGrid
    from casstore.gui.viewmodels import TrackerMixerRoot

    store, work = crowded_store
    vm = TrackerMixerRoot(str(store), None, str(work))
    vm.load()
    root = mount(kivy_window, vm, size)
    assert vm.recovery.visible and len(vm.history) == 51 and len(vm.samples) == 40  # 50 imports, 1 autosave
    assert root.portrait == (size[1] > size[0])
    for row in vm.history[1:3]:  # the two newest takes: their step grid is in the Changes pane
        vm.toggle_select(row["commit"])
    wait(vm)
    for tab in ("history", "version", "changes") if root.portrait else ("version", "changes"):
        root.show_tab(tab)
        frames(4)
        if tab == "changes":  # the grid's cells are on screen, so the 48 dp check below covers them
            (pane,) = root.grid_panes
            root.changes_scroll.scroll_to(pane, animate=False)
            frames(4)
            assert any(isinstance(w, StepGrid) for w, _r in visible_leaves(root, (0, 0, *size)))
        assert layout_problems(root, size) == [], tab
        assert small_targets(root, size) == [], tab
    # The recovery panel's 40 asset names scroll inside it; Restore stays on screen and tappable.
    assert root.recovery_panel.height <= size[1] * 0.4 + 1
    assert root.recovery_panel.ids.restore_button.height >= 48
    kivy_window.remove_widget(root)


def test_portrait_stacks_the_panes_behind_tabs(viewer: Any, kivy_window: Any) -> None:
    kivy_window.size = (800, 1280)
    frames(4)
    assert viewer.portrait and viewer.history_pane.parent is not None
    click(viewer.tab_buttons["changes"])
    assert viewer.changes_scroll.parent is not None and viewer.history_pane.parent is None
    kivy_window.size = (1280, 800)
    frames(4)
    assert not viewer.portrait and viewer.history_pane.parent is not None


def test_the_version_pane_shows_each_line_of_the_version_as_before(viewer: Any) -> None:
    # The rows are made from compact lines when read (issue 17): the window still draws, in
    # order, the lines revision_lines gives between the title and the sampler assets.
    import casstore
    from casstore.gui.dialogs import WrapLabel

    vm = viewer.vm
    for version in vm.history[:3]:
        vm.open_version(version["commit"])
        frames(2)
        lines = casstore.revision_lines(vm.store, version["commit"])[1:]
        cut = next(i for i, (text, heading) in enumerate(lines) if heading and text.startswith("Sampler assets"))
        labels = [w for w in reversed(viewer.version_column.children) if isinstance(w, WrapLabel)]
        drawn = [(label.text, label.heading) for label in labels[1 : 1 + cut]]
        assert drawn == lines[:cut] and len(vm.revision_rows) == cut
        assert labels[1 + cut].text == f"Samples ({len(vm.samples)})"


def test_restore_any_version_asks_then_undo_puts_the_edit_back(viewer: Any, tmp_path: Path) -> None:
    work = tmp_path / "work"
    edited = (work / "mixer/verse_snapshot.json").read_bytes()
    click(history_row(viewer, "first take"))
    assert viewer.vm.current_title.startswith("Import: first take")
    click(viewer.restore_version_button)
    dialog = viewer.dialog
    assert dialog is not None and str(work) in dialog.message and "mixer/verse_snapshot.json" in dialog.message
    click(dialog.ids.yes)
    wait(viewer.vm)
    assert viewer.vm.error == "" and (work / "assets/kick_room.wav").exists()
    assert "checkpoint" in viewer.status_label.text and not viewer.undo_button.disabled
    click(viewer.undo_button)
    wait(viewer.vm)
    assert (work / "mixer/verse_snapshot.json").read_bytes() == edited and not (work / "assets/kick_room.wav").exists()


def test_recovery_restore_not_now_and_reopen(viewer: Any, tmp_path: Path) -> None:
    panel = viewer.recovery_panel
    assert panel.ids.prompt.text.startswith("Autosaved demo-project at ") and panel.parent is not None
    click(panel.ids.not_now_button)
    assert panel.parent is None
    click(viewer.recovery_button)
    assert panel.parent is not None
    click(panel.ids.restore_button)
    assert "work" in viewer.dialog.message
    click(viewer.dialog.ids.yes)
    wait(viewer.vm)
    assert panel.parent is None and viewer.vm.recovery.available is False  # restored: not offered again


def test_keyboard_moves_opens_undoes_and_escape_asks_before_quitting(viewer: Any) -> None:
    vm = viewer.vm
    assert vm.cursor == 0
    press(274)  # down
    press(274)
    assert vm.cursor == 2 and vm.history[2]["focused"]
    press(280)  # page up
    assert vm.cursor == 0
    press(281)  # page down
    assert vm.cursor == len(vm.history) - 1
    press(13)  # enter
    assert vm.current == vm.history[-1]["commit"] and viewer.tab == "version"
    press(27)  # escape: a question, not a quit
    assert viewer.dialog is not None and viewer.dialog.title == "Quit the viewer?"
    press(27)  # escape closes the dialog
    frames(3)
    assert viewer.dialog is None and viewer.parent is not None
    viewer.ids_restored = False
    press(122, ["ctrl"])  # nothing restored yet
    assert vm.status == "nothing to undo"


def test_a_damaged_checkpoint_still_opens_and_marks_only_that_version(
    kivy_window: Any, tmp_path: Path, demo_data: Path
) -> None:
    import make_viewer_store

    import casstore
    from casstore.gui.viewmodels import TrackerMixerRoot

    make_viewer_store.make(tmp_path / "store", tmp_path / "work", demo_data)
    store = casstore.open_store(tmp_path / "store")
    first = [v for v in casstore.project_timeline(store, "demo-project") if v.kind == "import"][-1]
    done = casstore.restore_version(store, "demo-project", first.oid, tmp_path / "work")
    tree = store.objects.path_for(casstore.show_revision(store, store.refs.read(done.checkpoint or "") or "").tree.id)
    tree.chmod(0o644)
    tree.write_bytes(b"rotten")
    vm = TrackerMixerRoot(str(tmp_path / "store"), None, str(tmp_path / "work"))
    vm.show_checkpoints = True
    vm.load()
    root = mount(kivy_window, vm)
    damaged = [row for row in vm.history if row["damaged"]]
    assert len(damaged) == 1 and damaged[0]["text"].startswith("Damaged checkpoint")
    vm.open_version(damaged[0]["commit"])
    assert "damaged" in vm.error
    vm.open_version(first.oid)
    assert vm.samples and vm.current == first.oid
    kivy_window.remove_widget(root)


def test_a_missing_store_or_unknown_project_is_said_in_the_window(kivy_window: Any, tmp_path: Path) -> None:
    from casstore.gui.viewmodels import TrackerMixerRoot

    vm = TrackerMixerRoot(str(tmp_path / "nowhere"), None, None)
    vm.load()
    root = mount(kivy_window, vm)
    assert "No casstore store here" in root.problem_label.text and root.problem_box.parent is not None
    picker = root.open_store_picker()
    assert picker.ids.where.text.startswith("Folder: ")
    picker.dismiss()
    frames(2)
    kivy_window.remove_widget(root)


def test_the_store_folder_picker_opens_the_chosen_store(kivy_window: Any, tmp_path: Path, demo_data: Path) -> None:
    import make_viewer_store

    from casstore.gui.viewmodels import TrackerMixerRoot

    make_viewer_store.make(tmp_path / "store", tmp_path / "work", demo_data)
    vm = TrackerMixerRoot(str(tmp_path / "nowhere"), None, None)
    vm.load()
    root = mount(kivy_window, vm)
    click(next(w for w in root.problem_box.children if getattr(w, "text", "").startswith("Choose a store")))
    picker = root.dialog
    picker.ids.chooser.path = str(tmp_path / "store")  # the folder that holds casstore.json
    frames(2)
    click(picker.ids.accept)
    wait(vm)
    assert vm.problem == "" and root.problem_box.parent is None
    assert vm.project == "demo-project" and any("first take" in row["text"] for row in vm.history)
    kivy_window.remove_widget(root)


def test_play_decodes_the_sample_and_plays_old_then_new(viewer: Any, tmp_path: Path, demo_data: Path) -> None:
    import numpy as np
    import soundfile

    vm = viewer.vm
    gospel = next(r for r in vm.samples if r["name"] == "gospel_stab_short.wav")
    vm.play([("old", gospel["blob"], gospel["suffix"]), ("new", gospel["blob"], gospel["suffix"])])
    wait(vm)
    if vm.player.playing.startswith("cannot play"):
        pytest.skip("no audio output here")
    assert [label for label, _length in vm.player.loaded] == ["old"] and vm.player.playing == "old"
    assert abs(vm.player.loaded[0][1] - 1.89) < 0.05
    import casstore

    played, rate = soundfile.read(str(casstore.playable_wav(vm.store, gospel["blob"])), always_2d=True)
    source, _ = soundfile.read(str(demo_data / "demo_bundle_rev2/assets/gospel_stab_short.wav"), always_2d=True)
    assert rate == 44100 and float(np.max(np.abs(played - source))) < 1 / 16384
    vm.player._sound.stop()  # ends the first: the second follows
    frames(3)
    assert [label for label, _length in vm.player.loaded] == ["old", "new"]
    vm.player.stop()


def test_import_dialog_offers_what_it_can_import_imports_a_sample_and_remembers_the_folder(
    viewer: Any, tmp_path: Path, demo_data: Path
) -> None:
    assets = demo_data / "demo_bundle/assets"  # the three choir layers, and kick_room.wav the manifest lacks
    click(viewer.import_button)
    chooser = viewer.chooser
    assert chooser.ids.where.text.startswith("Folder: ") and "(*.wav)" in chooser.hint
    chooser.ids.chooser.path = str(assets)  # as tapping through the folders does
    frames(3)
    assert viewer.vm.last_folder == str(assets)  # remembered on the way, before anything is imported
    listed = sorted(Path(f).name for f in chooser.ids.chooser.files if Path(f).is_file())
    assert listed == ["choir_pad_soft.wav", "gospel_stab_short.wav", "strings_vs_choir_blend.wav"]
    assert chooser.ids.note.text == "3 choir layers available in the sampler manifest; 3 of them in this folder"
    chooser.ids.chooser.path = str(demo_data / "demo_bundle")
    frames(3)
    assert chooser.ids.note.text.endswith("; 0 of them in this folder")
    chooser.ids.chooser.path = str(assets)
    frames(3)
    chooser.ids.chooser.selection = [str(assets / "strings_vs_choir_blend.wav")]
    click(chooser.ids.accept)
    wait(viewer.vm)
    assert viewer.vm.error == "" and (tmp_path / "work/assets/strings_vs_choir_blend.wav").exists()
    assert "autosaved" in viewer.vm.status
    click(viewer.import_button)
    assert viewer.chooser.ids.chooser.path == str(assets)
    viewer.chooser.dismiss()
    frames(2)


def test_the_app_runs_and_exits_cleanly(tmp_path: Path, demo_data: Path) -> None:
    import make_viewer_store

    make_viewer_store.make(tmp_path / "store", tmp_path / "work", demo_data)
    # The test display is 1280x800; the window fits in it. Console logging on: a failure says why.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env["KIVY_NO_CONSOLELOG"] = "0"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "gui.app", "--store", str(tmp_path / "store")),
            *("--workdir", str(tmp_path / "work"), "--size", "1024x600", "--screenshot", str(tmp_path / "shot.png")),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert (tmp_path / "shot.png").stat().st_size > 10_000
