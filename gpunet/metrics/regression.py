"""Regression metrics: running means of the loss formulas (same numbers as
``gpunet.losses``), the root mean squared error and the (positive) cosine similarity.

Example:

>>> m = gpunet.metrics.RootMeanSquaredError()
>>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
>>> float(m.result())       # sqrt(mean of squared errors) = sqrt(0.25)
0.5
"""

from __future__ import annotations

from typing import Any

from gpunet import losses
from gpunet.metrics.base import (
    _KIND,
    Mean,
    array_metric,
    loss_values,
    to_array,
    wrapper_class,
)
from gpunet.registry import register


@register(_KIND, "mse", "MSE")
@array_metric
def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    """Per-sample ``mean((y_true - y_pred) ** 2)`` over the last axis."""
    return loss_values(losses.mean_squared_error, y_true, y_pred)


@register(_KIND, "mae", "MAE")
@array_metric
def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """Per-sample ``mean(|y_true - y_pred|)`` over the last axis."""
    return loss_values(losses.mean_absolute_error, y_true, y_pred)


@register(_KIND, "mape", "MAPE")
@array_metric
def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    """Per-sample ``100 * mean(|y_true - y_pred| / max(|y_true|, eps))``."""
    return loss_values(losses.mean_absolute_percentage_error, y_true, y_pred)


@register(_KIND, "msle", "MSLE")
@array_metric
def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Any:
    """Per-sample mean squared difference of ``log(max(x, eps) + 1)``."""
    return loss_values(losses.mean_squared_logarithmic_error, y_true, y_pred)


@register(_KIND)
@array_metric
def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """Per-sample ``sum(l2_normalize(y_true) * l2_normalize(y_pred))`` over ``axis``."""
    return -loss_values(losses.cosine_similarity, y_true, y_pred, axis=axis)


@register(_KIND, "logcosh")
@array_metric
def log_cosh(y_true: Any, y_pred: Any) -> Any:
    """Per-sample ``mean(log(cosh(y_pred - y_true)))`` over the last axis."""
    return loss_values(losses.log_cosh, y_true, y_pred)


def _check_axis(owner: str, kw: dict) -> None:
    losses._check_args(owner, kw)


_ND = ("name", "dtype")
MeanSquaredError = wrapper_class(
    "MeanSquaredError", mean_squared_error, _ND, {"name": "mean_squared_error"},
    "Running mean of the squared error.", module=__name__)
MeanAbsoluteError = wrapper_class(
    "MeanAbsoluteError", mean_absolute_error, _ND, {"name": "mean_absolute_error"},
    "Running mean of the absolute error.", module=__name__)
MeanAbsolutePercentageError = wrapper_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, _ND,
    {"name": "mean_absolute_percentage_error"},
    "Running mean of the absolute percentage error.", module=__name__)
MeanSquaredLogarithmicError = wrapper_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, _ND,
    {"name": "mean_squared_logarithmic_error"},
    "Running mean of the squared logarithmic error.", module=__name__)
CosineSimilarity = wrapper_class(
    "CosineSimilarity", cosine_similarity, (*_ND, "axis"),
    {"name": "cosine_similarity", "axis": -1},
    "Running mean of the cosine similarity (1 = same direction).", _check_axis,
    module=__name__)
LogCoshError = wrapper_class(
    "LogCoshError", log_cosh, _ND, {"name": "logcosh"},
    "Running mean of ``log(cosh(y_pred - y_true))``.", module=__name__)


@register(_KIND, "root_mean_squared_error")
class RootMeanSquaredError(Mean):
    """``sqrt`` of the running (weighted) mean of squared errors.

    Args:
        name: log key (default ``"root_mean_squared_error"``).
        dtype: kept for Keras compatibility.
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name, dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        p = to_array(y_pred)
        super().update_state(mean_squared_error(to_array(y_true, p), p), sample_weight)

    def result(self) -> Any:
        r = super().result()
        return r ** 0.5
