"""How this process's C heap hands out big buffers: a policy the commands that churn through many ask for."""

from __future__ import annotations

import contextlib
import sys

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def unmap_big_buffers() -> None:
    """Have glibc map each buffer of 128 KiB or more, and unmap it when freed, for the rest of the process.

    glibc raises its mmap threshold (up to 32 MiB) each time a mapped buffer is freed; later
    buffers then come from the heap and leave holes in it. A walk frees many such buffers (a
    tree's arrays, dict tables): gc's RSS grew ~30 MiB over its pack write at 100,000 files
    while it held ~18 MiB more (issue 17). Mapping costs system time where 1 MiB buffers come
    and go by the thousand (fsck's re-hash: 12 s -> 18 s), so only gc and status ask for it
    (status of 100,000 files: 97.7 -> 81 MiB peak). Does nothing off Linux.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # here: only the commands that ask pay for it

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, 128 << 10)
