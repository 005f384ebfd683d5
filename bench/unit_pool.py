"""Run independent benchmark units side by side: worker processes of a few torch threads each.

Why processes and not torch threads: on this project's 2-core CPUs, two processes of one
torch thread each finish two pretraining or fine-tuning units sooner than one process of two
threads finishes them one after the other (the small convolutions of a CPU-sized unit do not
keep two threads busy; docs/results.md gives the measured wall times). The label-efficiency
benchmark's units (a pretraining run, one seed of a probe, one fine-tuning run) are
independent and write their results to a shared cache, so they parallelise without
coordination beyond the order they are submitted in.

    >>> with worker_pool(workers=1, threads=1) as pool:     # serial: runs at submit
    ...     pool.submit(pow, 2, 10).result()
    1024
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Callable, Iterator


class SerialExecutor(Executor):
    """An executor that runs each call at ``submit``, in this process (one worker, no pickling)."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:   # handed to the caller through the future
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            future.set_exception(exc)
        return future


def set_threads(threads: int) -> None:
    """Torch and OpenMP threads of a worker (set before its first tensor operation)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(max(1, threads))


@contextlib.contextmanager
def worker_pool(workers: int, threads: int) -> Iterator[Executor]:
    """``workers`` processes of ``threads`` torch threads each (spawned: no forked torch state),
    or this process when ``workers`` is 1. On an error or an interrupt the units not started
    are cancelled; the finished ones are already in the caller's cache."""
    if workers <= 1:
        set_threads(threads)
        yield SerialExecutor()
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=set_threads, initargs=(threads,))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
