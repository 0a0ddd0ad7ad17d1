"""TensorFloat-32 for the float32 matrix products on the GPU: an explicit, off-by-default option.

On NVIDIA GPUs from Ampere on (compute capability 8.0+: A100, H100, H200), cuBLAS can run
float32 matrix products on the tensor cores with inputs rounded to TF32 (10-bit mantissa,
float32 range and accumulation): several times the throughput, at about 1e-3 relative
precision. gpunet keeps exact float32 unless asked (TensorFlow turns TF32 on by default;
PyTorch leaves it off for products); the names are TensorFlow's.

It applies to CuPy's 2-D products (``CUBLAS_COMPUTE_32F_FAST_TF32``), which is what Dense,
the convolutions' column GEMMs and the recurrent steps use; CuPy's batched (3-D and more)
``matmul`` keeps float32 compute. The NumPy (CPU) backend has no TF32: enabling it there only
takes effect once a GPU is used, and says so when no GPU can be.
"""

from __future__ import annotations

import warnings

from gpunet.backend.probe import cupy_status

_STATE = {"enabled": False}


def tensor_float_32_execution_enabled() -> bool:
    """Whether float32 matrix products may use TF32 on the GPU (False unless enabled)."""
    return _STATE["enabled"]


def enable_tensor_float_32_execution(enabled: bool) -> None:
    """Lets (True) or forbids (False, the default) TF32 tensor-core math in float32 products.

    Args:
        enabled: a bool.

    Example:

    >>> gpunet.config.enable_tensor_float_32_execution(True)   # faster, ~1e-3 precision
    """
    if not isinstance(enabled, bool):
        raise TypeError("enable_tensor_float_32_execution: `enabled` must be a bool. "
                        f"Received: {enabled!r}")
    _STATE["enabled"] = enabled
    ok, why = cupy_status()
    if not ok:
        if enabled:
            warnings.warn("enable_tensor_float_32_execution(True) has no effect on the CPU "
                          f"(NumPy has no TF32) and no GPU can be used here ({why}).",
                          stacklevel=2)
        return
    apply()


def apply() -> None:
    """Sets CuPy's float32 compute type from the option (called when a CuPy backend starts)."""
    import cupy
    from cupy._core import _routines_linalg as linalg

    kind = linalg.COMPUTE_TYPE_TF32 if _STATE["enabled"] else linalg.COMPUTE_TYPE_DEFAULT
    linalg.set_compute_type(cupy.float32, kind)
