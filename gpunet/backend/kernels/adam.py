"""Adam-family updates (Adam, AMSGrad, Adamax, Nadam) over flat buffers."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.base import Array, Backend
from gpunet.backend.kernels import numba_optim
from gpunet.backend.kernels._blocking import blocked, blocked_update
from gpunet.backend.kernels._spec import define, device_scalar, launch, pointers

_MOMENTS = "m += (1 - b1) * (g - m); v += (1 - b2) * (g * g - v);"
_ALPHA, _READ_ALPHA = pointers("alpha")
_ADAM = define("adam", f"T g, {_ALPHA}, T b1, T b2, T eps", "T w, T m, T v",
               _READ_ALPHA + _MOMENTS + "w -= alpha * m / (sqrt(v) + eps);")
_AMSGRAD = define("amsgrad", f"T g, {_ALPHA}, T b1, T b2, T eps", "T w, T m, T v, T vh",
                  _READ_ALPHA + _MOMENTS + "vh = max(vh, v); w -= alpha * m / (sqrt(vh) + eps);")
_ADAMAX = define("adamax", f"T g, {_ALPHA}, T b1, T b2, T eps", "T w, T m, T u",
                 _READ_ALPHA + "m += (1 - b1) * (g - m); u = max(b2 * u, fabs(g));"
                 "w -= alpha * m / (u + eps);")
_NADAM_PTRS, _READ_NADAM = pointers("lr", "c1", "c2", "vs")
_NADAM = define("nadam", f"T g, T b1, T b2, T eps, {_NADAM_PTRS}", "T w, T m, T v",
                _READ_NADAM + _MOMENTS + "w -= lr * (c1 * m + c2 * g) / (sqrt(v * vs) + eps);")


def _moments(g: Array, m: Array, v: Array, tmp: Array, beta_1: float, beta_2: float) -> None:
    np.subtract(g, m, out=tmp)
    tmp *= 1.0 - beta_1
    m += tmp
    np.multiply(g, g, out=tmp)
    tmp -= v
    tmp *= 1.0 - beta_2
    v += tmp


@blocked
def _adam_numpy(w, g, m, v, tmp, alpha, beta_1, beta_2, eps, vhat, backup=None) -> Any:
    dt = w.dtype
    if backup is not None:  # the fused form only (see ``adam_backup_supported``)
        t = dt.type
        return numba_optim.adam_backup_step(dt)(
            w, g, m, v, backup, t(alpha), t(1.0 - beta_1), t(1.0 - beta_2), t(eps))
    fused = None
    if vhat is None and g.dtype == dt == m.dtype == v.dtype and w.ndim == 1:
        fused = numba_optim.adam_step(dt)  # one pass, the same bits (Numba), or None
    if fused is not None:
        t = dt.type
        fused(w, g, m, v, t(alpha), t(1.0 - beta_1), t(1.0 - beta_2), t(eps))
        return
    _moments(g, m, v, tmp, beta_1, beta_2)
    den = v
    if vhat is not None:
        np.maximum(vhat, v, out=vhat)
        den = vhat
    np.sqrt(den, out=tmp)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= alpha
    w -= tmp


def adam_backup_supported(b: Backend, w: Array, g: Array, m: Array, v: Array) -> bool:
    """Whether ``adam_update`` can take a ``backup`` for these buffers: NumPy with Numba,
    one float32/float64 dtype, 1-D (the fused kernel of ``numba_optim.adam_backup_step``)."""
    return (b.name == "numpy" and w.ndim == 1 and g.dtype == w.dtype == m.dtype == v.dtype
            and adam_backup_kernel_on(w.dtype))


def adam_backup_kernel_on(dtype: Any) -> bool:
    """Whether the fused kernel runs now for ``dtype`` (Numba, not off by ``GPUNET_NUMBA``)."""
    return numba_optim.adam_backup_step(dtype) is not None


def adam_update(b: Backend, w: Array, g: Array, m: Array, v: Array, tmp: Array, alpha: Any,
                beta_1: float, beta_2: float, eps: float, vhat: Array | None = None,
                backup: Array | None = None) -> bool | None:
    """Keras 3 Adam: ``m += (1-b1)(g-m)``; ``v += (1-b2)(g²-v)``; ``w -= alpha·m/(√v+eps)``.

    ``alpha`` already holds the bias correction ``lr·√(1-b2^t)/(1-b1^t)``; with ``vhat``
    (AMSGrad) the running maximum of ``v`` replaces ``v`` in the denominator. With
    ``backup`` (only where ``adam_backup_supported``; not with ``vhat``) the weights before
    the update are written there in the same pass, and the result says whether any new
    weight is not finite (what ``fit``'s guard would otherwise copy and check itself).
    """
    if b.name == "numpy":
        return _adam_numpy(w, g, m, v, tmp, alpha if type(alpha) is float else float(alpha),
                           beta_1, beta_2, eps, vhat, backup)
    if backup is not None:
        raise ValueError("adam_update: `backup` needs the NumPy backend with Numba.")
    t = w.dtype.type
    args = (g, device_scalar(b, alpha), t(beta_1), t(beta_2), t(eps), w, m, v)
    if vhat is None:
        launch(b, _ADAM, *args)
    else:
        launch(b, _AMSGRAD, *args, vhat)


@blocked_update
def adamax_update(b: Backend, w: Array, g: Array, m: Array, u: Array, tmp: Array, alpha: Any,
                  beta_1: float, beta_2: float, eps: float) -> None:
    """Adamax: ``m += (1-b1)(g-m)``; ``u = max(b2·u, |g|)``; ``w -= alpha·m/(u+eps)``.

    ``alpha`` is ``lr/(1-b1^t)``.
    """
    if b.name == "numpy":
        alpha = alpha if type(alpha) is float else float(alpha)
        np.subtract(g, m, out=tmp)
        tmp *= 1.0 - beta_1
        m += tmp
        u *= beta_2
        np.abs(g, out=tmp)
        np.maximum(u, tmp, out=u)
        np.add(u, eps, out=tmp)
        np.divide(m, tmp, out=tmp)
        tmp *= alpha
        w -= tmp
        return
    t = w.dtype.type
    launch(b, _ADAMAX, g, device_scalar(b, alpha), t(beta_1), t(beta_2), t(eps), w, m, u)


@blocked_update
def nadam_update(b: Backend, w: Array, g: Array, m: Array, v: Array, tmp: Array, tmp2: Array,
                 lr: Any, beta_1: float, beta_2: float, eps: float, c1: Any, c2: Any,
                 vs: Any) -> None:
    """Nadam: Adam moments, then ``w -= lr·(c1·m + c2·g)/(√(v·vs) + eps)``.

    ``c1 = μ_{t+1}/(1-Π_t·μ_{t+1})``, ``c2 = (1-μ_t)/(1-Π_t)`` and ``vs = 1/(1-b2^t)`` come
    from the optimizer's momentum schedule.
    """
    if b.name == "numpy":
        lr, c1, c2, vs = (x if type(x) is float else float(x) for x in (lr, c1, c2, vs))
        _moments(g, m, v, tmp, beta_1, beta_2)
        np.multiply(m, c1, out=tmp2)
        np.multiply(g, c2, out=tmp)
        tmp2 += tmp
        np.multiply(v, vs, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += eps
        np.divide(tmp2, tmp, out=tmp)
        tmp *= lr
        w -= tmp
        return
    t = w.dtype.type
    d = device_scalar
    launch(b, _NADAM, g, t(beta_1), t(beta_2), t(eps), d(b, lr), d(b, c1), d(b, c2), d(b, vs),
           w, m, v)
