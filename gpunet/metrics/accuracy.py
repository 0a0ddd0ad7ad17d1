"""Accuracy metrics: per-sample functions on raw arrays and their running-mean classes.

Example:

>>> m = gpunet.metrics.SparseTopKCategoricalAccuracy(k=1)
>>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
>>> float(m.result())
0.5
"""

from __future__ import annotations

import math
from typing import Any

from gpunet.backend import backend_of, floatx
from gpunet.metrics.base import (
    _KIND,
    MeanMetricWrapper,
    Metric,
    array_metric,
    squeeze_or_expand,
    to_array,
    wrapper_class,
)
from gpunet.registry import register


def _pair(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    p = to_array(y_pred)
    return to_array(y_true, p), p


@register(_KIND)
@array_metric
def accuracy(y_true: Any, y_pred: Any) -> Any:
    """1 where ``y_pred == y_true``, averaged over the last axis."""
    t, p = squeeze_or_expand(*_pair(y_true, y_pred))
    return (t == p).astype(floatx()).mean(axis=-1)


@register(_KIND)
@array_metric
def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Any:
    """1 where ``(y_pred > threshold) == y_true``, averaged over the last axis."""
    t, p = squeeze_or_expand(*_pair(y_true, y_pred))
    return (t == (p > threshold).astype(t.dtype)).astype(floatx()).mean(axis=-1)


@register(_KIND)
@array_metric
def categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    """1 where ``argmax(y_pred) == argmax(y_true)`` (one-hot targets)."""
    t, p = _pair(y_true, y_pred)
    return (t.argmax(axis=-1) == p.argmax(axis=-1)).astype(floatx())


def _sparse_labels(t: Any, p: Any) -> Any:
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    return t


@register(_KIND)
@array_metric
def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    """1 where ``argmax(y_pred) == y_true`` (integer labels, ``[N]`` or ``[N, 1]``)."""
    t, p = _pair(y_true, y_pred)
    t = _sparse_labels(t, p)
    return (p.argmax(axis=-1) == t).astype(floatx())


@register(_KIND)
@array_metric
def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Any:
    """1 where the label's score is among the ``k`` largest (ties count as in, as Keras's
    ``in_top_k``): fewer than ``k`` classes score strictly higher than the label."""
    t, p = _pair(y_true, y_pred)
    t = _sparse_labels(t, p)
    xp = backend_of(p).xp
    lab = t.astype(xp.int64) if t.dtype.kind not in "iu" else t
    target = xp.take_along_axis(p, lab[..., None], axis=-1)
    return ((p > target).sum(axis=-1) < k).astype(floatx())


@register(_KIND)
@array_metric
def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Any:
    """1 where the one-hot target's class is among the ``k`` largest scores."""
    t, p = _pair(y_true, y_pred)
    return sparse_top_k_categorical_accuracy(t.argmax(axis=-1), p, k=k)


def _check_threshold(owner: str, kw: dict) -> None:
    th = kw.get("threshold")
    if isinstance(th, bool) or not isinstance(th, (int, float)) or not math.isfinite(th):
        raise ValueError(f"{owner}: argument `threshold` must be a finite number. "
                         f"Received: threshold={th!r}")


def _check_k(owner: str, kw: dict) -> None:
    k = kw.get("k")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{owner}: argument `k` must be a positive int. Received: k={k!r}")


_ND = ("name", "dtype")
Accuracy = wrapper_class("Accuracy", accuracy, _ND, {"name": "accuracy"},
                         "How often ``y_pred`` equals ``y_true``.", module=__name__)
BinaryAccuracy = wrapper_class(
    "BinaryAccuracy", binary_accuracy, (*_ND, "threshold"),
    {"name": "binary_accuracy", "threshold": 0.5},
    "How often ``y_pred > threshold`` matches the 0/1 label (``threshold=0`` for logits).",
    _check_threshold, module=__name__)
CategoricalAccuracy = wrapper_class(
    "CategoricalAccuracy", categorical_accuracy, _ND, {"name": "categorical_accuracy"},
    "How often the argmax of ``y_pred`` matches the one-hot label.", module=__name__)
SparseCategoricalAccuracy = wrapper_class(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, _ND,
    {"name": "sparse_categorical_accuracy"},
    "How often the argmax of ``y_pred`` matches the integer label.", module=__name__)
TopKCategoricalAccuracy = wrapper_class(
    "TopKCategoricalAccuracy", top_k_categorical_accuracy, ("k", *_ND),
    {"k": 5, "name": "top_k_categorical_accuracy"},
    "How often the one-hot target is in the top ``k`` predictions.", _check_k,
    module=__name__)
SparseTopKCategoricalAccuracy = wrapper_class(
    "SparseTopKCategoricalAccuracy", sparse_top_k_categorical_accuracy, ("k", *_ND),
    {"k": 5, "name": "sparse_top_k_categorical_accuracy"},
    "How often the integer target is in the top ``k`` predictions.", _check_k,
    module=__name__)


def accuracy_kind(y_true_shape: tuple, y_pred_shape: tuple) -> str:
    """``"binary"``, ``"sparse"`` or ``"categorical"``, Keras's choice for ``"accuracy"``."""
    if y_pred_shape[-1] == 1:
        return "binary"
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape and y_true_shape[-1] == 1):
        return "sparse"
    return "categorical"


@array_metric
def auto_accuracy(y_true: Any, y_pred: Any) -> Any:
    """``"accuracy"`` resolved from the shapes of each batch (when they were unknown)."""
    t, p = _pair(y_true, y_pred)
    kind = accuracy_kind(tuple(t.shape), tuple(p.shape))
    fn = {"binary": binary_accuracy, "sparse": sparse_categorical_accuracy,
          "categorical": categorical_accuracy}[kind]
    return fn(t, p)


def resolve_accuracy(name: str, y_true_shape: tuple | None = None,
                     y_pred_shape: tuple | None = None) -> Metric:
    """Keras's choice of accuracy for ``"accuracy"``/``"acc"`` from the target/output shapes.

    Binary when the model has one output unit (hit iff ``(p > 0.5) == y``), sparse when the
    targets are integer-like (rank lower than the output's, or a trailing 1), else
    categorical. The metric keeps ``name`` (the string the user typed) as its log key.
    """
    if y_true_shape is None or y_pred_shape is None:
        return MeanMetricWrapper(auto_accuracy, name=name)
    cls = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
           "categorical": CategoricalAccuracy}[accuracy_kind(tuple(y_true_shape),
                                                             tuple(y_pred_shape))]
    return cls(name=name)
