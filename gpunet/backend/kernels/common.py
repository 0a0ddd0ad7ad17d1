"""Passes shared by every optimizer: decoupled weight decay and the weights' moving average."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.base import Array, Backend
from gpunet.backend.kernels._blocking import blocked_update
from gpunet.backend.kernels._spec import define, device_scalar, launch, pointers

_MU, _READ_MU = pointers("mu")
_EMA = define("ema", f"T w, {_MU}", "T avg", _READ_MU + "avg = mu * avg + (1 - mu) * w;")
_RATE, _READ_RATE = pointers("a")
_DECAY = define("decay", _RATE, "T w", "T keep = T(1.0 - a_[0]); w *= keep;", scalars=())
_DECAY_MASKED = define("decay_masked", f"T mask, {_RATE}", "T w",
                       _READ_RATE + "w -= a * mask * w;")


@blocked_update
def ema_update(b: Backend, avg: Array, w: Array, momentum: Any) -> None:
    """``avg = momentum·avg + (1-momentum)·w`` (``avg = w`` when ``momentum`` is 0).

    A device-scalar ``momentum`` (0 at the first step) always runs the kernel, whose
    ``0·avg + 1·w`` is ``w`` exactly.
    """
    if b.name == "numpy":
        momentum = momentum if type(momentum) is float else float(momentum)
        if momentum == 0:
            avg[...] = w
            return
        avg -= w
        avg *= momentum
        avg += w
        return
    if isinstance(momentum, (int, float)) and momentum == 0:
        avg[...] = w
        return
    launch(b, _EMA, w, device_scalar(b, momentum), avg)


@blocked_update
def weight_decay_update(b: Backend, w: Array, rate: Any, mask: Array | None = None,
                        tmp: Array | None = None) -> None:
    """Decoupled weight decay ``w -= rate·w`` (``rate = lr·weight_decay``).

    ``mask`` (1 where decayed, 0 where excluded) restricts it to some variables; NumPy then
    needs the scratch buffer ``tmp``.
    """
    if b.name == "numpy":
        rate = rate if type(rate) is float else float(rate)
        if mask is None:
            w *= 1.0 - rate
            return
        np.multiply(w, mask, out=tmp)
        tmp *= rate
        w -= tmp
        return
    if mask is None:
        launch(b, _DECAY, device_scalar(b, rate), w)
        return
    launch(b, _DECAY_MASKED, mask, device_scalar(b, rate), w)
