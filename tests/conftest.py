"""Shared fixtures: the generated demo bundles, fresh stores, and a real subprocess CLI runner."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from remote_helpers import ana, remotes  # noqa: F401  (fixtures of the remote tests)

# Kivy reads these at its first import, which any test may trigger: keep its files out of ~.
_kivy_home = tempfile.mkdtemp(prefix="kivy-home-")
atexit.register(shutil.rmtree, _kivy_home, True)
for _key, _value in {
    "KIVY_HOME": _kivy_home,
    "KIVY_NO_ARGS": "1",
    "KIVY_NO_CONFIG": "1",
    "KIVY_NO_FILELOG": "1",
    "KIVY_NO_CONSOLELOG": "1",
    "KIVY_WINDOW": "sdl2",
    # The viewer decodes samples it plays into the user's cache: keep the tests' out of ~/.cache.
    "XDG_CACHE_HOME": _kivy_home,
    # Audio through SDL's dummy driver: the playback tests run where no sound card is.
    "SDL_AUDIODRIVER": "dummy",
}.items():
    os.environ.setdefault(_key, _value)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "testdata"))

settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated bundles (testdata/out when `make` made it, else generated here)."""
    made = ROOT / "testdata" / "out"
    if (made / ".stamp").exists():
        return made
    import make_bundles

    out = tmp_path_factory.mktemp("testdata")
    make_bundles.main(out)
    return out


@pytest.fixture()
def bundle(demo_data: Path, tmp_path: Path) -> Path:
    """A private copy of the demo bundle (revision 1) that a test may damage."""
    copy = tmp_path / "demo_bundle"
    shutil.copytree(demo_data / "demo_bundle", copy)
    return copy


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    """Runs the real ``casstore`` command line in a subprocess against one store."""

    def __init__(self, store: Path, cwd: Path) -> None:
        self.store = store
        self.cwd = cwd

    def __call__(self, *args: str | os.PathLike[str], env: dict[str, str] | None = None, store: bool = True) -> Result:
        argv = [sys.executable, "-m", "porcelain"]
        if store:
            argv += ["--store", str(self.store)]
        argv += [str(a) for a in args]
        full_env = {k: v for k, v in os.environ.items() if k != "CASSTORE_DIR"}
        full_env.update({"PYTHONPATH": str(ROOT), **(env or {})})
        done = subprocess.run(argv, cwd=self.cwd, env=full_env, capture_output=True, text=True, timeout=300)
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str | os.PathLike[str]) -> Result:
        result = self(*args)
        assert result.code == 0, f"casstore {' '.join(map(str, args))} failed ({result.code}): {result.err}"
        return result


@pytest.fixture()
def cli(tmp_path: Path) -> Cli:
    """A CLI runner with a freshly initialised store."""
    runner = Cli(tmp_path / "store", tmp_path)
    runner.ok("init", tmp_path / "store")
    return runner


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot_tree(root: Path) -> dict[str, str]:
    """Map every file under ``root`` to its SHA-256 (to prove a command changed nothing)."""
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def dirs_equal(a: Path, b: Path) -> bool:
    """``diff -r`` as a test asserts it: the same files with the same bytes."""
    done = subprocess.run(["diff", "-r", str(a), str(b)], capture_output=True, text=True)
    return done.returncode == 0
