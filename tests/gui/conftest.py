"""A display for the widget tests: Xvfb when DISPLAY is unset, else SDL's offscreen driver (Mesa EGL)."""

from __future__ import annotations

import atexit
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


def _start_xvfb() -> None:
    read_end, write_end = os.pipe()  # -displayfd: Xvfb picks a free display and writes it when ready
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    ready = select.select([read_end], [], [], 15)[0]
    number = os.read(read_end, 32).decode().strip() if ready else ""
    os.close(read_end)
    if not number:
        process.kill()
        raise RuntimeError("Xvfb did not start")
    os.environ["DISPLAY"] = ":" + number

    def stop() -> None:
        process.terminate()
        process.wait(5)

    atexit.register(stop)


if not os.environ.get("DISPLAY"):
    if shutil.which("Xvfb"):
        _start_xvfb()
    else:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"


@pytest.fixture(scope="session")
def kivy_window() -> Iterator[Any]:
    """The one Kivy window of the test session."""
    from kivy.core.window import Window

    Window.size = (1280, 800)
    yield Window
    for child in list(Window.children):
        Window.remove_widget(child)
