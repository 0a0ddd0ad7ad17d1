"""SGD updates (plain, momentum, Nesterov) over flat buffers."""

from __future__ import annotations

import numpy as np

from gpunet.backend.base import Array, Backend
from gpunet.backend.kernels._blocking import blocked, blocked_update
from gpunet.backend.kernels._spec import define, launch

_SGD = define("sgd", "T g, T lr", "T w", "w -= lr * g;")
_MOMENTUM = define("sgd_momentum", "T g, T lr, T mu", "T w, T v",
                   "v = mu * v - lr * g; w += v;")
_NESTEROV = define("sgd_nesterov", "T g, T lr, T mu", "T w, T v",
                   "v = mu * v - lr * g; w += mu * v - lr * g;")


@blocked_update
def sgd_update(b: Backend, w: Array, g: Array, lr: float, tmp: Array | None = None) -> None:
    """``w -= lr * g``."""
    if b.name == "numpy":
        if tmp is None:
            tmp = np.empty_like(w)
        np.multiply(g, lr, out=tmp)
        w -= tmp
        return
    launch(b, _SGD, g, w.dtype.type(lr), w)


@blocked
def _momentum_numpy(w, g, v, tmp, lr, momentum, nesterov) -> None:
    v *= momentum
    np.multiply(g, lr, out=tmp)
    v -= tmp
    if nesterov:
        w -= tmp
        np.multiply(v, momentum, out=tmp)
        w += tmp
    else:
        w += v


def sgd_momentum_update(b: Backend, w: Array, g: Array, v: Array, tmp: Array, lr: float,
                        momentum: float, nesterov: bool) -> None:
    """Keras: ``v = m*v - lr*g``; ``w += v`` (or ``w += m*v - lr*g`` with Nesterov)."""
    if b.name == "numpy":
        _momentum_numpy(w, g, v, tmp, lr, momentum, nesterov)
        return
    t = w.dtype.type
    launch(b, _NESTEROV if nesterov else _MOMENTUM, g, t(lr), t(momentum), w, v)
