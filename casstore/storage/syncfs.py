"""One syncfs(2) for a batch of new files, where it is as sure as an fsync of each.

An export of the medium bench fsynced its 506 files one by one, each forcing a journal commit
of its own (0.33 ms each: 0.17 s of CPU-side waiting in a 0.26 s export); one syncfs commits
them together. It is used only where it reports what an fsync would: Linux 5.8 or later
(before, syncfs returned 0 whatever writeback had failed) on a local file system whose sync
covers data and metadata (ext2/3/4, XFS, Btrfs, F2FS; tmpfs keeps nothing through a power cut
either way). Elsewhere (FUSE, network file systems, other systems) each file is fsynced.
``CASSTORE_SYNCFS=0`` turns it off; ``=1`` uses it on any Linux file system (for tests).

An unseen writeback error is reported to the next syncfs even through a descriptor opened
after it (errseq_sample), as it is to a file's next fsync.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# statfs f_type of the file systems whose syncfs commits every file's data and metadata.
_TRUSTED = {
    0xEF53: "ext2/3/4",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0xF2F52010: "f2fs",
    0x01021994: "tmpfs",
}


@functools.cache
def _libc() -> Any:
    import ctypes  # here, not at the top: only commands that write many files load it

    return ctypes.CDLL(None, use_errno=True)


def _kernel_reports_errors() -> bool:
    """Tell whether this kernel's syncfs returns writeback errors (Linux 5.8 and later)."""
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 8)


def _fs_type(path: Path) -> int | None:
    import ctypes

    buffer = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit Linux; f_type comes first
    if _libc().statfs(os.fsencode(path), buffer) != 0:
        return None
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF


def usable(path: Path, directories: Iterable[str | os.PathLike[str]] = ()) -> bool:
    """Tell whether one syncfs of ``path``'s file system makes new files in ``directories`` as durable as an fsync each.

    Each of ``directories`` must be on ``path``'s file system: a folder mounted inside a
    working directory is another file system, which that syncfs would not reach.
    """
    setting = os.environ.get("CASSTORE_SYNCFS", "")
    if setting == "0" or sys.platform != "linux" or not _kernel_reports_errors():
        return False
    if setting != "1" and _fs_type(path) not in _TRUSTED:
        return False
    try:
        device = os.stat(path).st_dev
        return all(os.stat(directory).st_dev == device for directory in directories)
    except OSError:
        return False


def sync(path: Path) -> None:
    """Commit everything written on the file system holding ``path``; raises OSError when writeback failed."""
    import ctypes

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc().syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(path))
    finally:
        os.close(fd)
