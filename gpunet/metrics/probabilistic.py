"""Probabilistic and hinge metrics: running means of the cross-entropies, KL divergence,
Poisson and hinge losses (the same formulas as ``gpunet.losses``, evaluated on raw arrays
without a graph).

Example:

>>> m = gpunet.metrics.BinaryCrossentropy(from_logits=True)
>>> m.update_state([[0, 1], [0, 0]], [[-18.6, 0.51], [2.94, -12.8]])
>>> float(m.result())       # 0.8654...
"""

from __future__ import annotations

from typing import Any

from gpunet import losses
from gpunet.metrics.base import _KIND, array_metric, loss_values, wrapper_class
from gpunet.registry import register


@register(_KIND, "bce", "BCE")
@array_metric
def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Any:
    """Per-sample binary cross-entropy (see ``gpunet.losses.binary_crossentropy``)."""
    return loss_values(losses.binary_crossentropy, y_true, y_pred, from_logits=from_logits,
                       label_smoothing=label_smoothing, axis=axis)


@register(_KIND)
@array_metric
def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Any:
    """Per-sample categorical cross-entropy (one-hot targets)."""
    return loss_values(losses.categorical_crossentropy, y_true, y_pred,
                       from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


@register(_KIND)
@array_metric
def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    axis: int = -1) -> Any:
    """Per-sample categorical cross-entropy (integer targets)."""
    return loss_values(losses.sparse_categorical_crossentropy, y_true, y_pred,
                       from_logits=from_logits, axis=axis)


@register(_KIND, "kld", "KLD", "kullback_leibler_divergence")
@array_metric
def kl_divergence(y_true: Any, y_pred: Any) -> Any:
    """Per-sample ``sum(y_true * log(y_true / y_pred))`` (both clipped to ``[eps, 1]``)."""
    return loss_values(losses.kl_divergence, y_true, y_pred)


@register(_KIND)
@array_metric
def poisson(y_true: Any, y_pred: Any) -> Any:
    """Per-sample ``mean(y_pred - y_true * log(y_pred + eps))``."""
    return loss_values(losses.poisson, y_true, y_pred)


@register(_KIND)
@array_metric
def hinge(y_true: Any, y_pred: Any) -> Any:
    """Per-sample hinge loss ({0, 1} labels become {-1, 1})."""
    return loss_values(losses.hinge, y_true, y_pred)


@register(_KIND)
@array_metric
def squared_hinge(y_true: Any, y_pred: Any) -> Any:
    """Per-sample squared hinge loss ({0, 1} labels become {-1, 1})."""
    return loss_values(losses.squared_hinge, y_true, y_pred)


@register(_KIND)
@array_metric
def categorical_hinge(y_true: Any, y_pred: Any) -> Any:
    """Per-sample categorical hinge loss."""
    return loss_values(losses.categorical_hinge, y_true, y_pred)


def _check(owner: str, kw: dict) -> None:
    losses._check_args(owner, kw)


_ND = ("name", "dtype")
BinaryCrossentropy = wrapper_class(
    "BinaryCrossentropy", binary_crossentropy, (*_ND, "from_logits", "label_smoothing"),
    {"name": "binary_crossentropy", "from_logits": False, "label_smoothing": 0.0},
    "Running mean of the binary cross-entropy.", _check, module=__name__)
CategoricalCrossentropy = wrapper_class(
    "CategoricalCrossentropy", categorical_crossentropy,
    (*_ND, "from_logits", "label_smoothing", "axis"),
    {"name": "categorical_crossentropy", "from_logits": False, "label_smoothing": 0.0,
     "axis": -1},
    "Running mean of the categorical cross-entropy.", _check, module=__name__)
SparseCategoricalCrossentropy = wrapper_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
    (*_ND, "from_logits", "axis"),
    {"name": "sparse_categorical_crossentropy", "from_logits": False, "axis": -1},
    "Running mean of the sparse categorical cross-entropy.", _check, module=__name__)
KLDivergence = wrapper_class(
    "KLDivergence", kl_divergence, _ND, {"name": "kl_divergence"},
    "Running mean of the Kullback-Leibler divergence.", module=__name__)
Poisson = wrapper_class("Poisson", poisson, _ND, {"name": "poisson"},
                        "Running mean of the Poisson loss.", module=__name__)
Hinge = wrapper_class("Hinge", hinge, _ND, {"name": "hinge"},
                      "Running mean of the hinge loss.", module=__name__)
SquaredHinge = wrapper_class("SquaredHinge", squared_hinge, _ND, {"name": "squared_hinge"},
                             "Running mean of the squared hinge loss.", module=__name__)
CategoricalHinge = wrapper_class(
    "CategoricalHinge", categorical_hinge, _ND, {"name": "categorical_hinge"},
    "Running mean of the categorical hinge loss.", module=__name__)
