"""Real touches, keys and frames for the widget tests (no fixed waits: frames are ticked until work is done)."""

from __future__ import annotations

import time
from typing import Any


def frames(count: int = 3) -> None:
    from kivy.base import EventLoop

    for _ in range(count):
        EventLoop.idle()


def click(widget: Any) -> None:
    from kivy.tests.common import UnitTestTouch

    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    frames(2)


def press(code: int, modifiers: list[str] | None = None) -> None:
    from kivy.core.window import Window

    Window.dispatch("on_keyboard", code, 0, "", modifiers or [])
    frames(2)


def wait(vm: Any, timeout: float = 60) -> None:
    """Tick frames until background work is done (polls a condition; no fixed wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frames(1)
        if not vm.busy:
            frames(3)
            return
        time.sleep(0.01)
    raise AssertionError("background work did not finish")


def mount(window: Any, vm: Any, size: tuple[int, int] = (1280, 800)) -> Any:
    from casstore.gui.views import build_root

    for child in list(window.children):
        window.remove_widget(child)
    window.size = size
    root = build_root(vm)
    window.add_widget(root)
    frames(4)
    wait(vm)
    return root


def history_row(root: Any, words: str) -> Any:
    from casstore.gui.views import HistoryRow

    rows = [w for w in root.history_list.layout_manager.children if isinstance(w, HistoryRow)]
    return next(w for w in rows if words in w.text)
