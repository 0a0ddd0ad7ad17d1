"""Focal cross-entropy metrics: running means of ``gpunet.losses.binary_focal_crossentropy``
and ``gpunet.losses.categorical_focal_crossentropy`` (Keras has these as losses only; the
metrics let a model log them beside another training loss).

The loss functions are looked up when a metric is evaluated, so importing this module does
not depend on them; bad hyper-parameters are reported by the loss on the first update.

Example:

>>> m = gpunet.metrics.BinaryFocalCrossentropy(gamma=2.0)
>>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
>>> float(m.result())       # mean of the per-sample losses [0.330, 0.206]
0.268
"""

from __future__ import annotations

from typing import Any

from gpunet import losses
from gpunet.metrics.base import _KIND, array_metric, loss_values, wrapper_class
from gpunet.registry import register


@register(_KIND)
@array_metric
def binary_focal_crossentropy(y_true: Any, y_pred: Any, apply_class_balancing: bool = False,
                              alpha: float = 0.25, gamma: float = 2.0,
                              from_logits: bool = False, label_smoothing: float = 0.0,
                              axis: int = -1) -> Any:
    """Per-sample binary focal cross-entropy (see ``gpunet.losses.binary_focal_crossentropy``)."""
    return loss_values(losses.binary_focal_crossentropy, y_true, y_pred,
                       apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                       from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


@register(_KIND)
@array_metric
def categorical_focal_crossentropy(y_true: Any, y_pred: Any, alpha: Any = 0.25,
                                   gamma: float = 2.0, from_logits: bool = False,
                                   label_smoothing: float = 0.0, axis: int = -1) -> Any:
    """Per-sample categorical focal cross-entropy (one-hot targets; see
    ``gpunet.losses.categorical_focal_crossentropy``)."""
    return loss_values(losses.categorical_focal_crossentropy, y_true, y_pred, alpha=alpha,
                       gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing,
                       axis=axis)


BinaryFocalCrossentropy = wrapper_class(
    "BinaryFocalCrossentropy", binary_focal_crossentropy,
    ("name", "dtype", "apply_class_balancing", "alpha", "gamma", "from_logits",
     "label_smoothing", "axis"),
    {"name": "binary_focal_crossentropy", "apply_class_balancing": False, "alpha": 0.25,
     "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0, "axis": -1},
    """Running (weighted) mean of the binary focal cross-entropy.

    Args:
        name: log key (default ``"binary_focal_crossentropy"``).
        dtype: kept for Keras compatibility.
        apply_class_balancing: weight class 1 by ``alpha`` and class 0 by ``1 - alpha``.
        alpha: the class-1 weight when balancing (default 0.25).
        gamma: the focusing parameter (default 2.0; 0 gives the binary cross-entropy).
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; targets become ``y (1 - s) + s / 2``.
        axis: the axis of the per-sample mean (default -1).
    """, module=__name__)
CategoricalFocalCrossentropy = wrapper_class(
    "CategoricalFocalCrossentropy", categorical_focal_crossentropy,
    ("name", "dtype", "alpha", "gamma", "from_logits", "label_smoothing", "axis"),
    {"name": "categorical_focal_crossentropy", "alpha": 0.25, "gamma": 2.0,
     "from_logits": False, "label_smoothing": 0.0, "axis": -1},
    """Running (weighted) mean of the categorical focal cross-entropy (one-hot targets).

    Args:
        name: log key (default ``"categorical_focal_crossentropy"``).
        dtype: kept for Keras compatibility.
        alpha: weighting factor, a float or one float per class (default 0.25).
        gamma: the focusing parameter (default 2.0).
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; targets become ``y (1 - s) + s / K``.
        axis: the class axis (default -1).
    """, module=__name__)
