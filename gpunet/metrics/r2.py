"""The coefficient of determination, ``R2Score``, from per-output sums kept on the device.

Example:

>>> m = gpunet.metrics.R2Score()
>>> m.update_state(np.array([[1], [4], [3]]), np.array([[2], [4], [4]]))
>>> float(m.result())       # 1 - 2 / (26 - 64 / 3)
0.5714286
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gpunet.backend import backend_of
from gpunet.metrics.base import _KIND, ACC, Metric, as_float, squeeze_or_expand, to_array
from gpunet.registry import register

_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


@register(_KIND, "r2_score")
class R2Score(Metric):
    """R² score ``1 - SS_res / SS_tot`` per output column, optionally aggregated/adjusted.

    ``SS_res = Σ w (y_true - y_pred)²`` and ``SS_tot = Σ w (y_true - ȳ)²`` (``ȳ`` the weighted
    mean of ``y_true``) are accumulated over every batch seen. A column with ``SS_tot = 0``
    and ``SS_res > 0`` scores 0 (Keras replaces the infinite ratio by 0).

    Args:
        class_aggregation: how the per-column scores are combined: ``"uniform_average"``
            (default, plain mean), ``"variance_weighted_average"`` (weighted by ``SS_tot``)
            or ``None`` (one score per column); scikit-learn's ``multioutput``.
        num_regressors: the number of independent regressors ``p`` for the adjusted score
            ``1 - (1 - R²)(n - 1) / (n - p - 1)``; 0 (default) gives the plain R². As in
            Keras, ``n`` counts the elements of ``y_true`` seen (rows × columns), and with
            ``p >= n - 1`` a warning is issued and the plain R² returned.
        name: log key (default ``"r2_score"``).
        dtype: kept for Keras compatibility.

    Input shape:
        ``y_true`` and ``y_pred`` of shape ``(batch_size, output_dim)``; ``sample_weight`` of
        shape ``(batch_size,)`` or broadcastable to ``y_true``.
    """

    def __init__(self, class_aggregation: str | None = "uniform_average",
                 num_regressors: int = 0, name: str = "r2_score", dtype: Any = None) -> None:
        super().__init__(name, dtype)
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError("R2Score: invalid value for argument `class_aggregation`. "
                             f"Expected one of {_AGGREGATIONS}. "
                             f"Received: class_aggregation={class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, int) or (
                num_regressors < 0):
            raise ValueError("R2Score: invalid value for argument `num_regressors`. Expected "
                             f"an integer >= 0. Received: num_regressors={num_regressors!r}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self._acc: dict | None = None
        self.num_samples = 0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        p = as_float(to_array(y_pred))
        t = as_float(to_array(y_true, p))
        t, p = squeeze_or_expand(t, p)
        if t.ndim != 2 or p.ndim != 2 or t.shape != p.shape:
            raise ValueError("R2Score expects 2D inputs of the same shape (batch_size, "
                             f"output_dim). Received input shapes: y_pred.shape="
                             f"{tuple(p.shape)} and y_true.shape={tuple(t.shape)}.")
        xp = backend_of(p).xp
        t, p = t.astype(ACC), p.astype(ACC)
        if sample_weight is None:
            w = xp.ones_like(t)
        else:
            w = as_float(to_array(sample_weight, p)).astype(ACC)
            if w.ndim == 1:
                w = w[:, None]
            try:
                w = xp.broadcast_to(w, t.shape)
            except ValueError:
                raise ValueError(f"R2Score: sample_weight of shape {tuple(w.shape)} does not "
                                 f"fit y_true of shape {tuple(t.shape)}.") from None
        if self._acc is None:
            self._acc = {k: xp.zeros(t.shape[1], dtype=ACC)
                         for k in ("sum", "squared_sum", "residual", "count")}
        elif self._acc["sum"].shape[0] != t.shape[1]:
            raise ValueError(f"R2Score: got {t.shape[1]} output columns after "
                             f"{self._acc['sum'].shape[0]} in earlier batches.")
        wt = w * t
        self._acc["sum"] += wt.sum(axis=0)
        self._acc["squared_sum"] += (t * wt).sum(axis=0)
        self._acc["residual"] += ((t - p) ** 2 * w).sum(axis=0)
        self._acc["count"] += w.sum(axis=0)
        self.num_samples += int(t.size)

    def result(self) -> Any:
        if self._acc is None:
            return 0.0
        a = self._acc
        xp = backend_of(a["sum"]).xp
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = a["sum"] / a["count"]
            total = a["squared_sum"] - a["sum"] * mean
            raw = 1.0 - a["residual"] / total
        raw = xp.where(xp.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            with np.errstate(divide="ignore", invalid="ignore"):
                score = (total * raw).sum() / total.sum()
        else:
            score = raw
        p, n = self.num_regressors, self.num_samples
        if p:
            if p >= n - 1:
                what = ("More independent predictors than datapoints" if p > n - 1
                        else "Division by zero")
                warnings.warn(f"{what} in adjusted R2 score. Falling back to standard R2 "
                              "score.", stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score

    def reset_state(self) -> None:
        self.num_samples = 0
        if self._acc is not None:
            for v in self._acc.values():
                v.fill(0)

    def get_config(self) -> dict:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}

