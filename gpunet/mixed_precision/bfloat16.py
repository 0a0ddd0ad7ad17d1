"""The bfloat16 dtype of a backend: ``ml_dtypes.bfloat16`` on NumPy (an optional extra)."""

from __future__ import annotations

from typing import Any


def bfloat16_dtype(b: Any) -> Any:
    """The bfloat16 array dtype of backend ``b``.

    NumPy has no bfloat16; ``ml_dtypes`` (the package JAX uses, ``pip install
    gpunet[bfloat16]``) adds one. Its arithmetic works element-wise in bfloat16, while its
    matmul returns float32 (layers then cast their outputs back to bfloat16).

    Raises:
        ImportError: on NumPy without ``ml_dtypes``.
        NotImplementedError: on CuPy: gpunet's CUDA kernels are float16/32/64 only
            (CuPy's own bfloat16 support through ``ml_dtypes`` is experimental); use
            ``"mixed_float16"`` on the GPU.
    """
    if not b.is_host:  # a device backend (CuPy)
        raise NotImplementedError(
            f"The 'mixed_bfloat16' policy is not supported on the {b.name} backend: gpunet's "
            "CUDA kernels run in float16, float32 and float64 only. Use 'mixed_float16' on "
            "the GPU.")
    try:
        import ml_dtypes
    except ImportError:
        raise ImportError(
            "The 'mixed_bfloat16' policy needs a bfloat16 dtype, which NumPy lacks: install "
            "the `ml_dtypes` package (`pip install ml_dtypes`, or `pip install "
            "gpunet[bfloat16]`).") from None
    import numpy as np

    return np.dtype(ml_dtypes.bfloat16)
