"""Touches, keys and dialogs a musician uses beyond the basics: a long-press or a tap shows a cut text whole,
Space plays the chosen sample, a version is named from the window, and the project picker follows the store."""

from __future__ import annotations

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
