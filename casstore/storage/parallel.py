"""Worker threads: hashing and zstd release the GIL, so a shared pool of threads uses every core."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_pools: dict[bool, ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()


def worker_count() -> int:
    """Return the number of threads for hashing, compressing and writing (``CASSTORE_THREADS``)."""
    configured = os.environ.get("CASSTORE_THREADS")
    if configured and configured.isdigit() and int(configured) > 0:
        return int(configured)
    # One more than the cores so an fsync in one thread does not leave a core idle.
    return min(8, (os.cpu_count() or 1) + 1)


def parallel_map(func: Callable[[T], R], items: Iterable[T], io_bound: bool = False) -> Iterator[R]:
    """Map ``func`` over ``items`` on a shared pool, yielding results in order.

    One pool lives for the whole process: starting threads per call cost more
    than the work for small directories (measured in the autosave stress run).
    ``io_bound`` work (restores: each file ends in an fsync) gets twice the threads,
    so the CPUs keep decoding while some threads wait on the disk (bench/README.md).
    Calls made from inside a worker run inline so nested use cannot deadlock.
    """
    if not isinstance(items, Sequence):
        items = list(items)  # a Sequence is used as it is: it may make its items one at a time (checkout's paths)
    if len(items) <= 1 or threading.current_thread().name.startswith("casstore-worker"):
        yield from (func(item) for item in items)
        return
    threads = worker_count() * 2 if io_bound else worker_count()
    with _pool_lock:
        pool = _pools.get(io_bound)
        if pool is None:
            pool = _pools[io_bound] = ThreadPoolExecutor(threads, thread_name_prefix="casstore-worker")
    # A bounded window of work in flight: a future per item up front (with its lock and
    # result) cost ~1 KiB each, O(objects) memory for fsck of a long history or a 100,000-file bundle.
    window = 4 * threads
    futures: deque[Future[R]] = deque()
    try:
        for item in items:
            futures.append(pool.submit(func, item))
            if len(futures) >= window:
                yield futures.popleft().result()
        while futures:
            yield futures.popleft().result()
    finally:
        # On failure, let running work finish before the caller cleans up after it.
        for future in futures:
            future.cancel()
        wait(futures)
