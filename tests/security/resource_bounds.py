"""``run_bounded``: the hostile-input tests' check that a refusal is quick and small."""

from __future__ import annotations

import time
import tracemalloc

import pytest


def run_bounded(fn, exc, match, max_s: float, max_bytes: int):
    """Runs ``fn``, expecting ``exc`` (message matching ``match``); asserts it took less than
    ``max_s`` seconds and ``max_bytes`` of Python allocations at peak. Returns the error."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(exc, match=match) as info:
            fn()
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < max_s, f"took {elapsed:.1f} s"
    assert peak < max_bytes, f"allocated {peak / 2**20:.0f} MiB"
    return info.value
