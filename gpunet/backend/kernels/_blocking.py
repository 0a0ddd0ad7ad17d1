"""Cache blocking for the NumPy updates: an elementwise update with many ``out=`` passes runs
over slices of the flat buffers that stay in cache, instead of streaming every buffer from
memory once per pass (Adam makes 12 passes). The slices of a large update run on the CPU
threads of ``gpunet.backend.cpu_threads``, a contiguous group of slices per thread."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from gpunet.backend import cpu_threads

BLOCK = 1 << 18  # elements per slice: 1 MiB per float32 buffer, ~6 buffers fit in L2+L3


def blocked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Runs ``fn`` (an elementwise, in-place update) on aligned slices of every 1-D NumPy
    buffer it receives that has the length of the first one; other arguments pass unchanged.
    The result equals one call on the whole buffers, because no element depends on another.
    A flag that ``fn`` returns (for example "a new weight is not finite") comes back OR-ed
    over the slices (the single call's own result where the buffers are not split)."""

    @functools.wraps(fn)
    def run(*args: Any) -> Any:
        a0 = args[0]
        n = a0.size if a0.__class__ is np.ndarray else next(
            a.size for a in args if isinstance(a, np.ndarray))
        if n <= BLOCK:
            return fn(*args)
        flat = [isinstance(a, np.ndarray) and a.ndim == 1 and a.size == n for a in args]

        def part(r: slice) -> bool:  # the elements r, one cache-sized slice after the other
            hit = False
            for lo in range(r.start, r.stop, BLOCK):
                s = slice(lo, min(lo + BLOCK, r.stop))
                hit = bool(fn(*[a[s] if f else a for a, f in zip(args, flat)])) or hit
            return hit

        # NumPy's ufuncs release the GIL: even shares of the elements (64-aligned) run on the
        # CPU threads, each in cache-sized slices
        shares = cpu_threads.row_blocks(n // 64, min_rows=BLOCK // 256)
        edges = [b.start * 64 for b in shares] + [n]
        return any(cpu_threads.run_blocks(part, [slice(a, z) for a, z in zip(edges, edges[1:])]))

    return run


def blocked_update(fn: Callable[..., None]) -> Callable[..., None]:
    """``blocked`` for a public update ``fn(backend, *buffers_and_scalars)``: slices only on
    the NumPy backend (a CuPy update is one fused kernel already)."""
    inner = blocked(lambda *args: fn(args[0], *args[1:]))

    @functools.wraps(fn)
    def run(b: Any, *args: Any) -> None:
        if b.name != "numpy":
            fn(b, *args)
            return
        n = next((a.size for a in args if isinstance(a, np.ndarray)), 0)
        if n <= BLOCK:
            fn(b, *args)
            return
        inner(b, *args)

    return run
