"""Optional Numba kernel of the Adam update on the CPU: one pass over the flat buffers
instead of NumPy's eleven ``out=`` passes (4x faster on a small model, where each NumPy call
costs more than its arithmetic; 2.7x on a 256K-element slice). Every operation is the NumPy
path's, in the same order and dtype (no fused multiply-add: LLVM contracts only under
``fastmath``), so the two give the same bits; the tests hold them to that.

Without Numba, or with ``GPUNET_NUMBA=0``, ``adam_step`` returns None and the NumPy path runs.
"""

from __future__ import annotations

from typing import Any

from gpunet.backend.kernels.numba_cpu import _STATE, _float_ok, numba_enabled


def _build_adam() -> Any:
    import numba
    import numpy as np

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def step(w, g, m, v, alpha, c1, c2, eps):  # pragma: no cover - compiled
        for i in range(w.shape[0]):
            gi = g[i]
            mi = m[i] + (gi - m[i]) * c1
            vi = v[i] + (gi * gi - v[i]) * c2
            m[i] = mi
            v[i] = vi
            w[i] -= mi / (np.sqrt(vi) + eps) * alpha

    return step


def _build_adam_backup() -> Any:
    import numba
    import numpy as np

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def step(w, g, m, v, backup, alpha, c1, c2, eps):  # pragma: no cover - compiled
        big = np.inf
        bad = 0
        for i in range(w.shape[0]):
            gi = g[i]
            wi = w[i]
            backup[i] = wi
            mi = m[i] + (gi - m[i]) * c1
            vi = v[i] + (gi * gi - v[i]) * c2
            m[i] = mi
            v[i] = vi
            wi -= mi / (np.sqrt(vi) + eps) * alpha
            w[i] = wi
            bad |= not (abs(wi) < big)  # NaN compares false: caught with +-Inf
        return bad

    return step


def adam_backup_step(dtype: Any) -> Any:
    """``adam_step`` that also writes each weight's previous value into ``backup`` and
    returns whether any new weight is not finite: ``step(w, g, m, v, backup, alpha, 1 -
    beta_1, 1 - beta_2, eps) -> bool``. It replaces a copy of the weights before the update
    and a check of them after it (two passes) by one more write in the update's own pass.
    None without Numba."""
    if dtype is None or not _float_ok(dtype) or not numba_enabled():
        return None
    if "adam_backup" not in _STATE:
        _STATE["adam_backup"] = _build_adam_backup()
    return _STATE["adam_backup"]


def adam_step(dtype: Any) -> Any:
    """``step(w, g, m, v, alpha, 1 - beta_1, 1 - beta_2, eps)`` (scalars of ``dtype``): Keras
    3's Adam over 1-D buffers of ``dtype`` in place, or None without Numba."""
    if dtype is None or not _float_ok(dtype) or not numba_enabled():
        return None
    if "adam" not in _STATE:
        _STATE["adam"] = _build_adam()
    return _STATE["adam"]
