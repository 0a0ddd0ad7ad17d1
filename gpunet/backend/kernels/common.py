"""Passes shared by every optimizer: decoupled weight decay and the weights' moving average."""

from __future__ import annotations

import numpy as np

from gpunet.backend.base import Array, Backend
from gpunet.backend.kernels._blocking import blocked_update
from gpunet.backend.kernels._spec import define, launch

_EMA = define("ema", "T w, T mu", "T avg", "avg = mu * avg + (1 - mu) * w;")
_DECAY_MASKED = define("decay_masked", "T mask, T a", "T w", "w -= a * mask * w;")


@blocked_update
def ema_update(b: Backend, avg: Array, w: Array, momentum: float) -> None:
    """``avg = momentum·avg + (1-momentum)·w`` (``avg = w`` when ``momentum`` is 0)."""
    if momentum == 0:
        avg[...] = w
        return
    if b.name == "numpy":
        avg -= w
        avg *= momentum
        avg += w
        return
    launch(b, _EMA, w, w.dtype.type(momentum), avg)


@blocked_update
def weight_decay_update(b: Backend, w: Array, rate: float, mask: Array | None = None,
                        tmp: Array | None = None) -> None:
    """Decoupled weight decay ``w -= rate·w`` (``rate = lr·weight_decay``).

    ``mask`` (1 where decayed, 0 where excluded) restricts it to some variables; NumPy then
    needs the scratch buffer ``tmp``.
    """
    if mask is None:
        w *= 1.0 - rate
        return
    if b.name == "numpy":
        np.multiply(w, mask, out=tmp)
        tmp *= rate
        w -= tmp
        return
    launch(b, _DECAY_MASKED, mask, w.dtype.type(rate), w)
