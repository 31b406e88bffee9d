"""The step grid of two versions under real touches: finger-sized cells that open on the first change, a
fixed header of step numbers and column of track names that follow the cells' scrolling, old → new on tap."""

from __future__ import annotations

from typing import Any

from gui_helpers import click, frames, history_row, wait


def _tap(widget: Any, x: float, y: float) -> None:
    from kivy.tests.common import UnitTestTouch

    touch = UnitTestTouch(*widget.to_window(x, y))
    touch.touch_down()
    touch.touch_up()
    frames(2)


def _shown(pane: Any, widget: Any) -> bool:
    """Tell whether the widget's centre lies between the left and right edges of the cells' view."""
    x = widget.to_window(*widget.center)[0]
    left = pane.scroll.to_window(*pane.scroll.pos)[0]
    return bool(left <= x <= left + pane.scroll.width)


def _compare(viewer: Any) -> Any:
    for words in ("verse edits", "first take"):  # looked up one by one: the list reuses its row widgets
        click(history_row(viewer, words))
    wait(viewer.vm)
    assert viewer.tab == "changes" and viewer.vm.diff_heading.startswith("Import: first take")
    (pane,) = viewer.grid_panes
    viewer.changes_scroll.scroll_to(pane, animate=False)
    frames(3)
    return pane


def test_the_grid_opens_on_its_first_change_and_a_tap_there_shows_old_and_new(viewer: Any) -> None:
    from kivy.metrics import dp

    pane = _compare(viewer)
    grid = pane.cells
    assert grid.grid["length"] == 64
    assert grid.cell_size() == (dp(48), dp(48))
    changed = sorted(c["step"] for c in grid.grid["cells"] if c["change"] != "same")
    assert changed[0] == 20  # the gospel stab's step; step 0 is off to the left
    shown = pane.visible_steps()
    assert 20 in shown and 0 not in shown
    # The header shows the same steps as the cells under it, in numeric order.
    numbers = [label for label in reversed(pane.header.children[0].children)]
    assert [int(label.text) for label in numbers] == list(range(64))
    assert _shown(pane, numbers[20]) and not _shown(pane, numbers[0])
    assert pane.header.scroll_x == pane.scroll.scroll_x
    # Track names stay in their own column, beside the cells, whatever the scrolling.
    assert [label.text for label in pane.track_labels] == grid.grid["tracks"]
    cell = next(c for c in grid.grid["cells"] if c["step"] == 20)
    _tap(grid, *grid.cell_pos(cell["track"], 20))
    assert grid.picked == cell["detail"] and " → " in grid.picked
    assert grid.picked_cell == [grid.grid["tracks"].index(cell["track"]), 20]
    words = [getattr(w, "text", "") for w in viewer.changes_column.children]
    assert cell["detail"] in words  # the line under the grid says it


def test_a_finger_drags_the_cells_the_header_follows_and_a_later_change_is_tapped(
    viewer: Any, frozen_clock: Any
) -> None:
    from kivy.metrics import dp
    from kivy.tests.common import UnitTestTouch

    pane = _compare(viewer)
    grid = pane.cells
    assert 32 not in pane.visible_steps()  # 1280 wide: about 13 cells show
    before = pane.scroll.scroll_x
    x, y = pane.scroll.to_window(*pane.scroll.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    for step in range(1, 11):  # a finger sliding left by ten cells, a frame a cell
        frozen_clock(1 / 60)
        touch.touch_move(x - step * dp(48), y)
    frozen_clock(0.25)  # it rests before it lifts, so nothing flings on: the cells stop where it left them
    touch.touch_up()
    frozen_clock(0.5)
    assert pane.scroll.effect_x.velocity == 0
    moved = (pane.cells.width - pane.scroll.width) * (pane.scroll.scroll_x - before)
    assert abs(moved - 10 * dp(48)) < 1
    assert pane.scroll.scroll_x > before and pane.header.scroll_x == pane.scroll.scroll_x
    assert 32 in pane.visible_steps()
    assert grid.picked == ""  # a drag is not a tap
    _tap(grid, *grid.cell_pos("strings_vs_choir_blend.wav", 32))
    assert grid.picked.endswith("step 32: A#4 v110 → A#4 v64")


def test_many_tracks_scroll_up_and_down_with_their_names_and_open_on_the_change(
    kivy_window: Any, crowded_store: tuple[Any, Any]
) -> None:
    from gui_helpers import mount

    from casstore.gui.step_grid import VISIBLE_ROWS
    from casstore.gui.viewmodels import TrackerMixerRoot

    store, work = crowded_store
    vm = TrackerMixerRoot(str(store), None, str(work))
    vm.load()
    vm.dismiss_recovery()
    root = mount(kivy_window, vm, (1024, 600))
    for row in vm.history[1:3]:  # takes 49 and 48: take 49 added one note, step 23 of the tenth track
        vm.toggle_select(row["commit"])
    wait(vm)
    root.show_tab("changes")
    frames(4)
    (pane,) = root.grid_panes
    grid = pane.cells
    assert len(grid.grid["tracks"]) == 10 > VISIBLE_ROWS and pane.scroll.do_scroll_y
    (added,) = [c for c in grid.grid["cells"] if c["change"] != "same"]
    assert (added["step"], added["track"], added["change"]) == (23, "choir layer 9 with a long release", "added")
    root.changes_scroll.scroll_to(pane, animate=False)
    frames(3)
    assert 23 in pane.visible_steps()
    # The tenth track's row and its name are both in view, at the same height.
    y = grid.to_window(*grid.cell_pos(added["track"], 23))[1]
    bottom = pane.scroll.to_window(*pane.scroll.pos)[1]
    assert bottom <= y <= bottom + pane.scroll.height
    name = pane.track_labels[9]
    assert abs(name.to_window(*name.center)[1] - y) < 1 and pane.names.scroll_y == pane.scroll.scroll_y
    _tap(grid, *grid.cell_pos(added["track"], 23))
    assert grid.picked == added["detail"] and grid.picked_cell == [9, 23]
    kivy_window.remove_widget(root)
