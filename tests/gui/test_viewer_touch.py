"""Touches, keys and dialogs a musician uses beyond the basics: a long-press or a tap shows a cut text whole,
Space plays the chosen sample, a version is named from the window, and the project picker follows the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gui_helpers import click, frames, history_row, press, wait


def _hold(widget: Any, advance: Any, seconds: float) -> Any:
    """Put a finger on the widget and keep it still for ``seconds`` (on the frozen clock); return the touch."""
    from kivy.tests.common import UnitTestTouch

    touch = UnitTestTouch(*widget.to_window(*widget.center))
    touch.touch_down()
    for _ in range(5):  # the history list hands a still finger to the row after its scroll timeout (55 ms)
        if widget.state == "down":
            break
        advance(0.05)
    assert widget.state == "down"
    advance(seconds)
    return touch


def test_long_press_on_a_history_row_shows_its_whole_text_and_selects_nothing(viewer: Any, frozen_clock: Any) -> None:
    row = history_row(viewer, "first take")
    commit = row.commit
    assert viewer.vm.selected == []
    touch = _hold(row, frozen_clock, 0.4)
    assert viewer.dialog is None  # not held long enough yet
    frozen_clock(0.4)
    dialog = viewer.dialog
    assert dialog is not None and dialog.title == "Version"
    assert dialog.message == f"{row.text}\n{row.detail}" and row.text.startswith("Import: first take")
    touch.touch_up()
    frames(2)
    assert viewer.vm.selected == []  # a hold is not a tap: nothing was selected
    click(dialog.ids.close)
    frozen_clock(0.5)  # the popup's closing animation
    assert viewer.dialog is None and dialog.parent is None
    click(row)  # a plain tap still selects (the list passes the finger's lift on 0.2 s later)
    frozen_clock(0.3)
    assert viewer.vm.selected == [commit]


def test_a_finger_that_slides_on_a_row_is_not_a_long_press(viewer: Any, frozen_clock: Any) -> None:
    row = history_row(viewer, "verse edits")
    touch = _hold(row, frozen_clock, 0.2)
    touch.touch_move(touch.x, touch.y - 16)  # past the hold's 12 dp, short of the list's 20 px scroll distance
    frozen_clock(1.0)
    assert viewer.dialog is None
    touch.touch_up()
    frozen_clock(0.3)


def test_tapping_the_cut_status_line_shows_it_whole(viewer: Any) -> None:
    words = "restored " + " ".join(f"word{i}" for i in range(120))
    viewer.vm.status, viewer.vm.error = "short", ""
    frames(2)
    click(viewer.status_label)
    assert viewer.dialog is None  # a line that fits opens nothing
    viewer.vm.status = words
    frames(2)
    assert viewer.status_label.is_cut()
    click(viewer.status_label)
    assert viewer.dialog is not None and viewer.dialog.message == words
    viewer.dialog.dismiss()
    frames(2)


def _tap_wave(scroll: Any, wave: Any) -> None:
    scroll.scroll_to(wave, animate=False)
    frames(3)
    click(wave)


def _played_since(vm: Any, start: int) -> list[tuple[str, float]]:
    return [(label, round(length, 2)) for label, length in vm.player.loaded[start:]]


def test_space_plays_the_chosen_sample_and_old_then_new_of_a_changed_one(viewer: Any) -> None:
    import pytest

    vm = viewer.vm
    click(history_row(viewer, "verse edits"))
    names = [row["name"] for row in vm.samples]
    gospel = names.index("gospel_stab_short.wav")
    assert gospel != 0  # so playing the first sample would be caught
    _tap_wave(viewer.version_scroll, viewer.sample_waves[gospel])
    assert vm.sample_choice == gospel and viewer.sample_waves[gospel].chosen
    assert not viewer.sample_waves[0].chosen
    start = len(vm.player.loaded)
    press(32)  # space
    wait(vm)
    if vm.player.playing.startswith("cannot play"):
        pytest.skip("no audio output here")
    assert _played_since(vm, start) == [("gospel_stab_short.wav", 1.89)]  # revision 2's trimmed stab
    vm.player.stop()

    click(history_row(viewer, "first take"))
    wait(vm)
    assert viewer.tab == "changes"
    changed = [s["name"] for s in vm.comparison["samples"]]
    stab = changed.index("gospel_stab_short.wav")
    _tap_wave(viewer.changes_scroll, viewer.changed_waves[stab])
    assert vm.changed_choice == stab and viewer.changed_waves[stab].chosen
    start = len(vm.player.loaded)
    press(32)
    wait(vm)
    assert _played_since(vm, start) == [("gospel_stab_short.wav (before)", 2.1)]
    vm.player._sound.stop()  # the old one ends: the new one follows
    frames(3)
    assert _played_since(vm, start) == [
        ("gospel_stab_short.wav (before)", 2.1),
        ("gospel_stab_short.wav (after)", 1.89),
    ]
    vm.player.stop()


def _type(text: str) -> None:
    from kivy.core.window import Window

    for char in text:
        Window.dispatch("on_textinput", char)
    frames(2)


def test_naming_a_version_from_the_window_shows_in_history_and_in_casstore_log(
    viewer: Any, tmp_path: Path, frozen_clock: Any
) -> None:
    from kivy.core.window import Window

    from conftest import Cli

    vm = viewer.vm
    first = history_row(viewer, "first take")
    commit = first.commit
    click(first)
    assert vm.current == commit
    click(viewer.name_button)
    frozen_clock(0.5)  # the popup's opening animation
    dialog = viewer.dialog
    assert dialog is not None and dialog.title == "Name this version"
    click(dialog.ids.name)
    _type("first full mix")
    assert dialog.ids.name.text == "first full mix"
    Window.dispatch("on_key_down", 13, 0, None, [])  # Enter names it
    frozen_clock(0.5)
    assert vm.error == "" and viewer.dialog is None
    tagged = next(row for row in vm.history if row["commit"] == commit)
    assert "tag first-full-mix" in tagged["detail"]
    shown = [w for w in viewer.history_list.layout_manager.children if getattr(w, "commit", "") == commit]
    assert shown and "tag first-full-mix" in shown[0].detail
    log = Cli(tmp_path / "store", tmp_path).ok("log", "--oneline", "demo-project/tags/first-full-mix")
    assert log.out.splitlines()[0].startswith(commit[:12]) and "first take" in log.out.splitlines()[0]
    # The same name twice is refused in the window, in plain words, and nothing changes.
    vm.tag_current("first full mix")
    assert "already named 'first-full-mix'" in vm.error


def _pick(viewer: Any, project: str, advance: Any) -> None:
    picker = viewer.project_picker
    click(picker)
    advance(0.5)
    options = [w for w in picker._dropdown.container.children if getattr(w, "text", "") == project]
    assert options, f"{project} not offered: {picker.values}"
    click(options[0])
    advance(0.5)


def test_the_project_picker_switches_projects_and_lists_an_imported_one(
    viewer: Any, demo_data: Path, frozen_clock: Any
) -> None:
    import casstore

    vm = viewer.vm
    assert viewer.project_picker.values == ["demo-project"]
    click(viewer.import_button)
    frozen_clock(0.5)
    viewer.chooser.ids.chooser.path = str(demo_data)
    frozen_clock(0.1)
    viewer.chooser.ids.chooser.selection = [str(demo_data / "drum_bundle")]  # a bundle folder
    click(viewer.chooser.ids.accept)
    frozen_clock(0.5)
    wait(vm)
    assert vm.error == "" and viewer.project_picker.values == ["demo-project", "drum-machine"]
    assert vm.project == "drum-machine" and viewer.project_picker.text == "drum-machine"  # not a stale screen
    assert viewer.history_title.text == "Versions of drum-machine"
    drum_rows = [row["commit"] for row in vm.history]
    assert drum_rows == [v.oid for v in casstore.project_timeline(vm.store, "drum-machine")]
    click(viewer.project_picker)
    frozen_clock(0.5)
    assert viewer.project_picker.is_open
    press(27)  # Escape closes the list of projects; it does not ask to quit
    frozen_clock(0.5)
    assert not viewer.project_picker.is_open and viewer.dialog is None
    _pick(viewer, "demo-project", frozen_clock)
    wait(vm)
    assert vm.project == "demo-project" and viewer.history_title.text == "Versions of demo-project"
    assert {row["commit"] for row in vm.history}.isdisjoint(drum_rows)
    assert any("first take" in w.text for w in viewer.history_list.layout_manager.children if hasattr(w, "commit"))
    assert vm.current == vm.history[0]["commit"]  # the newest version of the picked project is on show


def _flac_project(demo_data: Path, tmp_path: Path) -> Path:
    """The demo bundle as another project whose kick is a FLAC sampler asset."""
    import hashlib
    import json
    import shutil

    import soundfile

    bundle = tmp_path / "flac_bundle"
    shutil.copytree(demo_data / "demo_bundle", bundle)
    manifest = json.loads((bundle / "project_manifest.json").read_text())
    manifest["project"]["id"] = "flac-project"
    entry = next(e for e in manifest["sampler_assets"] if e["asset_name"] == "kick_room.wav")
    wav = bundle / entry["relative_path"]
    data, rate = soundfile.read(str(wav), always_2d=True, dtype="int16")
    soundfile.write(str(wav.with_suffix(".flac")), data, rate, subtype="PCM_16", format="FLAC")
    wav.unlink()
    flac = wav.with_suffix(".flac")
    entry.update(
        asset_name=flac.name,
        relative_path=f"assets/{flac.name}",
        sha256=hashlib.sha256(flac.read_bytes()).hexdigest(),
    )
    (bundle / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    return bundle


def test_a_flac_sampler_asset_shows_its_waveform_and_plays_decoded(
    viewer: Any, demo_data: Path, tmp_path: Path
) -> None:
    import numpy as np
    import pytest
    import soundfile

    import casstore

    vm = viewer.vm
    bundle = _flac_project(demo_data, tmp_path)
    casstore.import_bundle(vm.store, bundle, message="kick as FLAC")
    vm.projects = casstore.list_projects(vm.store)
    vm.select_project("flac-project")
    wait(vm)
    names = [row["name"] for row in vm.samples]
    kick = names.index("kick_room.flac")
    assert vm.samples[kick]["suffix"] == ".flac" and vm.samples[kick]["blob"] in vm.waveforms
    assert viewer.sample_waves[kick].mins  # its thumbnail is drawn
    start = len(vm.player.loaded)
    play = viewer.sample_waves[kick].parent.children[0]
    assert play.text == "Play"
    viewer.version_scroll.scroll_to(play, animate=False)
    frames(3)
    click(play)
    wait(vm)
    if vm.player.playing.startswith("cannot play"):
        pytest.skip("no audio output here")
    source, rate = soundfile.read(str(bundle / "assets/kick_room.flac"), always_2d=True)
    assert _played_since(vm, start) == [("kick_room.flac", round(len(source) / rate, 2))]
    played, played_rate = soundfile.read(str(casstore.playable_wav(vm.store, vm.samples[kick]["blob"], ".flac")))
    assert played_rate == rate and float(np.max(np.abs(played.reshape(source.shape) - source))) < 1 / 16384
    vm.player.stop()


def _in_view(scroll: Any, widget: Any) -> bool:
    bottom = scroll.to_window(*scroll.pos)[1]
    low, high = widget.to_window(widget.x, widget.y)[1], widget.to_window(widget.x, widget.top)[1]
    return bool(bottom - 1 <= low and high <= bottom + scroll.height + 1)


def test_left_and_right_choose_the_sample_space_plays_without_moving_the_history(viewer: Any) -> None:
    import pytest

    vm = viewer.vm
    click(history_row(viewer, "verse edits"))
    wait(vm)
    names = [row["name"] for row in vm.samples]
    gospel = names.index("gospel_stab_short.wav")
    cursor = vm.cursor
    for _ in range(gospel):
        press(275)  # right
    assert vm.sample_choice == gospel and viewer.sample_waves[gospel].chosen and not viewer.sample_waves[0].chosen
    assert _in_view(viewer.version_scroll, viewer.sample_waves[gospel])  # scrolled to the chosen waveform
    assert vm.status.startswith(f"sample {gospel + 1} of {len(names)}: gospel_stab_short.wav")
    assert vm.cursor == cursor  # Left/Right leave the history's focus where it was
    press(275)
    press(276)  # left
    assert vm.sample_choice == gospel
    viewer.filter_input.focus = True  # typing in the filter: the arrows move its caret, not the choice
    press(275)
    assert vm.sample_choice == gospel
    viewer.filter_input.focus = False
    frames(2)
    start = len(vm.player.loaded)
    press(32)  # space
    wait(vm)
    if vm.player.playing.startswith("cannot play"):
        pytest.skip("no audio output here")
    assert _played_since(vm, start) == [("gospel_stab_short.wav", 1.89)]
    vm.player.stop()

    click(history_row(viewer, "first take"))
    wait(vm)
    assert viewer.tab == "changes" and len(viewer.changed_waves) >= 2
    press(275)
    assert vm.changed_choice == 1 and viewer.changed_waves[1].chosen and not viewer.changed_waves[0].chosen
    assert _in_view(viewer.changes_scroll, viewer.changed_waves[1])
