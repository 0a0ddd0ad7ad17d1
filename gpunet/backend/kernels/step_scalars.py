"""Per-step scalars of the Adam family computed on a GPU in one launch each.

In device mode an optimizer's per-step values (Adam's bias-corrected rate, Nadam's momentum
coefficients) are functions of device scalars (the update number ``t``, the learning rate,
Nadam's ``u_product``). Computed with array operations they cost one kernel launch per
arithmetic operation (nine for Adam's rate, about twenty for Nadam); these kernels compute
each optimizer's values in float64 in one launch, from and into one-element float64 arrays
that the update kernels then read through their pointers. The formulas and their order of
operations are the host path's (``gpunet/optimizers``); host backends use that path itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend.base import Array, Backend
from gpunet.backend.kernels._spec import define, device_scalar, launch

_SCALARS = ("b1", "b2")
_ADAM_ALPHA = define("adam_alpha", "raw float64 lr_, raw float64 t_, float64 b1, float64 b2",
                     "float64 alpha",
                     "alpha = lr_[0] * sqrt(1.0 - pow(b2, t_[0])) / (1.0 - pow(b1, t_[0]));",
                     scalars=_SCALARS)
_ADAMAX_ALPHA = define("adamax_alpha", "raw float64 lr_, raw float64 t_, float64 b1",
                       "float64 alpha", "alpha = lr_[0] / (1 - pow(b1, t_[0]));",
                       scalars=("b1",))


def _mu(t: str) -> str:
    return f"(b1 * (1.0 - 0.5 * pow(0.96, {t})))"


_NADAM_COEFFICIENTS = define(
    "nadam_coefficients", "raw float64 t_, float64 b1, float64 b2",
    "float64 prod, float64 c1, float64 c2, float64 vs",
    f"prod = prod * {_mu('t_[0]')};"
    f"c1 = {_mu('t_[0] + 1.0')} / (1.0 - prod * {_mu('t_[0] + 1.0')});"
    f"c2 = (1.0 - {_mu('t_[0]')}) / (1.0 - prod);"
    "vs = 1.0 / (1.0 - pow(b2, t_[0]));", scalars=_SCALARS)


def _one(b: Backend) -> Array:
    return b.xp.empty(1, dtype=np.float64)


def adam_alpha(b: Backend, lr: Any, t: Any, beta_1: float, beta_2: float) -> Array:
    """``lr·√(1-β2^t)/(1-β1^t)`` as a one-element float64 array of ``b`` (one launch).

    Args:
        b: a device backend.
        lr: the learning rate, a device scalar.
        t: the update number (float64), a device scalar.
        beta_1, beta_2: Adam's decays.

    Returns:
        The bias-corrected rate ``alpha`` of ``adam_update``.
    """
    out = _one(b)
    launch(b, _ADAM_ALPHA, device_scalar(b, lr), device_scalar(b, t), np.float64(beta_1),
           np.float64(beta_2), out)
    return out


def adamax_alpha(b: Backend, lr: Any, t: Any, beta_1: float) -> Array:
    """``lr/(1-β1^t)`` (Adamax's rate) as a one-element float64 array of ``b``."""
    out = _one(b)
    launch(b, _ADAMAX_ALPHA, device_scalar(b, lr), device_scalar(b, t), np.float64(beta_1),
           out)
    return out


def nadam_coefficients(b: Backend, u_product: Array, t: Any, beta_1: float,
                       beta_2: float) -> tuple[Array, Array, Array]:
    """Nadam's step: ``u_product *= μ_t`` in place, then ``(c1, c2, vs)`` of ``nadam_update``
    as one-element float64 arrays of ``b`` (one launch).

    Args:
        b: a device backend.
        u_product: the running product of the momentum schedule (a 0-d float64 array).
        t: the update number (float64), a device scalar.
        beta_1, beta_2: Nadam's decays.

    Returns:
        ``c1 = μ_{t+1}/(1-Π_t·μ_{t+1})``, ``c2 = (1-μ_t)/(1-Π_t)``, ``vs = 1/(1-β2^t)``.
    """
    c1, c2, vs = _one(b), _one(b), _one(b)
    launch(b, _NADAM_COEFFICIENTS, device_scalar(b, t), np.float64(beta_1), np.float64(beta_2),
           u_product.reshape(1), c1, c2, vs)
    return c1, c2, vs


# -- LossScaleOptimizer: unscale the gradients, then grow/shrink the scale, on the device -----
WHERE_PREAMBLE = ("template <typename T> __device__ T gpunet_where(bool c, T a, T b) "
                  "{ return c ? a : b; }")
_UNSCALE = define("loss_unscale", "raw float64 scale_", "T g", "g = g / T(scale_[0]);",
                  scalars=(), group="loss_scale")
_SCALE_UPDATE = define(
    "loss_scale_update", "raw bool ok_, int64 growth", "float64 scale, int64 counter",
    "scale = gpunet_where(ok_[0], gpunet_where(counter == growth - 1, scale * 2.0, scale),"
    " scale * 0.5);"
    "counter = gpunet_where(ok_[0], gpunet_where(counter == growth - 1, counter - counter,"
    " counter + 1), counter - counter);",
    WHERE_PREAMBLE, scalars=("growth",), group="loss_scale")


def loss_unscale(b: Backend, g: Array, scale: Array) -> None:
    """``g /= scale`` in place, the device scalar ``scale`` rounded to ``g``'s dtype (as a
    Python float would be): one launch."""
    launch(b, _UNSCALE, device_scalar(b, scale), g)


def loss_scale_update(b: Backend, ok: Array, scale: Array, counter: Array, growth: int) -> None:
    """Keras 3's dynamic loss scaling after a step, in place and in one launch: where ``ok``
    (the gradients were finite) the counter counts up and the scale doubles when it reaches
    ``growth`` (counter back to 0); elsewhere the scale halves and the counter resets.

    Args:
        b: a device backend.
        ok: 0-d bool device array.
        scale: 0-d float64 device array, updated in place.
        counter: 0-d int64 device array, updated in place.
        growth: ``dynamic_growth_steps``.
    """
    launch(b, _SCALE_UPDATE, ok.reshape(1), np.int64(growth), scale.reshape(1),
           counter.reshape(1))
