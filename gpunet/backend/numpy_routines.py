"""The NumPy forms of the device routines declared on ``Backend`` (a mixin of
``NumpyBackend``): scatter-adds, counts, stable sorts, ``erf``, and the OpenBLAS thread
control and product orientation that the recurrent time loops want on the CPU."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from gpunet.backend.kernels import numba_scatter

Array = Any

_BLAS: list = []  # [(library, set_num_threads, get_num_threads)] once found, [None] if not


def _find_openblas() -> tuple | None:
    """``(library, set_num_threads, get_num_threads)`` of the loaded OpenBLAS (Linux), NumPy's
    own first where several are loaded, or None."""
    if not _BLAS:
        found = None
        try:
            import ctypes

            with open("/proc/self/maps") as f:
                paths = sorted({ln.split()[-1] for ln in f
                                if "openblas" in ln.lower() and ".so" in ln},
                               key=lambda p: ("numpy" not in p, p))
            for path in paths:
                lib = ctypes.CDLL(path)
                for pre in ("scipy_openblas", "openblas"):
                    for suf in ("64_", ""):
                        st = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                        gt = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                        if st is not None and gt is not None and found is None:
                            found = (lib, st, gt)
        except (OSError, ValueError):
            found = None
        _BLAS.append(found)
    return _BLAS[0]


def _openblas() -> tuple | None:
    """OpenBLAS's thread-count setter/getter from the loaded library (Linux), or None."""
    found = _find_openblas()
    return None if found is None else found[1:]


def openblas_library() -> Any:
    """The ctypes handle of the OpenBLAS whose threads ``single_thread_blas`` sets, or None."""
    found = _find_openblas()
    return None if found is None else found[0]


@contextlib.contextmanager
def _one_blas_thread():
    fns = _openblas()
    if fns is None:
        yield
        return
    st, gt = fns
    prev = gt()
    if prev <= 1:
        yield
        return
    st(1)
    try:
        yield
    finally:
        st(prev)


def erf_numpy(x: np.ndarray) -> np.ndarray:
    """``erf`` to ~1e-15 relative without SciPy: a positive series below 2.5, erfc's
    continued fraction above (both evaluated in float64, then cast back)."""
    a = np.abs(x.astype(np.float64))
    out = np.empty_like(a)
    small = a <= 2.5
    s = a[small]
    # erf(s) = 2/sqrt(pi) * exp(-s^2) * sum_n (2 s^2)^n s / (2n+1)!!  (no cancellation)
    term, total, s2 = s.copy(), s.copy(), 2 * s * s
    for n in range(1, 56):
        term *= s2 / (2 * n + 1)
        total += term
    out[small] = (2 / math.sqrt(math.pi)) * np.exp(-s * s) * total
    b = a[~small]
    frac = b.copy()  # erfc(b) = exp(-b^2) / sqrt(pi) / (b + (1/2)/(b + 1/(b + (3/2)/(b + ...))))
    for k in range(70, 0, -1):
        frac = b + (k / 2) / frac
    out[~small] = 1 - np.exp(-b * b) / (math.sqrt(math.pi) * frac)
    return (np.sign(x) * out).astype(x.dtype)


class NumpyGenerator:
    """A NumPy ``Generator`` under the method names every backend's generator shares."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def uniform(self, shape: Any) -> Array:
        return self.rng.random(shape)

    def normal(self, shape: Any) -> Array:
        return self.rng.standard_normal(shape)

    def integers(self, low: int, high: int, shape: Any) -> Array:
        return self.rng.integers(low, high, shape)

    def gamma(self, alpha: Any, shape: Any) -> Array:
        return self.rng.gamma(alpha, 1.0, shape)

    def binomial(self, n: Any, p: Any, shape: Any) -> Array:
        return self.rng.binomial(n, p, shape)

    def beta(self, a: Any, b: Any, shape: Any) -> Array:
        return self.rng.beta(a, b, shape)

    def permutation(self, n: int) -> Array:
        return self.rng.permutation(n)


class NumpyRoutines:
    """The device routines of the NumPy backend (see ``Backend`` for each contract)."""

    is_host = True
    _rng: np.random.Generator

    def generator(self, key: tuple | None = None) -> NumpyGenerator:
        if key is None:
            return NumpyGenerator(self._rng)
        return NumpyGenerator(np.random.default_rng([k % 2**63 for k in key]))

    def scatter_add(self, out: Array, indices: Any, values: Array) -> None:
        np.add.at(out, indices, values)

    def scatter_add_rows(self, out: Array, ids: Array, values: Array) -> None:
        if out.ndim == 2 and numba_scatter.scatter_add_rows(out, ids, values):
            return  # one compiled loop over the rows (gpunet[numba])
        # np.add.at's 1-D fast path on element indices is about ten times faster than a
        # row-wise add.at.
        d = out.shape[-1]
        idx = ids.reshape(-1, 1).astype(np.intp) * d + np.arange(d)
        np.add.at(out.reshape(-1), idx.reshape(-1), values.reshape(-1))

    def bincount(self, idx: Array, size: int, weights: Array | None = None) -> Array:
        return np.bincount(idx, weights=weights, minlength=size)

    def argsort(self, x: Array, axis: int = -1) -> Array:
        return np.argsort(x, axis=axis, kind="stable")

    def erf(self, x: Array) -> Array:
        try:
            from scipy.special import erf
        except ImportError:
            return erf_numpy(x)
        return erf(x).astype(x.dtype)

    def ignore_overflow(self) -> Any:
        return np.errstate(over="ignore")

    def single_thread_blas(self) -> Any:
        # A time step's GEMM is small ((batch, units) x (units, gates*units)); OpenBLAS still
        # splits it over its threads, and on a busy machine the second thread is often not
        # scheduled in time: measured on 2 loaded cores, 60 us per GEMM on one thread
        # against 0.2-8 ms on two. The large products before and after the loop keep every
        # thread.
        return _one_blas_thread()

    def matmul_tn(self, a: Array, b: Array, out: Array | None = None) -> Array:
        # (b.T @ a).T when b has more columns: OpenBLAS threads the (in, 4 units) output
        # badly; on 2 cores (2560, 128).T @ (2560, 512) took 104 ms against 12 ms.
        if a.shape[1] < b.shape[1]:
            r = (b.T @ a).T
            if out is None:
                return np.ascontiguousarray(r)
            out[...] = r
            return out
        if out is None:
            return a.T @ b
        return np.matmul(a.T, b, out=out)
