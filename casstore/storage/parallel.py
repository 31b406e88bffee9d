"""Worker threads: hashing, zstd and file I/O release the GIL, so a shared pool of threads uses every core."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from queue import SimpleQueue
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def worker_count() -> int:
    """Return the number of threads for hashing, compressing and writing (``CASSTORE_THREADS``)."""
    configured = os.environ.get("CASSTORE_THREADS")
    if configured and configured.isdigit() and int(configured) > 0:
        return int(configured)
    # One more than the cores so an fsync in one thread does not leave a core idle.
    return min(8, (os.cpu_count() or 1) + 1)


class _Batch(Generic[R]):
    """The calls of one :func:`parallel_map`: results by position, and how many are still queued or running."""

    def __init__(self) -> None:
        self.done = threading.Condition(threading.Lock())
        self.results: dict[int, tuple[bool, Any]] = {}
        self.pending = 0
        self.cancelled = False

    def finish(self, index: int, ok: bool, value: Any) -> None:
        """Record the outcome of call ``index`` and wake the caller."""
        with self.done:
            self.results[index] = (ok, value)
            self.pending -= 1
            self.done.notify()


_Task = tuple[_Batch[Any], int, Callable[[Any], Any], Any]


class _Pool:
    """Daemon threads taking calls from one queue: ThreadPoolExecutor's job without concurrent.futures.

    That package and the logging it imports were 4 ms of the start-up of every import,
    export and fsck, and its Future per call was more work than a 1 KiB pattern file's.
    The threads never outlive work a caller waits for: :func:`parallel_map` returns only
    when every call it queued has finished or was dropped.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._tasks: SimpleQueue[_Task] = SimpleQueue()
        for number in range(threads):
            threading.Thread(target=self._work, name=f"casstore-worker-{number}", daemon=True).start()

    def submit(self, task: _Task) -> None:
        """Queue one call."""
        self._tasks.put(task)

    def _work(self) -> None:
        while True:
            batch, index, func, item = self._tasks.get()
            if batch.cancelled:
                del func, item
                batch.finish(index, False, None)
                del batch
                continue
            try:
                outcome = (True, func(item))
            except BaseException as exc:  # noqa: BLE001 -- handed to the caller, which raises it
                outcome = (False, exc)
            # An idle thread must keep nothing of its last call alive: the function (a closure
            # over a whole bundle's records) and its item go before the caller is told.
            del func, item
            batch.finish(index, *outcome)
            del outcome, batch  # nor its result or error


_pools: dict[bool, _Pool] = {}
_pool_lock = threading.Lock()


def _pool(io_bound: bool) -> _Pool:
    with _pool_lock:
        pool = _pools.get(io_bound)
        if pool is None:
            pool = _pools[io_bound] = _Pool(worker_count() * 2 if io_bound else worker_count())
        return pool


def parallel_map(func: Callable[[T], R], items: Iterable[T], io_bound: bool = False) -> Iterator[R]:
    """Map ``func`` over ``items`` on a shared pool, yielding results in order.

    One pool lives for the whole process: starting threads per call cost more
    than the work for small directories (measured in the autosave stress run).
    ``io_bound`` work (restores: each file ends in an fsync) gets twice the threads,
    so the CPUs keep decoding while some threads wait on the disk (bench/README.md).
    Calls made from inside a worker run inline so nested use cannot deadlock. If a call
    fails (or the caller stops early), calls not yet started are dropped and the running
    ones finish before the error reaches the caller, who may then clean up after them.
    """
    if not isinstance(items, Sequence):
        items = list(items)  # a Sequence is used as it is: it may make its items one at a time (checkout's paths)
    if len(items) <= 1 or threading.current_thread().name.startswith("casstore-worker"):
        yield from (func(item) for item in items)
        return
    pool = _pool(io_bound)
    # A bounded window of work in flight: queuing every item up front cost O(items)
    # memory for fsck of a long history or a 100,000-file bundle.
    window = 4 * pool.threads
    batch: _Batch[R] = _Batch()
    queued = 0
    try:
        for index in range(len(items)):
            while queued < len(items) and queued < index + window:
                with batch.done:
                    batch.pending += 1
                pool.submit((batch, queued, func, items[queued]))
                queued += 1
            with batch.done:
                while index not in batch.results:
                    batch.done.wait()
                ok, value = batch.results.pop(index)
            if not ok:
                raise value
            yield value
    finally:
        with batch.done:
            batch.cancelled = True
            while batch.pending:
                batch.done.wait()
