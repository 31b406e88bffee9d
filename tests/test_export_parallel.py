"""The worker pool under export, import and fsck: results in order, failures after the running calls end."""

from __future__ import annotations

import threading

import pytest

from casstore.storage.parallel import parallel_map


def test_results_come_in_the_order_of_the_items() -> None:
    assert list(parallel_map(lambda n: n * n, range(1000), io_bound=True)) == [n * n for n in range(1000)]


def test_a_failure_reaches_the_caller_after_the_running_calls_finished() -> None:
    running = 0
    most = threading.Lock()
    started: list[int] = []

    def work(n: int) -> int:
        nonlocal running
        with most:
            running += 1
            started.append(n)
        try:
            if n == 5:
                raise ValueError("disk full")
            return n
        finally:
            with most:
                running -= 1

    with pytest.raises(ValueError, match="disk full"):
        list(parallel_map(work, range(10_000)))
    assert running == 0  # the caller may clean up: nothing still writes
    assert len(started) < 10_000  # calls not yet started were dropped


def test_a_call_from_inside_a_worker_runs_inline_instead_of_waiting_for_a_free_thread() -> None:
    def outer(n: int) -> list[int]:
        return list(parallel_map(lambda m: n + m, range(50)))

    assert list(parallel_map(outer, range(40))) == [[n + m for m in range(50)] for n in range(40)]


def test_idle_workers_keep_nothing_of_the_last_calls() -> None:
    """A long-lived process (the viewer) must not keep a whole bundle's records alive in idle threads."""
    import gc
    import weakref

    class Records:
        pass

    records = Records()
    gone = weakref.ref(records)

    def check(index: int, held: Records = records) -> int:
        return index + (held is not None)  # the function holds the records, as a closure over them would

    assert list(parallel_map(check, range(50))) == [index + 1 for index in range(50)]
    del check, records
    gc.collect()
    assert gone() is None
