"""Row blocks of a recurrent time loop run on several CPU threads at once.

The rows of a batch are independent sequences, so a recurrent layer's time loop can run on
blocks of rows side by side: each thread does its block's per-step GEMM (OpenBLAS on one
thread, called from several threads at once) and its element-wise work (NumPy ufuncs and
the Numba step kernels, which release the GIL). The threads meet once per loop, not once per
step, so a thread that the operating system schedules late delays only the end of the loop:
one OpenBLAS call split over two threads at every step waits for both at each of them
(measured on two busy cores: 0.2-8 ms per (128, 128) x (128, 512) product against 60 us on
one thread).

``GPUNET_CPU_THREADS`` caps the number of threads (default: the cores this process may use);
``1`` keeps every loop on the calling thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Fewer rows per block than this make the per-step GEMM too thin to pay for a thread
# (measured single-thread sgemm (m, 128) x (128, 512): 97 GFLOP/s at m = 128, 87 at 64,
# 62 at 16).
MIN_ROWS = 16
MAX_THREADS = 8

_POOL: dict[str, Any] = {}
_LOCK = threading.Lock()


def cpu_threads() -> int:
    """How many threads a time loop may use: ``GPUNET_CPU_THREADS`` or the usable cores."""
    env = os.environ.get("GPUNET_CPU_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"GPUNET_CPU_THREADS must be a positive integer, received "
                             f"{env!r}.") from None
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_THREADS))


def row_blocks(n: int, min_rows: int | None = None) -> list[slice]:
    """Splits ``n`` rows into at most ``cpu_threads()`` contiguous blocks of at least
    ``min_rows`` rows (default ``MIN_ROWS``), as even as possible."""
    k = max(1, min(cpu_threads(), n // (MIN_ROWS if min_rows is None else max(1, min_rows))))
    bounds = [n * i // k for i in range(k + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(k)]


def _pool(workers: int) -> ThreadPoolExecutor:
    with _LOCK:
        pool = _POOL.get("pool")
        if pool is None or _POOL.get("workers", 0) < workers:
            if pool is not None:
                pool.shutdown(wait=False)
            pool = ThreadPoolExecutor(workers, thread_name_prefix="gpunet-rows")
            _POOL.update(pool=pool, workers=workers)
        return pool


def _after_fork_in_child() -> None:
    """A forked child has the parent's pool object but none of its threads: start afresh."""
    global _LOCK
    _LOCK = threading.Lock()
    _POOL.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run_blocks(fn: Callable[[slice], Any], blocks: list[slice]) -> list:
    """Calls ``fn(block)`` for every block, the first on the calling thread and the others
    on worker threads; returns the results in block order and re-raises the first error."""
    if len(blocks) <= 1:
        return [fn(b) for b in blocks]
    futures = [_pool(len(blocks) - 1).submit(fn, b) for b in blocks[1:]]
    try:
        first = fn(blocks[0])
    finally:
        rest = []
        err = None
        for f in futures:
            try:
                rest.append(f.result())
            except BaseException as e:  # noqa: BLE001 - re-raised below, after every join
                err = err or e
    if err is not None:
        raise err
    return [first] + rest
