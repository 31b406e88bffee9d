"""A display for the widget tests: Xvfb when DISPLAY is unset, else SDL's offscreen driver (Mesa EGL)."""

from __future__ import annotations

import atexit
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2] / "testdata"))
from gui_helpers import frames, mount


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


def _tiny_wav(path: Path, seed: int) -> None:
    import math
    import struct
    import wave

    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        frames = [int(9000 * math.sin(i * (0.02 + seed / 500)) * math.exp(-i / 900)) for i in range(800)]
        out.writeframes(struct.pack(f"<{len(frames)}h", *frames))


@pytest.fixture(scope="session")
def crowded_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A project with a long name, 40 sampler assets, 50 versions of a 64-step pattern of 10 tracks, and an autosave."""
    import hashlib
    import json

    import casstore

    root = tmp_path_factory.mktemp("crowded")
    bundle = root / "bundle"
    name = "A very long project name for the first full arrangement with choir layers and strings"
    assets = []
    for index in range(40):
        rel = f"assets/choir_layer_{index:02d}_with_a_rather_long_descriptive_name.wav"
        _tiny_wav(bundle / rel, index)
        digest = hashlib.sha256((bundle / rel).read_bytes()).hexdigest()
        assets.append({"asset_name": rel.split("/")[1], "relative_path": rel, "sha256": digest, "lufs_lu": -18.0})
    tracks = [f"choir layer {i} with a long release" for i in range(10)]
    pattern = {"pattern_id": "verse", "length_steps": 64, "tracks": tracks, "steps": []}
    (bundle / "patterns").mkdir()
    stamps = {"created_at": "2025-11-25T00:00:00+00:00", "updated_at": "2025-11-25T00:00:00+00:00"}
    store = casstore.init_store(root / "store")
    for take in range(50):
        # Each take adds one note, so two takes differ by one cell among many unchanged ones.
        pattern["steps"] = [
            {"step": t * 7 % 64, "track": t % 10, "note": "C-4", "velocity": 100} for t in range(take + 1)
        ]
        (bundle / "patterns/verse.json").write_text(json.dumps(pattern))
        manifest = {
            "manifest_version": "1.0.0",
            "project": {"id": "long-project", "name": name, "bpm": 120.0, "swing": 0.0, **stamps},
            "patterns": [
                {
                    "pattern_id": "verse",
                    "path": "patterns/verse.json",
                    "sha256": hashlib.sha256((bundle / "patterns/verse.json").read_bytes()).hexdigest(),
                    "length_steps": 64,
                    "step_count": take + 1,
                }
            ],
            "mixer_snapshots": [],
            "sampler_assets": assets,
        }
        (bundle / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
        casstore.import_bundle(store, bundle, message=f"take {take} of the first full arrangement with choir layers")
    work = root / "work"
    casstore.checkout(store, casstore.resolve_revision(store, "long-project"), work)
    (work / "patterns/verse.json").write_text(json.dumps({**pattern, "steps": []}))
    casstore.record_autosave(store, work, "long-project", "m1")
    return root / "store", work


@pytest.fixture()
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Kivy's clock and scroll effects on a hand-moved time: ``advance(seconds)`` moves it and draws two frames."""
    from kivy.clock import Clock

    clock = object.__getattribute__(Clock, "_obj")  # Clock is a context proxy; patch the clock behind it
    now = [clock.time()]
    monkeypatch.setattr(clock, "_max_fps", 0)  # no frame pacing: it would wait for a time that never comes
    monkeypatch.setattr(clock, "time", lambda: now[0])
    # A finger's fling speed is measured on the effects' own wall clock: hand them the same time.
    monkeypatch.setattr("kivy.effects.kinetic.time", lambda: now[0])
    monkeypatch.setattr("kivy.effects.scroll.time", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += seconds
        frames(2)

    return advance


@pytest.fixture(autouse=True)
def _own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture()
def viewer(kivy_window: Any, tmp_path: Path, demo_data: Path) -> Any:
    import make_viewer_store

    from casstore.gui.viewmodels import TrackerMixerRoot

    make_viewer_store.make(tmp_path / "store", tmp_path / "work", demo_data)
    vm = TrackerMixerRoot(str(tmp_path / "store"), None, str(tmp_path / "work"))
    vm.configure_sampler_manifest(str(demo_data / "sampler_s3_manifest.json"))
    vm.load()
    root = mount(kivy_window, vm)
    yield root
    if root.dialog is not None:
        root.dialog.dismiss()
    kivy_window.remove_widget(root)
