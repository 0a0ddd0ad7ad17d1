"""Confusion-matrix metrics: TruePositives … FalseNegatives, Precision, Recall and AUC.

Per-threshold counts are accumulated on the device with vectorised array ops and no Python
loop over samples or thresholds: each prediction's position among the sorted thresholds
(``searchsorted``: how many thresholds it exceeds) is histogrammed with its weight, and a
reversed cumulative sum turns the histogram into "prediction > threshold" counts for every
threshold at once (O(N log T + T) per batch). A prediction counts as positive at threshold
``t`` when ``y_pred > t`` (strictly), as in Keras.

Example:

>>> m = gpunet.metrics.AUC(num_thresholds=3)
>>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
>>> float(m.result())
0.75
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpunet.backend import backend_of, epsilon, get_backend
from gpunet.metrics.base import (
    _KIND,
    ACC,
    Metric,
    as_float,
    div0,
    raw,
    squeeze_or_expand,
    to_array,
)
from gpunet.registry import register, snake_case

NEG_INF = -1e10


def _parse_thresholds(owner: str, thresholds: Any, default: float) -> list[float]:
    if thresholds is None:
        return [default]
    vals = list(np.asarray(thresholds, dtype=np.float64).reshape(-1)) if not isinstance(
        thresholds, (int, float)) else [thresholds]
    bad = [t for t in vals if isinstance(t, bool) or not math.isfinite(t) or not 0 <= t <= 1]
    if bad or not vals:
        raise ValueError(f"{owner}: argument `thresholds` must hold values in [0, 1]. "
                         f"Received: thresholds={thresholds!r}")
    return [float(t) for t in vals]


def _hist(xp: Any, idx: Any, weights: Any, size: int) -> Any:
    """Weighted histogram of integer ``idx`` in ``[0, size)``, on the device, no host sync."""
    return backend_of(idx).bincount(idx, size, weights).astype(ACC, copy=False)


def _filter_top_k(xp: Any, p: Any, k: int) -> Any:
    """Keeps the ``k`` largest values of the last axis, the rest become ``NEG_INF``."""
    b = backend_of(p)
    ranks = b.argsort(b.argsort(-p, axis=-1), axis=-1)
    return xp.where(ranks < k, p, NEG_INF)


def confusion_counts(owner: str, y_true: Any, y_pred: Any, thresholds: Any,
                     sample_weight: Any = None, top_k: int | None = None,
                     class_id: int | None = None, multi_label: bool = False,
                     label_weights: Any = None, clip: bool = False,
                     from_logits: bool = False) -> tuple[Any, Any, Any, Any]:
    """Weighted ``(tp, fp, tn, fn)`` per threshold (``[T]``, or ``[T, L]`` multi-label).

    Args:
        owner: the metric's name, for error messages.
        thresholds: ascending thresholds, compared in ``y_pred``'s dtype (pass them on the
            device in that dtype to avoid a host-to-device copy per call).
        top_k: keep only the ``k`` largest predictions per row (the rest are negative).
        class_id: restrict to one class (column) of ``[N, K]`` inputs.
        clip: clip predictions to ``[0, 1]`` first.
    """
    p = as_float(to_array(y_pred))
    xp = backend_of(p).xp
    t = to_array(y_true, p)
    p, t = squeeze_or_expand(p, t)
    if from_logits:
        p = 0.5 * (xp.tanh(0.5 * p) + 1.0)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(f"Metric '{owner}': y_true and y_pred must have the same shape. "
                         f"Received: y_true.shape={tuple(t.shape)}, "
                         f"y_pred.shape={tuple(p.shape)}.")
    t = t != 0
    w = None
    if sample_weight is not None:
        w = as_float(to_array(sample_weight, p)).astype(p.dtype, copy=False)[..., None]
        _, w = squeeze_or_expand(t, w, expand_rank_1=False)
        try:
            w = xp.broadcast_to(w, p.shape)
        except ValueError:
            raise ValueError(f"Metric '{owner}': sample_weight of shape "
                             f"{tuple(w.shape[:-1])} does not fit y_pred of shape "
                             f"{tuple(p.shape)}.") from None
    if top_k is not None:
        p = _filter_top_k(xp, p, top_k)
    if class_id is not None:
        if p.ndim < 2 or not 0 <= class_id < p.shape[-1]:
            raise ValueError(f"Metric '{owner}': class_id={class_id} needs y_pred of shape "
                             f"(num_samples, num_classes) with more than {class_id} classes. "
                             f"Received: y_pred.shape={tuple(p.shape)}.")
        p, t = p[..., class_id], t[..., class_id]
        w = None if w is None else w[..., class_id]
    if label_weights is not None and not multi_label:
        lw = xp.broadcast_to(to_array(label_weights, p).astype(p.dtype), p.shape)
        w = lw if w is None else w * lw
    if clip:
        p = xp.clip(p, 0.0, 1.0)
    thr = thresholds
    if backend_of(thr).xp is not xp or thr.dtype != p.dtype:
        thr = xp.asarray(np.asarray(thresholds).astype(p.dtype))
    n_t = thr.shape[0]
    if multi_label:
        if p.ndim != 2:
            raise ValueError(f"Metric '{owner}': y_pred must have rank 2 when "
                             f"multi_label=True. Received: y_pred.shape={tuple(p.shape)}.")
        n_l = p.shape[1]
    else:
        n_l = 1
    pos = t.astype(ACC)
    neg = 1.0 - pos
    if w is not None:
        pos, neg = pos * w, neg * w
    c = xp.searchsorted(thr, p.reshape(-1), side="left")    # thresholds strictly below p
    if multi_label:
        c = c * n_l + xp.tile(xp.arange(n_l), p.shape[0])
    size = (n_t + 1) * n_l
    hp = _hist(xp, c, pos.reshape(-1), size).reshape(n_t + 1, n_l)
    hn = _hist(xp, c, neg.reshape(-1), size).reshape(n_t + 1, n_l)
    tp = xp.cumsum(hp[::-1], axis=0)[::-1][1:]
    fp = xp.cumsum(hn[::-1], axis=0)[::-1][1:]
    fn = hp.sum(axis=0) - tp
    tn = hn.sum(axis=0) - fp
    if not multi_label:
        tp, fp, tn, fn = tp[:, 0], fp[:, 0], tn[:, 0], fn[:, 0]
    return tp, fp, tn, fn


class _Confusion(Metric):
    """Shared state handling: lazily allocated per-threshold accumulators on the device."""

    _names: tuple = ()

    def _setup_thresholds(self, thresholds: list[float]) -> None:
        arr = np.asarray(thresholds, dtype=np.float64)
        self._order = np.argsort(arr, kind="stable")
        self._sorted = arr[self._order]
        self._unsort = np.argsort(self._order, kind="stable")
        self._acc: dict | None = None
        self._thr_cache: dict = {}

    def _state_shape(self) -> tuple | None:
        return (len(self._sorted),)

    def _thr(self, y_pred: Any) -> Any:
        """The sorted thresholds on ``y_pred``'s device and in its float dtype (cached)."""
        p = raw(y_pred)
        if not hasattr(p, "dtype") or p.dtype.kind != "f":
            return self._sorted
        b = backend_of(p)
        key = (id(b), p.dtype.str)
        thr = self._thr_cache.get(key)
        if thr is None:
            thr = self._thr_cache[key] = b.asarray(self._sorted.astype(p.dtype))
        return thr

    def _alloc(self, xp: Any, shape: tuple) -> None:
        self._acc = {k: xp.zeros(shape, dtype=ACC) for k in self._names}

    def _update(self, counts: dict) -> None:
        if self._acc is None:
            any_arr = next(iter(counts.values()))
            self._alloc(backend_of(any_arr).xp, tuple(any_arr.shape))
        for k in self._names:
            self._acc[k] += counts[k]

    def _state(self) -> dict | None:
        if self._acc is None:
            shape = self._state_shape()
            if shape is None:
                return None
            self._alloc(get_backend().xp, shape)
        return self._acc

    def reset_state(self) -> None:
        if self._acc is not None:
            for v in self._acc.values():
                v.fill(0)

    def _pick(self, v: Any) -> Any:
        if len(self._sorted) == 1:
            return v[0]
        return v[backend_of(v).xp.asarray(self._unsort)]


class _ConditionCount(_Confusion):
    _cond = ""

    def __init__(self, thresholds: Any = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(type(self).__name__, thresholds, 0.5)
        self._names = (self._cond,)
        self._setup_thresholds(self.thresholds)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        tp, fp, tn, fn = confusion_counts(self.name, y_true, y_pred, self._thr(y_pred),
                                          sample_weight)
        self._update({"tp": tp, "fp": fp, "tn": tn, "fn": fn})

    def result(self) -> Any:
        return self._pick(self._state()[self._cond])

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


def _count_class(cls_name: str, cond: str, what: str):
    doc = (f"Weighted number of {what} (per threshold when ``thresholds`` is a list; a "
           "prediction is positive when ``y_pred > threshold``, default 0.5).")
    cls = type(cls_name, (_ConditionCount,), {"_cond": cond, "__doc__": doc,
                                              "__module__": __name__})
    return register(_KIND, snake_case(cls_name))(cls)


TruePositives = _count_class("TruePositives", "tp", "true positives")
FalsePositives = _count_class("FalsePositives", "fp", "false positives")
TrueNegatives = _count_class("TrueNegatives", "tn", "true negatives")
FalseNegatives = _count_class("FalseNegatives", "fn", "false negatives")


class _PrecisionRecall(_Confusion):
    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(name, dtype)
        owner = type(self).__name__
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                                  or top_k < 1):
            raise ValueError(f"{owner}: argument `top_k` must be a positive int or None. "
                             f"Received: top_k={top_k!r}")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int)
                                     or class_id < 0):
            raise ValueError(f"{owner}: argument `class_id` must be a non-negative int or "
                             f"None. Received: class_id={class_id!r}")
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = ([default] if thresholds is None
                           else _parse_thresholds(owner, thresholds, default))
        self._setup_thresholds(self.thresholds)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        tp, fp, tn, fn = confusion_counts(self.name, y_true, y_pred, self._thr(y_pred),
                                          sample_weight, top_k=self.top_k,
                                          class_id=self.class_id)
        self._update({"tp": tp, "fp": fp, "tn": tn, "fn": fn})

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


@register(_KIND, "precision")
class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` over everything seen (0 when nothing was predicted positive).

    Args:
        thresholds: a float or list of floats in ``[0, 1]`` (default 0.5; with ``top_k``, no
            threshold); ``y_pred > threshold`` is a positive. A list gives one value each.
        top_k: only the ``k`` highest predictions of each row count as positive.
        class_id: compute the metric for this class (column) only.
        name: log key (default ``"precision"``).
    """

    _names = ("tp", "fp")

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str = "precision", dtype: Any = None) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self) -> Any:
        s = self._state()
        xp = backend_of(s["tp"]).xp
        return self._pick(div0(xp, s["tp"], s["tp"] + s["fp"]))


@register(_KIND, "recall")
class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` over everything seen (0 when there were no positive labels).

    Args: as for ``Precision`` (default name ``"recall"``).
    """

    _names = ("tp", "fn")

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str = "recall", dtype: Any = None) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self) -> Any:
        s = self._state()
        xp = backend_of(s["tp"]).xp
        return self._pick(div0(xp, s["tp"], s["tp"] + s["fn"]))


def _evenly(thresholds: np.ndarray) -> bool:
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n) / (n - 1), atol=epsilon()))


@register(_KIND, "auc")
class AUC(_Confusion):
    """Area under the ROC or precision-recall curve, from per-threshold counts (Keras's
    Riemann sums).

    Args:
        num_thresholds: number of thresholds (> 1), evenly spread: ``-eps``,
            ``i / (num_thresholds - 1)`` for ``i = 1 … num_thresholds - 2``, ``1 + eps``.
        curve: ``"ROC"`` (default) or ``"PR"``.
        summation_method: ``"interpolation"`` (ROC: trapezoids; PR: Davis & Goadrich's
            interpolation of the counts, Keras's ``interpolate_pr_auc``), ``"minoring"`` or
            ``"majoring"`` (lower / upper rectangles).
        thresholds: explicit thresholds in ``[0, 1]`` (then ``num_thresholds`` is ignored);
            ``-eps`` and ``1 + eps`` are added.
        multi_label: one AUC per label column, averaged (weighted by ``label_weights``).
        num_labels: number of label columns when ``multi_label`` (else taken from the data).
        label_weights: per-label weights (see Keras).
        from_logits: apply a sigmoid to ``y_pred`` first.
        name: log key (default ``"auc"``).
    """

    _names = ("tp", "fp", "tn", "fn")

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str = "auc",
                 dtype: Any = None, thresholds: Any = None, multi_label: bool = False,
                 num_labels: int | None = None, label_weights: Any = None,
                 from_logits: bool = False) -> None:
        super().__init__(name, dtype)
        curves = {"roc": "ROC", "pr": "PR"}
        if not isinstance(curve, str) or curve.lower() not in curves:
            raise ValueError(f'AUC: invalid `curve` argument value "{curve}". Expected one of '
                             '["ROC", "PR"].')
        methods = ("interpolation", "minoring", "majoring")
        if not isinstance(summation_method, str) or summation_method.lower() not in methods:
            raise ValueError(f'AUC: invalid `summation_method` argument value '
                             f'"{summation_method}". Expected one of {list(methods)}.')
        self.curve, self.summation_method = curves[curve.lower()], summation_method.lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_parse_thresholds("AUC", thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
            self._evenly = _evenly(np.array([0.0, *inner, 1.0]))
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or (
                    num_thresholds <= 1):
                raise ValueError("AUC: argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds!r}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        eps = epsilon()
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        if num_labels is not None and not multi_label:
            raise ValueError("AUC: `num_labels` is needed only when `multi_label` is True.")
        self.label_weights = None if label_weights is None else np.asarray(
            label_weights, dtype=np.float64)
        if self.label_weights is not None and (self.label_weights < 0).any():
            raise ValueError("AUC: argument `label_weights` must be non-negative. "
                             f"Received: label_weights={label_weights!r}")
        self.from_logits = bool(from_logits)
        self._setup_thresholds([0.0 - eps, *inner, 1.0 + eps])

    @property
    def thresholds(self) -> list[float]:
        """The thresholds, endpoints included."""
        return list(self._sorted)

    def _state_shape(self) -> tuple | None:
        if not self.multi_label:
            return (self.num_thresholds,)
        return None if self.num_labels is None else (self.num_thresholds, self.num_labels)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        tp, fp, tn, fn = confusion_counts(
            self.name, y_true, y_pred, self._thr(y_pred), sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            clip=self._evenly, from_logits=self.from_logits)
        self._update({"tp": tp, "fp": fp, "tn": tn, "fn": fn})

    def _average(self, xp: Any, by_label: Any) -> Any:
        if not self.multi_label:
            return by_label
        if self.label_weights is None:
            return by_label.mean()
        lw = xp.asarray(self.label_weights)
        return div0(xp, (by_label * lw).sum(), lw.sum())

    def result(self) -> Any:
        s = self._state()
        if s is None:
            return 0.0
        tp, fp, tn, fn = s["tp"], s["fp"], s["tn"], s["fn"]
        xp = backend_of(tp).xp
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._average(xp, self._interpolate_pr_auc(xp, tp, fp, fn).sum(axis=0))
        recall = div0(xp, tp, tp + fn)
        if self.curve == "ROC":
            x, y = div0(xp, fp, fp + tn), recall
        else:
            x, y = recall, div0(xp, tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = xp.minimum(y[:-1], y[1:])
        else:
            heights = xp.maximum(y[:-1], y[1:])
        return self._average(xp, ((x[:-1] - x[1:]) * heights).sum(axis=0))

    @staticmethod
    def _interpolate_pr_auc(xp: Any, tp: Any, fp: Any, fn: Any) -> Any:
        """Per-interval PR-AUC terms (Davis & Goadrich 2006, Keras's closed form).

        Between two thresholds TP and P = TP + FP vary linearly, so precision is
        ``(TP_A + slope (P - P_A)) / P``; integrating over recall gives
        ``slope (dTP + intercept log(P_A / P_B)) / total positives`` with
        ``slope = dTP / dP`` and ``intercept = TP_B - slope P_B``.
        """
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = div0(xp, dtp, xp.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = xp.where(both, div0(xp, p[:-1], xp.maximum(p[1:], 0)), 1.0)
        ratio = xp.where(ratio > 0, ratio, 1.0)
        return div0(xp, slope * (dtp + intercept * xp.log(ratio)),
                    xp.maximum(tp[1:] + fn[1:], 0))

    def get_config(self) -> dict:
        cfg = {**super().get_config(), "num_thresholds": self.num_thresholds,
               "curve": self.curve, "summation_method": self.summation_method,
               "multi_label": self.multi_label, "num_labels": self.num_labels,
               "label_weights": None if self.label_weights is None
               else self.label_weights.tolist(), "from_logits": self.from_logits}
        if self._init_from_thresholds:
            cfg["thresholds"] = [float(t) for t in self._sorted[1:-1]]
        return cfg
