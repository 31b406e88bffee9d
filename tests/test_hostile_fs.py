"""Hostile file systems: a full disk (ENOSPC), a read-only one (EROFS) and a denied directory (EACCES).

Each runs on a small tmpfs of its own (root only; skipped elsewhere). The command must fail
with one clear line naming the path, and the same command must succeed once space is back,
the file system is writable again or the permission is restored, with no manual cleanup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import ROOT, Cli, Result, dirs_equal

NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


class Disks:
    """Small tmpfs mounts made for one test, all unmounted at its end."""

    def __init__(self) -> None:
        self.points: list[Path] = []

    def mount(self, point: Path, size: str, mode: str = "0755") -> Path:
        """Mount a tmpfs of ``size`` at ``point`` (skips the test where that is not possible)."""
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        point.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode}", "tmpfs", str(point)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        self.points.append(point)
        return point

    @staticmethod
    def remount(point: Path, options: str) -> None:
        """Change a mounted tmpfs: ``ro``, ``rw`` or ``size=…``."""
        subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True, capture_output=True)


@pytest.fixture()
def disks() -> Iterator[Disks]:
    made = Disks()
    try:
        yield made
    finally:
        for point in reversed(made.points):
            subprocess.run(["umount", "-l", str(point)], check=False)


def _one_error_line(result: Result, reason: str, where: Path) -> None:
    """Assert the contract for a hostile file system: exit 2, one line naming the reason and a path under ``where``."""
    assert result.code == 2, (result.code, result.out, result.err)
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("casstore: error: "), result.err
    assert reason in lines[0] and str(where) in lines[0], lines[0]


def _fsck_ok(cli: Cli) -> None:
    result = cli("fsck")
    assert result.code == 0, result.out + result.err


def _leftovers(root: Path) -> list[str]:
    """Temp files, partial copies or staging that a failed command left under ``root``."""
    found = [p.name for p in root.rglob(".*") if "-" in p.name and p.name != ".casstore-checkout.json"]
    tmp = root / "tmp"
    return found + ([p.name for p in tmp.iterdir()] if tmp.is_dir() else [])


# ENOSPC ------------------------------------------------------------------------------------------


def test_an_autosave_on_a_full_disk_fails_cleanly_and_succeeds_once_space_is_back(
    disks: Disks, demo_data: Path, tmp_path: Path
) -> None:
    disk = disks.mount(tmp_path / "disk", "4m")
    cli = Cli(disk / "store", tmp_path)
    cli.ok("init", cli.store)
    cli.ok("import", demo_data / "demo_bundle")
    work = tmp_path / "work"
    cli.ok("checkout", "demo-project", work)
    (work / "assets" / "big_new_take.wav").write_bytes(os.urandom(6 << 20))  # more than the disk has left
    failed = cli("autosave", work)
    _one_error_line(failed, "No space left on device", disk)
    assert _leftovers(cli.store) == []
    Disks.remount(disk, "size=32m")
    saved = cli("autosave", work)
    assert saved.code == 0, saved.err
    _fsck_ok(cli)


@pytest.mark.parametrize("command", ["checkout", "export", "export --zip"])
def test_a_full_destination_fails_cleanly_and_the_same_command_succeeds_once_space_is_back(
    disks: Disks, cli: Cli, demo_data: Path, tmp_path: Path, command: str
) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    disk = disks.mount(tmp_path / "disk", "512k")  # the demo bundle is 1.5 MB of samples
    dest = disk / ("out.zip" if "--zip" in command else "out")
    verb, *options = command.split()
    failed = cli(verb, "demo-project", dest, *options)
    _one_error_line(failed, "No space left on device", disk)
    assert sorted(p.name for p in disk.iterdir()) == [], "a failed command left something on the full disk"
    Disks.remount(disk, "size=16m")
    cli.ok(verb, "demo-project", dest, *options)
    if verb == "export" and not options:
        assert dirs_equal(demo_data / "demo_bundle", dest)
    elif verb == "checkout":
        assert cli("status", dest).code == 0
    _fsck_ok(cli)


def test_gc_on_a_full_disk_fails_cleanly_and_succeeds_once_space_is_back(
    disks: Disks, demo_data: Path, tmp_path: Path
) -> None:
    disk = disks.mount(tmp_path / "disk", "8m")
    cli = Cli(disk / "store", tmp_path)
    cli.ok("init", cli.store)
    cli.ok("import", demo_data / "demo_bundle")
    used = shutil.disk_usage(disk).used
    # Room for the lock and the reflog, not for a pack holding a copy of every object.
    Disks.remount(disk, f"size={used + (256 << 10)}")
    failed = cli("gc")
    _one_error_line(failed, "No space left on device", disk)
    assert _leftovers(cli.store) == []
    Disks.remount(disk, "size=16m")
    cli.ok("gc")
    assert len(list((cli.store / "packs").glob("*.pack"))) == 1
    _fsck_ok(cli)
    cli.ok("export", "demo-project", tmp_path / "out")
    assert dirs_equal(demo_data / "demo_bundle", tmp_path / "out")


# EROFS -------------------------------------------------------------------------------------------


def _store_commands(cli: Cli, demo_data: Path, work: Path) -> dict[str, Callable[[], Result]]:
    """The commands that write to the store, each one that has something to do."""
    return {
        "import": lambda: cli("import", demo_data / "demo_bundle_rev2"),
        "autosave": lambda: cli("autosave", work),
        "gc": lambda: cli("gc"),
    }


@pytest.mark.parametrize("command", ["import", "autosave", "gc"])
def test_a_read_only_store_fails_cleanly_and_works_again_once_writable(
    disks: Disks, demo_data: Path, tmp_path: Path, command: str
) -> None:
    disk = disks.mount(tmp_path / "disk", "16m")
    cli = Cli(disk / "store", tmp_path)
    cli.ok("init", cli.store)
    cli.ok("import", demo_data / "demo_bundle")
    work = tmp_path / "work"
    cli.ok("checkout", "demo-project", work)
    (work / "patterns" / "verse.json").write_text('{"edited": true}')
    run = _store_commands(cli, demo_data, work)[command]
    Disks.remount(disk, "ro")
    _one_error_line(run(), "Read-only file system", cli.store)
    Disks.remount(disk, "rw")
    again = run()
    assert again.code == 0, again.err
    assert _leftovers(cli.store) == []
    _fsck_ok(cli)


@pytest.mark.parametrize("command", ["checkout", "export", "export --zip"])
def test_a_read_only_destination_fails_cleanly_and_works_again_once_writable(
    disks: Disks, cli: Cli, demo_data: Path, tmp_path: Path, command: str
) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    disk = disks.mount(tmp_path / "disk", "16m")
    dest = disk / ("out.zip" if "--zip" in command else "out")
    verb, *options = command.split()
    Disks.remount(disk, "ro")
    _one_error_line(cli(verb, "demo-project", dest, *options), "Read-only file system", disk)
    Disks.remount(disk, "rw")
    cli.ok(verb, "demo-project", dest, *options)
    if verb == "export" and not options:
        assert dirs_equal(demo_data / "demo_bundle", dest)
    _fsck_ok(cli)


# EACCES ------------------------------------------------------------------------------------------


class NobodyCli(Cli):
    """The CLI run as an unprivileged user (root ignores permission bits, so EACCES needs one)."""

    def __call__(self, *args: str | os.PathLike[str], env: dict[str, str] | None = None, store: bool = True) -> Result:
        argv = [*AS_NOBODY, sys.executable, "-m", "porcelain"]
        if store:
            argv += ["--store", str(self.store)]
        argv += [str(a) for a in args]
        full_env = {k: v for k, v in os.environ.items() if k != "CASSTORE_DIR"}
        full_env.update({"PYTHONPATH": str(ROOT), "HOME": str(self.cwd), **(env or {})})
        done = subprocess.run(argv, cwd=self.cwd, env=full_env, capture_output=True, text=True, timeout=300)
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture()
def shared_disk(disks: Disks) -> Iterator[Path]:
    """A tmpfs that an unprivileged user can reach (pytest's tmp_path is root's alone)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run the CLI as an unprivileged user")
    parent = Path(tempfile.mkdtemp(prefix="casstore-hostile-"))
    try:
        parent.chmod(0o755)
        disk = disks.mount(parent / "disk", "32m", mode="0777")
        probe = subprocess.run([*AS_NOBODY, sys.executable, "-c", "pass"], capture_output=True)
        if probe.returncode != 0:
            pytest.skip(f"cannot run as uid {NOBODY}: {probe.stderr.decode().strip()}")
        yield disk
    finally:
        if parent / "disk" in disks.points:
            subprocess.run(["umount", "-l", str(parent / "disk")], check=False)
            disks.points.remove(parent / "disk")
        shutil.rmtree(parent, ignore_errors=True)


def _set_dir_modes(root: Path, mode: int) -> None:
    """Give ``root`` and every directory under it ``mode`` (files keep theirs)."""
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        directory.chmod(mode)


@pytest.mark.parametrize("command", ["import", "autosave", "gc"])
def test_a_store_the_user_may_not_write_fails_cleanly_and_works_again_once_permitted(
    shared_disk: Path, demo_data: Path, command: str
) -> None:
    cli = NobodyCli(shared_disk / "store", shared_disk)
    cli.ok("init", cli.store)
    cli.ok("import", demo_data / "demo_bundle")
    work = shared_disk / "work"
    cli.ok("checkout", "demo-project", work)
    (work / "patterns" / "verse.json").write_text('{"edited": true}')
    os.chown(work / "patterns" / "verse.json", NOBODY, NOBODY)
    run = _store_commands(cli, demo_data, work)[command]
    _set_dir_modes(cli.store, 0o555)
    _one_error_line(run(), "Permission denied", cli.store)
    _set_dir_modes(cli.store, 0o755)
    again = run()
    assert again.code == 0, again.err
    assert _leftovers(cli.store) == []
    _fsck_ok(cli)


@pytest.mark.parametrize("command", ["checkout", "export", "export --zip"])
def test_a_destination_the_user_may_not_write_fails_cleanly_and_works_again_once_permitted(
    shared_disk: Path, demo_data: Path, command: str
) -> None:
    cli = NobodyCli(shared_disk / "store", shared_disk)
    cli.ok("init", cli.store)
    cli.ok("import", demo_data / "demo_bundle")
    parent = shared_disk / "locked"
    parent.mkdir()
    os.chown(parent, NOBODY, NOBODY)
    parent.chmod(0o555)
    dest = parent / ("out.zip" if "--zip" in command else "out")
    verb, *options = command.split()
    _one_error_line(cli(verb, "demo-project", dest, *options), "Permission denied", parent)
    parent.chmod(0o755)
    cli.ok(verb, "demo-project", dest, *options)
    if verb == "export" and not options:
        assert dirs_equal(demo_data / "demo_bundle", dest)
    _fsck_ok(cli)
