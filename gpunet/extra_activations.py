"""Keras 3 activations beyond the classic set (``celu``, ``glu``, the shrink family,
``squareplus``, ``sparse_plus``, ``sparse_sigmoid``, ``sparsemax``, ``threshold``,
``log_sigmoid``, ``hard_tanh``). ``gpunet.activations`` registers and re-exports them.

Elementwise ones are ``unary`` ops with hand-written derivatives; ``glu`` and ``sparsemax``
compose differentiable ``gpunet.ops``.
"""

from __future__ import annotations

from typing import Any

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops.math import unary


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """Continuously differentiable ELU: ``x`` if ``x >= 0`` else ``alpha·(exp(x/alpha) - 1)``.

    Args:
        x: input tensor.
        alpha: the negative saturation value (1.0); must not be 0.

    Returns:
        A tensor of the same shape.
    """
    if alpha == 0:
        raise ValueError("Argument `alpha` of celu must not be 0. Received: alpha=0")
    return unary(lambda xp, v: xp.where(v >= 0, v, alpha * xp.expm1(xp.minimum(v, 0) / alpha)),
                 lambda xp, v, y, g: g * xp.where(v >= 0, 1.0, y / alpha + 1.0))(x)


def hard_tanh(x: Any) -> Tensor:
    """``clip(x, -1, 1)``."""
    return unary(lambda xp, v: xp.clip(v, -1, 1),
                 lambda xp, v, y, g: g * ((v > -1) & (v < 1)))(x)


def hard_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    """``x`` if ``|x| > threshold`` else 0."""
    return unary(lambda xp, v: xp.where(xp.abs(v) > threshold, v, 0.0),
                 lambda xp, v, y, g: g * (xp.abs(v) > threshold))(x)


def soft_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return unary(lambda xp, v: xp.where(xp.abs(v) > threshold, v - threshold * xp.sign(v), 0.0),
                 lambda xp, v, y, g: g * (xp.abs(v) > threshold))(x)


def tanh_shrink(x: Any) -> Tensor:
    """``x - tanh(x)``."""
    return unary(lambda xp, v: v - xp.tanh(v),
                 lambda xp, v, y, g: g * xp.tanh(v) ** 2)(x)


def squareplus(x: Any, b: float = 4) -> Tensor:
    """``(x + sqrt(x² + b)) / 2``, a smooth ReLU.

    Args:
        x: input tensor.
        b: smoothness, ``>= 0`` (4).
    """
    if b < 0:
        raise ValueError(f"Argument `b` of squareplus must be >= 0. Received: b={b}")
    return unary(lambda xp, v: (v + xp.sqrt(v * v + b)) / 2,
                 lambda xp, v, y, g: g * (1 + v / xp.sqrt(v * v + b)) / 2)(x)


def sparse_plus(x: Any) -> Tensor:
    """0 for ``x <= -1``, ``(x + 1)²/4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``."""
    return unary(lambda xp, v: xp.where(v <= -1, 0.0, xp.where(v >= 1, v, (v + 1) ** 2 / 4)),
                 lambda xp, v, y, g: g * xp.where(v <= -1, 0.0,
                                                  xp.where(v >= 1, 1.0, (v + 1) / 2)))(x)


def sparse_sigmoid(x: Any) -> Tensor:
    """0 for ``x <= -1``, ``(x + 1)/2`` for ``-1 < x < 1``, 1 for ``x >= 1``."""
    return unary(lambda xp, v: xp.clip((v + 1) / 2, 0, 1),
                 lambda xp, v, y, g: g * ((v > -1) & (v < 1)) * 0.5)(x)


def threshold(x: Any, threshold: float, default_value: float) -> Tensor:
    """``x`` if ``x > threshold`` else ``default_value``.

    Args:
        x: input tensor.
        threshold: values at or below it are replaced.
        default_value: the replacement.
    """
    th, d = threshold, default_value
    return unary(lambda xp, v: xp.where(v > th, v, d), lambda xp, v, y, g: g * (v > th))(x)


def log_sigmoid(x: Any) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, computed stably."""
    return unary(lambda xp, v: xp.minimum(v, 0) - xp.log1p(xp.exp(-xp.abs(v))),
                 lambda xp, v, y, g: g * xp.exp(-xp.logaddexp(0, v)))(x)


def glu(x: Any, axis: int = -1) -> Tensor:
    """Gated linear unit: ``a · sigmoid(b)`` with ``x`` split in two halves ``a, b`` on ``axis``.

    Args:
        x: input tensor; its size along ``axis`` must be even.
        axis: the axis to split (-1).

    Returns:
        A tensor with half the size along ``axis``.
    """
    shape = tuple(x.shape)
    ax = axis % len(shape)
    n = shape[ax]
    if n % 2:
        raise ValueError(f"glu expects an even size along axis {axis}; received shape {shape}.")
    lead = (slice(None),) * ax
    a = ops.getitem(x, lead + (slice(0, n // 2),))
    b = ops.getitem(x, lead + (slice(n // 2, n),))
    return ops.multiply(a, ops.sigmoid(b))


def sparsemax(x: Any, axis: int = -1) -> Tensor:
    """Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of ``x`` onto the
    probability simplex along ``axis``, ``max(x - τ, 0)`` with ``τ`` such that the outputs sum
    to 1; many outputs are exactly 0.

    Args:
        x: input tensor.
        axis: the axis to normalise (-1).

    Returns:
        A tensor of the same shape whose slices along ``axis`` sum to 1.
    """
    data = x.data if isinstance(x, Tensor) else x
    xp = backend_of(data).xp
    z = xp.moveaxis(data, axis, -1)
    zs = -xp.sort(-z, axis=-1)
    k = xp.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    support = (1 + k * zs) > xp.cumsum(zs, axis=-1)
    k_max = support.sum(axis=-1, keepdims=True)
    tau = (xp.take_along_axis(xp.cumsum(zs, axis=-1), k_max - 1, axis=-1) - 1) / k_max
    mask = xp.moveaxis(z > tau, -1, axis).astype(data.dtype)
    count = xp.moveaxis(k_max.astype(data.dtype), -1, axis)
    # τ written as a differentiable function of x on the (piecewise constant) support, so the
    # gradient is sparsemax's Jacobian diag(s) - s·sᵀ/|S|
    tau_t = ops.divide(ops.subtract(ops.sum(ops.multiply(x, mask), axis=axis, keepdims=True),
                                    1.0), count)
    return ops.relu(ops.subtract(x, tau_t))
