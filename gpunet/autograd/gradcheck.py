"""Numerical gradient checks in float64 (central finite differences)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import Backend, numpy_backend


def numerical_grad(fn: Callable[..., Any], arrays: Sequence[np.ndarray], weights: np.ndarray,
                   eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of ``sum(fn(*arrays) * weights)`` with respect to each array."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            fp = float(np.sum(fn(*arrays) * weights))
            flat[i] = old - eps
            fm = float(np.sum(fn(*arrays) * weights))
            flat[i] = old
            gflat[i] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


def check_grad(fn: Callable[..., Tensor], inputs: Sequence[np.ndarray], *,
               backend: Backend | None = None, eps: float = 1e-6, atol: float = 1e-5,
               rtol: float = 1e-4, wrt: Sequence[int] | None = None, seed: int = 0) -> None:
    """Checks the analytic gradient of ``fn`` against finite differences, in float64.

    ``fn`` takes Tensors and returns a Tensor. The objective is ``sum(fn(...) * w)`` with a
    fixed random ``w``, so every output element is checked. Raises ``AssertionError`` with
    the largest mismatch when the gradients disagree.

    Args:
        fn: the function under test.
        inputs: float64 NumPy arrays (copied to ``backend``).
        backend: where to run (default: NumPy).
        wrt: indices of the inputs to check (default: all).
    """
    b = backend or numpy_backend()
    wrt = range(len(inputs)) if wrt is None else wrt
    host = [np.array(a, dtype=np.float64) for a in inputs]
    tensors = [Tensor(b.asarray(a), requires_grad=(i in wrt)) for i, a in enumerate(host)]
    out = fn(*tensors)
    w = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(b.asarray(w.astype(out.dtype)))

    def f_host(*arrs):
        ts = [Tensor(b.asarray(a)) for a in arrs]
        return b.to_numpy(fn(*ts).data)

    num = numerical_grad(f_host, host, w, eps)
    for i in wrt:
        got = tensors[i].grad
        got = np.zeros_like(host[i]) if got is None else b.to_numpy(got)
        exp = num[i]
        if got.shape != exp.shape:
            raise AssertionError(f"input {i}: gradient shape {got.shape} != {exp.shape}")
        if not np.allclose(got, exp, atol=atol, rtol=rtol):
            err = np.max(np.abs(got - exp))
            raise AssertionError(
                f"input {i}: analytic and numerical gradients differ (max abs err {err:.3e})\n"
                f"analytic={got}\nnumerical={exp}"
            )
