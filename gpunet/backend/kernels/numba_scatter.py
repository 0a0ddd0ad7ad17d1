"""The embedding gradient's row scatter-add with Numba: ``out[ids[i]] += values[i]``.

NumPy's ``np.add.at`` takes about 0.9 ms for the 2,560 rows of a (32, 80) batch of 128-wide
embeddings (it is built for arbitrary element indices); one compiled loop over the rows,
vectorized along each row, takes a few tens of microseconds. Rows are added in the order of
``ids``, as ``np.add.at`` adds them, so repeated ids sum to the same bits. Without Numba (or with
``GPUNET_NUMBA=0``) the caller keeps ``np.add.at``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.kernels.numba_cpu import _float_ok, compiled, numba_enabled


def _build() -> Any:
    import numba

    @numba.njit(cache=True, nogil=True)
    def scatter_rows(out, ids, values):  # pragma: no cover - compiled
        n, d = values.shape
        for i in range(n):
            row = out[ids[i]]
            v = values[i]
            for j in range(d):
                row[j] += v[j]

    return scatter_rows


def scatter_add_rows(out: np.ndarray, ids: Any, values: np.ndarray) -> bool:
    """Adds row ``i`` of ``values`` (``(n, d)`` after flattening) onto row ``ids[i]`` of the
    2-D ``out`` in place; False when the caller must (no Numba, other layouts or dtypes, ids
    out of range)."""
    if not (numba_enabled() and isinstance(out, np.ndarray) and out.ndim == 2
            and out.flags.c_contiguous and _float_ok(out.dtype) and values.dtype == out.dtype):
        return False
    d = out.shape[1]
    ids = np.ascontiguousarray(ids).reshape(-1)
    if ids.dtype.kind not in "iu" or values.size != ids.size * d:
        return False
    if ids.size and (int(ids.min()) < -out.shape[0] or int(ids.max()) >= out.shape[0]):
        return False  # let NumPy raise its IndexError
    ids = np.where(ids < 0, ids + out.shape[0], ids) if ids.size and ids.min() < 0 else ids
    compiled("scatter_rows", _build)(out, ids.astype(np.intp, copy=False),
                           np.ascontiguousarray(values).reshape(-1, d))
    return True
