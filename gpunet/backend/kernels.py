"""Fused in-place optimizer updates over flat buffers: NumPy ``out=`` ufuncs or one CuPy kernel.

Each function updates ``w`` (and its slots) in place. On NumPy a scratch buffer ``tmp`` of
the same size avoids temporaries; on CuPy the whole update is one elementwise kernel launch.
"""

from __future__ import annotations

import numpy as np

from gpunet.backend.base import Array, Backend


def sgd_update(b: Backend, w: Array, g: Array, lr: float) -> None:
    """``w -= lr * g``."""
    if b.name == "numpy":
        tmp = np.multiply(g, lr)
        w -= tmp
        return
    k = b.kernel("sgd", lambda cp: cp.ElementwiseKernel(
        "T g, T lr", "T w", "w -= lr * g", "gpunet_sgd"))
    k(g, w.dtype.type(lr), w)


def sgd_momentum_update(b: Backend, w: Array, g: Array, v: Array, tmp: Array, lr: float,
                        momentum: float, nesterov: bool) -> None:
    """Keras: ``v = m*v - lr*g``; ``w += v`` (or ``w += m*v - lr*g`` with Nesterov)."""
    if b.name == "numpy":
        v *= momentum
        np.multiply(g, lr, out=tmp)
        v -= tmp
        if nesterov:
            np.multiply(v, momentum, out=tmp)
            w += tmp
            np.multiply(g, lr, out=tmp)
            w -= tmp
        else:
            w += v
        return
    k = b.kernel("sgd_momentum", lambda cp: cp.ElementwiseKernel(
        "T g, T lr, T mu, bool nesterov", "T w, T v",
        "v = mu * v - lr * g; w += nesterov ? (mu * v - lr * g) : v;", "gpunet_sgd_momentum"))
    t = w.dtype.type
    k(g, t(lr), t(momentum), nesterov, w, v)


def adam_update(b: Backend, w: Array, g: Array, m: Array, v: Array, tmp: Array, alpha: float,
                beta_1: float, beta_2: float, eps: float, vhat: Array | None = None) -> None:
    """Keras 3 Adam: ``m += (1-b1)(g-m)``; ``v += (1-b2)(g²-v)``; ``w -= alpha·m/(√v+eps)``.

    ``alpha`` already holds the bias correction ``lr·√(1-b2^t)/(1-b1^t)``; with ``vhat``
    (AMSGrad) the running maximum of ``v`` replaces ``v`` in the denominator.
    """
    if b.name == "numpy":
        np.subtract(g, m, out=tmp)
        tmp *= 1.0 - beta_1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1.0 - beta_2
        v += tmp
        den = v
        if vhat is not None:
            np.maximum(vhat, v, out=vhat)
            den = vhat
        np.sqrt(den, out=tmp)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= alpha
        w -= tmp
        return
    t = w.dtype.type
    if vhat is None:
        k = b.kernel("adam", lambda cp: cp.ElementwiseKernel(
            "T g, T alpha, T b1, T b2, T eps", "T w, T m, T v",
            "m += (1 - b1) * (g - m); v += (1 - b2) * (g * g - v);"
            "w -= alpha * m / (sqrt(v) + eps);", "gpunet_adam"))
        k(g, t(alpha), t(beta_1), t(beta_2), t(eps), w, m, v)
    else:
        k = b.kernel("amsgrad", lambda cp: cp.ElementwiseKernel(
            "T g, T alpha, T b1, T b2, T eps", "T w, T m, T v, T vh",
            "m += (1 - b1) * (g - m); v += (1 - b2) * (g * g - v); vh = max(vh, v);"
            "w -= alpha * m / (sqrt(vh) + eps);", "gpunet_amsgrad"))
        k(g, t(alpha), t(beta_1), t(beta_2), t(eps), w, m, v, vhat)
