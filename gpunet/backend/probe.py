"""Safe detection of a usable CuPy + CUDA device; never raises, never crashes."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def cupy_status() -> tuple[bool, str]:
    """Returns ``(usable, reason)``: whether CuPy imports *and* a CUDA device computes.

    CuPy 14 imports on a machine without a driver and fails only at the first
    allocation, so this probe allocates, runs an elementwise kernel, a reduction and a
    cuBLAS matmul, and copies back to the host. Every exception means "not usable".
    """
    try:
        import cupy
    except Exception as e:  # not installed, or a broken install
        return False, f"CuPy is not importable ({type(e).__name__}: {e})"
    try:
        if not cupy.cuda.is_available():
            return False, "CuPy is installed but no CUDA device is available"
        x = cupy.arange(8, dtype=cupy.float32)
        y = (x * 2).sum()
        z = x.reshape(2, 4) @ x.reshape(4, 2)
        float(y)
        z.get()
    except Exception as e:  # CUDARuntimeError, CompileException, missing libraries, ...
        return False, f"CuPy could not use the CUDA device ({type(e).__name__}: {e})"
    return True, "ok"


def has_gpu() -> bool:
    """True when CuPy is importable and a CUDA device answers."""
    return cupy_status()[0]
