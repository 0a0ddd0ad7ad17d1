"""Ftrl and Lion updates over flat buffers."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.base import Array, Backend
from gpunet.backend.kernels._blocking import blocked_update
from gpunet.backend.kernels._spec import (
    SIGN_PREAMBLE,
    KernelSpec,
    define,
    device_scalar,
    launch,
    pointers,
)

_FTRL_PTRS, _READ_FTRL = pointers("lr", "l2")
_LR, _READ_LR = pointers("lr")


def _ftrl_spec(sqrt_power: bool) -> KernelSpec:
    pw = (lambda x: f"sqrt({x})") if sqrt_power else (lambda x: f"pow({x}, p)")
    return define(
        "ftrl_sqrt" if sqrt_power else "ftrl", f"T g, T p, T l1, T l2s, {_FTRL_PTRS}",
        "T w, T acc, T lin",
        _READ_FTRL + f"T acc1 = acc + g * g; T pa1 = {pw('acc1')}; T pa0 = {pw('acc')};"
        "lin += g + 2 * l2s * w - (pa1 - pa0) / lr * w;"
        "w = (min(max(lin, -l1), l1) - lin) / (pa1 / lr + 2 * l2); acc = acc1;")


_FTRL = {False: _ftrl_spec(False), True: _ftrl_spec(True)}
_LION = define("lion", f"T g, {_LR}, T b1, T b2", "T w, T m",
               _READ_LR + "w -= lr * gpunet_sign(b1 * m + (1 - b1) * g);"
               "m = b2 * m + (1 - b2) * g;", SIGN_PREAMBLE)


def _power(x: Array, p: float, out: Array) -> None:
    if p == 0.5:
        np.sqrt(x, out=out)
    else:
        np.power(x, p, out=out)


@blocked_update
def ftrl_update(b: Backend, w: Array, g: Array, n: Array, z: Array, tmp: Array, tmp2: Array,
                lr: Any, power: float, l1: float, l2: Any, l2_shrinkage: float) -> None:
    """FTRL-proximal, Keras form. ``power = -learning_rate_power``; ``l2`` already includes
    ``beta/(2·lr)``.

    ``n' = n + g²``; ``z += g + 2·l2s·w - (n'^p - n^p)/lr·w``; ``w = (clip(z, ±l1) - z)/(n'^p/lr
    + 2·l2)``; ``n = n'``.
    """
    if b.name == "numpy":
        lr, l2 = lr if type(lr) is float else float(lr), l2 if type(l2) is float else float(l2)
        _power(n, power, tmp)
        np.multiply(g, g, out=tmp2)
        n += tmp2
        _power(n, power, tmp2)
        np.subtract(tmp2, tmp, out=tmp)
        tmp /= lr
        tmp *= w
        z -= tmp
        z += g
        if l2_shrinkage:
            np.multiply(w, 2.0 * l2_shrinkage, out=tmp)
            z += tmp
        tmp2 /= lr
        tmp2 += 2.0 * l2
        np.clip(z, -l1, l1, out=tmp)
        tmp -= z
        np.divide(tmp, tmp2, out=w)
        return
    t = w.dtype.type
    launch(b, _FTRL[power == 0.5], g, t(power), t(l1), t(l2_shrinkage), device_scalar(b, lr),
           device_scalar(b, l2), w, n, z)


@blocked_update
def lion_update(b: Backend, w: Array, g: Array, m: Array, tmp: Array, tmp2: Array, lr: Any,
                beta_1: float, beta_2: float) -> None:
    """Lion: ``w -= lr·sign(b1·m + (1-b1)·g)``; ``m = b2·m + (1-b2)·g``.

    (NumPy's ``sign`` is an order of magnitude slower in place, hence ``tmp2``.)
    """
    if b.name == "numpy":
        lr = lr if type(lr) is float else float(lr)
        np.multiply(m, beta_1, out=tmp)
        np.multiply(g, 1.0 - beta_1, out=tmp2)
        tmp += tmp2
        np.sign(tmp, out=tmp2)
        tmp2 *= lr
        w -= tmp2
        m *= beta_2
        np.multiply(g, 1.0 - beta_2, out=tmp)
        m += tmp
        return
    t = w.dtype.type
    launch(b, _LION, g, device_scalar(b, lr), t(beta_1), t(beta_2), w, m)
