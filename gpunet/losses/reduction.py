"""Sample weights and the reductions (``sum_over_batch_size``, ``sum``, ``none``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.losses._common import (  # noqa: F401
    REDUCTIONS,
)
from gpunet.ops._utils import as_tensor


def _weights(sample_weight: Any, values: Tensor) -> Any:
    """Sample weights as a raw array broadcastable to ``values`` (``[N]`` → ``[N, 1, ...]``)."""
    b = backend_of(values.data)
    w = sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight
    w = b.asarray(w).astype(values.dtype, copy=False)
    while w.ndim > values.ndim and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    while w.ndim < values.ndim:
        w = w[..., None]
    try:
        np.broadcast_shapes(w.shape, values.shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {tuple(w.shape)} cannot be broadcast to the "
                         f"per-sample loss of shape {tuple(values.shape)}.") from None
    return w


def reduce_loss(values: Tensor, sample_weight: Any = None,
                reduction: str | None = "sum_over_batch_size", mask: Any = None) -> Tensor:
    """Weights, masks and reduces per-sample losses as Keras's ``reduce_weighted_values``.

    Args:
        values: per-sample losses (a Tensor; its ``_keras_mask`` is used when ``mask`` is None).
        sample_weight: optional weights, ``[N]`` or the shape of ``values``.
        reduction: ``"sum_over_batch_size"``/``"mean"`` (sum / number of elements, masked
            entries left out of the count), ``"sum"``, ``"mean_with_sample_weight"``
            (sum / sum of weights) or ``"none"``/``None``.
        mask: boolean array of valid entries.

    Returns:
        A scalar Tensor (or ``values`` weighted, for ``"none"``). Divisions by zero give 0.
    """
    if reduction == "auto":
        reduction = "sum_over_batch_size"
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                         f"Expected one of {REDUCTIONS}.")
    if not isinstance(values, Tensor):
        values = as_tensor(values)
    if mask is None:
        mask = values._keras_mask
    xp = backend_of(values.data).xp
    w = None if sample_weight is None else _weights(sample_weight, values)
    if mask is not None:
        m = (mask.data if isinstance(mask, Tensor) else mask).astype(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            valid = m.sum()
            m = m * xp.where(valid > 0, m.size / xp.where(valid > 0, valid, 1), 0)
        w = m if w is None else w * m
    if w is not None:
        values = values * w
    if reduction in (None, "none") or values.ndim == 0 or values.shape == (0,):
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and w is not None:
        sw = xp.broadcast_to(w, values.shape).sum()
        return total * xp.where(sw != 0, 1.0 / xp.where(sw != 0, sw, 1), 0).astype(total.dtype)
    return total / values.size if values.size else total


# -- Loss classes -----------------------------------------------------------------------------
