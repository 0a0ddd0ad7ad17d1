"""Correlation metrics (Keras 3.6+): ``PearsonCorrelation`` and ``ConcordanceCorrelation``.

Both compute one coefficient per sample along ``axis`` (default: the last axis) and keep a
running (weighted) mean of them, as Keras's ``MeanMetricWrapper`` does.

Example:

>>> m = gpunet.metrics.PearsonCorrelation()
>>> m.update_state([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]])
>>> float(m.result())
0.9966991
"""

from __future__ import annotations

from typing import Any

from gpunet.backend import backend_of, epsilon
from gpunet.metrics.base import (
    _KIND,
    array_metric,
    as_float,
    squeeze_or_expand,
    to_array,
    wrapper_class,
)
from gpunet.registry import register


def _prep(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    p = as_float(to_array(y_pred))
    t = to_array(y_true, p).astype(p.dtype, copy=False)
    return squeeze_or_expand(t, p)


@register(_KIND)
@array_metric
def pearson_correlation(y_true: Any, y_pred: Any, axis: Any = -1) -> Any:
    """Per-sample Pearson coefficient along ``axis``.

    Formula: ``mean(z(y_true) * z(y_pred))`` with ``z(x) = (x - mean(x)) / (std(x) + eps)``
    (population standard deviation).

    Args:
        y_true: targets.
        y_pred: predictions, same shape.
        axis: the axis (or axes) along which the coefficient is computed.

    Returns:
        The coefficients, with ``axis`` reduced.
    """
    t, p = _prep(y_true, y_pred)
    eps = epsilon()
    t = t - t.mean(axis=axis, keepdims=True)
    p = p - p.mean(axis=axis, keepdims=True)
    t = t / (t.std(axis=axis, keepdims=True) + eps)
    p = p / (p.std(axis=axis, keepdims=True) + eps)
    return (t * p).mean(axis=axis)


@register(_KIND)
@array_metric
def concordance_correlation(y_true: Any, y_pred: Any, axis: Any = -1) -> Any:
    """Per-sample concordance coefficient (Lin's CCC) along ``axis``.

    Formula: ``mean(2 (y_true - mean(y_true)) (y_pred - mean(y_pred))) /
    (var(y_true) + var(y_pred) + (mean(y_true) - mean(y_pred))² + eps)`` (population
    variances).

    Args:
        y_true: targets.
        y_pred: predictions, same shape.
        axis: the axis (or axes) along which the coefficient is computed.

    Returns:
        The coefficients, with ``axis`` reduced.
    """
    t, p = _prep(y_true, y_pred)
    xp = backend_of(p).xp
    mt, mp = t.mean(axis=axis, keepdims=True), p.mean(axis=axis, keepdims=True)
    norm = t.var(axis=axis, keepdims=True) + p.var(axis=axis, keepdims=True) \
        + xp.square(mt - mp)
    return (2 * (t - mt) * (p - mp) / (norm + epsilon())).mean(axis=axis)


_ORDER = ("name", "dtype", "axis")
PearsonCorrelation = wrapper_class(
    "PearsonCorrelation", pearson_correlation, _ORDER,
    {"name": "pearson_correlation", "axis": -1},
    """Running (weighted) mean of the per-sample Pearson correlation coefficient.

    The coefficient measures the linear relationship between ``y_true`` and ``y_pred`` along
    ``axis``: 1 for a perfect positive, -1 for a perfect negative relationship.

    Args:
        name: log key (default ``"pearson_correlation"``).
        dtype: kept for Keras compatibility.
        axis: the axis (or axes) along which the coefficient is computed (default -1).

    Example:

    >>> m = PearsonCorrelation(axis=-1)
    >>> m.update_state([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]])
    >>> float(m.result())
    0.9966991
    """, module=__name__)
ConcordanceCorrelation = wrapper_class(
    "ConcordanceCorrelation", concordance_correlation, _ORDER,
    {"name": "concordance_correlation", "axis": -1},
    """Running (weighted) mean of the per-sample concordance correlation coefficient.

    Unlike Pearson's coefficient, it also penalises a shift or scale difference between
    ``y_true`` and ``y_pred`` (1 only when they agree exactly).

    Args:
        name: log key (default ``"concordance_correlation"``).
        dtype: kept for Keras compatibility.
        axis: the axis (or axes) along which the coefficient is computed (default -1).

    Example:

    >>> m = ConcordanceCorrelation(axis=-1)
    >>> m.update_state([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]])
    >>> float(m.result())
    0.9816317
    """, module=__name__)
