"""Accumulator updates (RMSprop, Adagrad, Adadelta) over flat buffers; ε inside the root."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.base import Array, Backend
from gpunet.backend.kernels._blocking import blocked_update
from gpunet.backend.kernels._spec import (
    KernelSpec,
    define,
    device_scalar,
    launch,
    pointers,
)

_LR, _READ_LR = pointers("lr")


def _rmsprop_spec(centered: bool, momentum: bool) -> KernelSpec:
    ins = f"T g, {_LR}, T rho, T eps" + (", T mu" if momentum else "")
    outs = "T w, T a" + (", T mom" if momentum else "") + (", T mg" if centered else "")
    op = _READ_LR + "a = rho * a + (1 - rho) * g * g;"
    if centered:
        op += "mg = rho * mg + (1 - rho) * g; T den = a - mg * mg + eps;"
    else:
        op += "T den = a + eps;"
    op += "T inc = lr * g / sqrt(den);"
    op += "mom = mu * mom + inc; w -= mom;" if momentum else "w -= inc;"
    return define(f"rmsprop{'_centered' * centered}{'_momentum' * momentum}", ins, outs, op)


_RMSPROP = {(c, m): _rmsprop_spec(c, m) for c in (False, True) for m in (False, True)}
_ADAGRAD = define("adagrad", f"T g, {_LR}, T eps", "T w, T acc",
                  _READ_LR + "acc += g * g; w -= lr * g / sqrt(acc + eps);")
_ADADELTA = define("adadelta", f"T g, {_LR}, T rho, T eps", "T w, T eg, T ex",
                   _READ_LR + "eg = rho * eg + (1 - rho) * g * g;"
                   "T d = sqrt(ex + eps) * g / sqrt(eg + eps);"
                   "ex = rho * ex + (1 - rho) * d * d; w -= lr * d;")


@blocked_update
def rmsprop_update(b: Backend, w: Array, g: Array, a: Array, tmp: Array, lr: Any, rho: float,
                   eps: float, momentum: float = 0.0, mom: Array | None = None,
                   mg: Array | None = None) -> None:
    """RMSprop: ``a = ρa + (1-ρ)g²``; ``Δ = lr·g/√(a [- mg²] + ε)``; ``w -= Δ`` (or via momentum).

    ``mom`` (with ``momentum``) holds the momentum slot, ``mg`` (centered) the average gradient.
    """
    if b.name == "numpy":
        lr = lr if type(lr) is float else float(lr)
        a *= rho
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - rho
        a += tmp
        if mg is not None:
            mg *= rho
            np.multiply(g, 1.0 - rho, out=tmp)
            mg += tmp
            np.multiply(mg, mg, out=tmp)
            np.subtract(a, tmp, out=tmp)
            tmp += eps
        else:
            np.add(a, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        if mom is not None:
            mom *= momentum
            mom += tmp
            w -= mom
        else:
            w -= tmp
        return
    t = w.dtype.type
    spec = _RMSPROP[(mg is not None, mom is not None)]
    ins = (g, device_scalar(b, lr), t(rho), t(eps)) + ((t(momentum),) if mom is not None else ())
    outs = (w, a) + ((mom,) if mom is not None else ()) + ((mg,) if mg is not None else ())
    launch(b, spec, *ins, *outs)


@blocked_update
def adagrad_update(b: Backend, w: Array, g: Array, acc: Array, tmp: Array, lr: Any,
                   eps: float) -> None:
    """Adagrad: ``acc += g²``; ``w -= lr·g/√(acc + ε)``."""
    if b.name == "numpy":
        lr = lr if type(lr) is float else float(lr)
        np.multiply(g, g, out=tmp)
        acc += tmp
        np.add(acc, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        w -= tmp
        return
    launch(b, _ADAGRAD, g, device_scalar(b, lr), w.dtype.type(eps), w, acc)


@blocked_update
def adadelta_update(b: Backend, w: Array, g: Array, eg: Array, ex: Array, tmp: Array,
                    tmp2: Array, lr: Any, rho: float, eps: float) -> None:
    """Adadelta: ``Eg = ρEg + (1-ρ)g²``; ``d = √(Ex+ε)·g/√(Eg+ε)``; ``Ex = ρEx + (1-ρ)d²``;
    ``w -= lr·d``."""
    if b.name == "numpy":
        lr = lr if type(lr) is float else float(lr)
        eg *= rho
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - rho
        eg += tmp
        np.add(ex, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp *= g
        np.add(eg, eps, out=tmp2)
        np.sqrt(tmp2, out=tmp2)
        tmp /= tmp2
        ex *= rho
        np.multiply(tmp, tmp, out=tmp2)
        tmp2 *= 1.0 - rho
        ex += tmp2
        tmp *= lr
        w -= tmp
        return
    t = w.dtype.type
    launch(b, _ADADELTA, g, device_scalar(b, lr), t(rho), t(eps), w, eg, ex)
