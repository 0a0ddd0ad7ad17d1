"""SGD updates (plain, momentum, Nesterov) over flat buffers."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.base import Array, Backend
from gpunet.backend.kernels._blocking import blocked, blocked_update
from gpunet.backend.kernels._spec import define, device_scalar, launch, pointers

_LR, _READ_LR = pointers("lr")
_SGD = define("sgd", f"T g, {_LR}", "T w", _READ_LR + "w -= lr * g;")
_MOMENTUM = define("sgd_momentum", f"T g, {_LR}, T mu", "T w, T v",
                   _READ_LR + "v = mu * v - lr * g; w += v;")
_NESTEROV = define("sgd_nesterov", f"T g, {_LR}, T mu", "T w, T v",
                   _READ_LR + "v = mu * v - lr * g; w += mu * v - lr * g;")


@blocked_update
def sgd_update(b: Backend, w: Array, g: Array, lr: Any, tmp: Array | None = None) -> None:
    """``w -= lr * g``.

    ``lr`` (here and in every update of this package) is a host float or a device scalar
    (0-d float64 array) that the CuPy kernel reads through a pointer; the NumPy paths take
    its value as a Python float (which combines with a float32 buffer in float32).
    """
    if b.name == "numpy":
        if tmp is None:
            tmp = np.empty_like(w)
        np.multiply(g, lr if type(lr) is float else float(lr), out=tmp)
        w -= tmp
        return
    launch(b, _SGD, g, device_scalar(b, lr), w)


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


def sgd_momentum_update(b: Backend, w: Array, g: Array, v: Array, tmp: Array, lr: Any,
                        momentum: float, nesterov: bool) -> None:
    """Keras: ``v = m*v - lr*g``; ``w += v`` (or ``w += m*v - lr*g`` with Nesterov)."""
    if b.name == "numpy":
        _momentum_numpy(w, g, v, tmp, lr if type(lr) is float else float(lr), momentum, nesterov)
        return
    launch(b, _NESTEROV if nesterov else _MOMENTUM, g, device_scalar(b, lr),
           w.dtype.type(momentum), w, v)
