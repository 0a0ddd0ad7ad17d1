"""F-beta and F1 scores with per-class true/false positive and false negative counts kept
on the device.

Example:

>>> m = gpunet.metrics.F1Score(threshold=0.5)
>>> m.update_state(np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]]),
...                np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]))
>>> m.result()           # [0.5, 0.8, 0.6667] (one score per class, average=None)
"""

from __future__ import annotations

import math
from typing import Any

from gpunet.backend import backend_of, epsilon, get_backend
from gpunet.metrics.base import _KIND, ACC, Metric, as_float, to_array
from gpunet.registry import register

_AVERAGES = (None, "micro", "macro", "weighted")


@register(_KIND, "fbeta_score", "f_beta_score")
class FBetaScore(Metric):
    """``(1 + b²) P R / (b² P + R)`` from accumulated counts, per class or averaged.

    Args:
        average: ``None`` (one score per class), ``"micro"`` (global counts), ``"macro"``
            (unweighted mean of the class scores) or ``"weighted"`` (mean weighted by each
            class's support).
        beta: weight of recall (> 0).
        threshold: ``y_pred > threshold`` is a positive (in ``(0, 1]``); ``None``: the argmax
            of each row (all maxima on ties) is the positive.
        name: log key (default ``"fbeta_score"``).

    Input shape:
        ``y_true`` and ``y_pred`` of shape ``(batch_size, num_classes)``.
    """

    def __init__(self, average: str | None = None, beta: float = 1.0,
                 threshold: float | None = None, name: str = "fbeta_score",
                 dtype: Any = None) -> None:
        super().__init__(name, dtype)
        owner = type(self).__name__
        if average not in _AVERAGES:
            raise ValueError(f"{owner}: invalid `average` argument value. Expected one of "
                             f"{{None, 'micro', 'macro', 'weighted'}}. Received: "
                             f"average={average!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (
                math.isfinite(beta) and beta > 0):
            raise ValueError(f"{owner}: argument `beta` must be a positive float. "
                             f"Received: beta={beta!r}")
        if threshold is not None and (isinstance(threshold, bool)
                                      or not isinstance(threshold, (int, float))
                                      or not 0.0 < threshold <= 1.0):
            raise ValueError(f"{owner}: argument `threshold` must be None or verify "
                             f"0 < threshold <= 1. Received: threshold={threshold!r}")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self._axis = None if average == "micro" else 0
        self._acc: dict | None = None
        self._num_classes: int | None = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        p = as_float(to_array(y_pred))
        t = as_float(to_array(y_true, p)).astype(p.dtype, copy=False)
        if p.ndim != 2 or t.ndim != 2 or t.shape != p.shape:
            raise ValueError(f"{type(self).__name__} expects 2D inputs of the same shape "
                             "(batch_size, output_dim). Received input shapes: "
                             f"y_pred.shape={tuple(p.shape)} and y_true.shape={tuple(t.shape)}.")
        xp = backend_of(p).xp
        if self.threshold is None:
            pb = (p >= p.max(axis=-1, keepdims=True)) & (xp.abs(p) > 1e-9)
        else:
            pb = p > self.threshold
        pb = pb.astype(ACC)
        t = t.astype(ACC)
        w = None
        if sample_weight is not None:
            w = as_float(to_array(sample_weight, p)).astype(ACC).reshape(-1, 1)

        def wsum(v):
            return (v if w is None else v * w).sum(axis=self._axis)

        counts = {"tp": wsum(pb * t), "fp": wsum(pb * (1 - t)), "fn": wsum((1 - pb) * t),
                  "support": wsum(t)}
        if self._acc is None:
            self._num_classes = p.shape[-1]
            self._alloc(xp)
        for k, v in counts.items():
            self._acc[k] += v

    def _alloc(self, xp: Any) -> None:
        shape = () if self.average == "micro" else (self._num_classes,)
        self._acc = {k: xp.zeros(shape, dtype=ACC) for k in ("tp", "fp", "fn", "support")}

    def result(self) -> Any:
        if self._acc is None:
            if self.average != "micro":
                return 0.0
            self._alloc(get_backend().xp)
        a = self._acc
        xp = backend_of(a["tp"]).xp
        eps = epsilon()
        precision = a["tp"] / (a["tp"] + a["fp"] + eps)
        recall = a["tp"] / (a["tp"] + a["fn"] + eps)
        b2 = self.beta ** 2
        f = (1 + b2) * precision * recall / (b2 * precision + recall + eps)
        if self.average == "weighted":
            return (f * a["support"] / (a["support"].sum() + eps)).sum()
        if self.average is not None:
            return xp.mean(f)
        return f

    def reset_state(self) -> None:
        if self._acc is not None:
            for v in self._acc.values():
                v.fill(0)

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


@register(_KIND, "f1_score")
class F1Score(FBetaScore):
    """The F-beta score with ``beta = 1``: ``2 P R / (P + R)`` (see ``FBetaScore``)."""

    def __init__(self, average: str | None = None, threshold: float | None = None,
                 name: str = "f1_score", dtype: Any = None) -> None:
        super().__init__(average, 1.0, threshold, name, dtype)

    def get_config(self) -> dict:
        cfg = super().get_config()
        del cfg["beta"]
        return cfg
