"""One syncfs stands in for an fsync per file only where the kernel and the file system make it as sure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from casstore.storage import syncfs

linux = pytest.mark.skipif(sys.platform != "linux", reason="syncfs is Linux's")


@linux
def test_the_file_system_type_is_the_one_stat_reports(tmp_path: Path) -> None:
    reported = subprocess.run(["stat", "-f", "-c", "%t", str(tmp_path)], capture_output=True, text=True, check=True)
    assert syncfs._fs_type(tmp_path) == int(reported.stdout.strip(), 16)


@linux
def test_it_is_used_only_on_a_file_system_it_trusts_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASSTORE_SYNCFS", raising=False)
    trusted = syncfs._fs_type(tmp_path) in syncfs._TRUSTED and syncfs._kernel_reports_errors()
    assert syncfs.usable(tmp_path) is trusted
    monkeypatch.setenv("CASSTORE_SYNCFS", "0")
    assert not syncfs.usable(tmp_path)
    monkeypatch.setenv("CASSTORE_SYNCFS", "1")
    assert syncfs.usable(tmp_path) is syncfs._kernel_reports_errors()


@pytest.mark.parametrize(
    ("release", "reports"),
    [("5.7.19", False), ("5.8.0", True), ("6.1.0-28-amd64", True), ("4.19.0", False), ("x", False)],
)
def test_kernels_before_5_8_do_not_count(monkeypatch: pytest.MonkeyPatch, release: str, reports: bool) -> None:
    real = os.uname()
    fake = os.uname_result((real.sysname, real.nodename, release, real.version, real.machine))
    monkeypatch.setattr(syncfs.os, "uname", lambda: fake)
    assert syncfs._kernel_reports_errors() is reports


@linux
def test_a_failed_sync_names_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    syncfs.sync(tmp_path)  # the real call succeeds on a healthy disk
    with pytest.raises(OSError) as raised:
        syncfs.sync(tmp_path / "gone")
    assert str(tmp_path / "gone") in str(raised.value)


@linux
def test_a_folder_on_another_file_system_gets_an_fsync_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSTORE_SYNCFS", "1")
    mounted = tmp_path / "assets"
    mounted.mkdir()
    assert syncfs.usable(tmp_path, [str(mounted)]) is syncfs._kernel_reports_errors()
    real = os.stat

    def another_device(path: object, *args: object, **kwargs: object) -> os.stat_result:
        found = real(path, *args, **kwargs)  # type: ignore[arg-type]
        if Path(str(path)) != mounted:
            return found
        return os.stat_result((found.st_mode, found.st_ino, found.st_dev + 1, *tuple(found)[3:10]))

    monkeypatch.setattr(syncfs.os, "stat", another_device)
    assert not syncfs.usable(tmp_path, [str(mounted)])  # a mount inside the folder: syncfs would miss it
    assert syncfs.usable(tmp_path, []) is syncfs._kernel_reports_errors()
