"""The real Kivy widgets on the demo store: Restore clicked with real touches, diff, import chooser, app run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "testdata"))


def _frames(count: int = 3) -> None:
    from kivy.base import EventLoop

    for _ in range(count):
        EventLoop.idle()


def _click(widget: Any) -> None:
    from kivy.tests.common import UnitTestTouch

    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    time.sleep(0.05)  # a Button stays 'down' for min_state_time
    _frames(2)


def _wait(vm: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _frames(1)
        if not vm.busy:
            _frames(2)
            return
        time.sleep(0.02)
    raise AssertionError("background work did not finish")


@pytest.fixture()
def viewer(kivy_window: Any, tmp_path: Path, demo_data: Path) -> Any:
    import make_viewer_store

    from casstore.gui.viewmodels import TrackerMixerRoot
    from casstore.gui.views import build_root

    make_viewer_store.make(tmp_path / "store", tmp_path / "work", demo_data)
    vm = TrackerMixerRoot(str(tmp_path / "store"), None, str(tmp_path / "work"))
    vm.configure_sampler_manifest(str(demo_data / "sampler_s3_manifest.json"))
    vm.load()
    root = build_root(vm)
    for child in list(kivy_window.children):
        kivy_window.remove_widget(child)
    kivy_window.add_widget(root)
    _frames(5)
    yield root
    kivy_window.remove_widget(root)


def test_restore_button_restores_the_autosave_and_checkpoints(viewer: Any, tmp_path: Path) -> None:
    from casstore.storage.store import Store

    panel = viewer.ids.recovery
    assert panel.ids.prompt.text.startswith("Autosaved demo-project at ")
    assert "choir_pad_soft.wav" in panel.ids.assets.text and len(panel.ids.digest.text.split()[-1]) == 64
    _click(panel.ids.restore_button)
    _wait(viewer.vm)
    assert viewer.vm.error == ""
    assert panel.height == 0 and "restored" in viewer.ids.status.text
    store = Store.open(tmp_path / "store")
    assert any(name.endswith("-recover") for name in store.refs.list("demo-project", "checkpoints"))
    exported = tmp_path / "latest"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "porcelain",
            "--store",
            str(tmp_path / "store"),
            "export",
            "demo-project/autosave/latest",
            str(exported),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    same = subprocess.run(["diff", "-r", "-x", ".casstore-checkout.json", str(exported), str(tmp_path / "work")])
    assert same.returncode == 0


def test_restore_button_and_cli_give_identical_directories(viewer: Any, tmp_path: Path, demo_data: Path) -> None:
    import make_viewer_store

    _click(viewer.ids.recovery.ids.restore_button)
    _wait(viewer.vm)
    make_viewer_store.make(tmp_path / "store2", tmp_path / "work2", demo_data)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "porcelain",
            "--store",
            str(tmp_path / "store2"),
            "recover",
            "demo-project",
            "--restore",
            "latest",
            "--into",
            str(tmp_path / "work2"),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    same = subprocess.run(
        ["diff", "-r", "-x", ".casstore-checkout.json", str(tmp_path / "work"), str(tmp_path / "work2")]
    )
    assert same.returncode == 0


def test_not_now_hides_the_panel(viewer: Any) -> None:
    _click(viewer.ids.recovery.ids.not_now_button)
    assert viewer.vm.recovery.visible is False and viewer.ids.recovery.height == 0


def test_selecting_two_history_rows_shows_their_diff(viewer: Any) -> None:
    from casstore.gui.views import HistoryRow

    def row(words: str) -> HistoryRow:
        # RecycleView reuses row widgets when its data changes: look the row up before each click.
        rows = [w for w in viewer.ids.history.layout_manager.children if isinstance(w, HistoryRow)]
        return next(w for w in rows if words in w.text)

    _click(row("verse edits"))
    _click(row("first take"))
    assert len(viewer.vm.selected) == 2
    assert row("verse edits").selected and row("first take").selected
    _click(viewer.ids.diff_button)
    _wait(viewer.vm)
    texts = [row["text"] for row in viewer.ids.diff.data]
    assert texts[0] == "Project" and "Samples" in texts
    assert "      mixer Verse Snapshot · channel choir_pad_soft.wav: gain_db -3.0 -> -4.5" in texts
    shown = [w.text for w in viewer.ids.diff.layout_manager.children]
    assert "Patterns" in shown


def test_import_chooser_is_filtered_by_the_sampler_manifest(viewer: Any) -> None:
    _click(viewer.ids.import_button)
    chooser = viewer.chooser
    assert chooser is not None
    assert chooser.ids.chooser.filters == ["*.zip", "*.wav"]
    assert "3 choir layers available" in chooser.title
    chooser.dismiss()
    _frames(2)


def test_the_app_runs_and_exits_cleanly(tmp_path: Path, demo_data: Path) -> None:
    import make_viewer_store

    make_viewer_store.make(tmp_path / "store", tmp_path / "work", demo_data)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gui.app",
            "--store",
            str(tmp_path / "store"),
            "--workdir",
            str(tmp_path / "work"),
            "--exit-after",
            "1",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
