"""Operating-point metrics: ``PrecisionAtRecall``, ``RecallAtPrecision``,
``SensitivityAtSpecificity`` and ``SpecificityAtSensitivity``.

Each keeps per-threshold ``tp, fp, tn, fn`` counts on the device (the vectorised machinery
of ``confusion.py``) over ``num_thresholds`` evenly spread thresholds ``0, 1/(n-1), …, 1``
(a single threshold 0.5 when ``num_thresholds == 1``); predictions are clipped to
``[0, 1]`` and ``y_pred > threshold`` is a positive. The result is the best value of one
rate over the thresholds where the other rate is ``>=`` the requested value (0 if none).

Example:

>>> m = gpunet.metrics.PrecisionAtRecall(0.5)
>>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
>>> float(m.result())
0.5
"""

from __future__ import annotations

import math
from typing import Any

from gpunet.backend import backend_of
from gpunet.metrics.base import _KIND, div0
from gpunet.metrics.confusion import _Confusion, confusion_counts
from gpunet.registry import register


class SensitivitySpecificityBase(_Confusion):
    """Shared state and update of the operating-point metrics.

    Args:
        value: the constraint value in ``[0, 1]``.
        num_thresholds: the number of thresholds (> 0, default 200).
        class_id: compute the metric for this class (column) of ``[N, K]`` inputs only.
        name: log key.
        dtype: kept for Keras compatibility.
    """

    _names = ("tp", "fp", "tn", "fn")
    _value_arg = "value"

    def __init__(self, value: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name, dtype)
        owner, arg = type(self).__name__, self._value_arg
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and 0 <= value <= 1):
            raise ValueError(f"{owner}: argument `{arg}` must be in the range [0, 1]. "
                             f"Received: {arg}={value!r}")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or (
                num_thresholds <= 0):
            raise ValueError(f"{owner}: argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds!r}")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int)
                                     or class_id < 0):
            raise ValueError(f"{owner}: argument `class_id` must be a non-negative int or "
                             f"None. Received: class_id={class_id!r}")
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        if num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._evenly = [0.0, *inner, 1.0], True
        self._setup_thresholds(self.thresholds)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds this batch's weighted per-threshold counts.

        Args:
            y_true: binary labels (non-zero is positive), same shape as ``y_pred``.
            y_pred: scores in ``[0, 1]`` (clipped to it).
            sample_weight: optional weights, broadcastable to ``y_true``.
        """
        tp, fp, tn, fn = confusion_counts(self.name, y_true, y_pred, self._thr(y_pred),
                                          sample_weight, class_id=self.class_id,
                                          clip=self._evenly)
        self._update({"tp": tp, "fp": fp, "tn": tn, "fn": fn})

    def _rates(self) -> tuple[Any, dict]:
        s = self._state()
        xp = backend_of(s["tp"]).xp
        tp, fp, tn, fn = s["tp"], s["fp"], s["tn"], s["fn"]
        return xp, {"recall": div0(xp, tp, tp + fn), "precision": div0(xp, tp, tp + fp),
                    "specificity": div0(xp, tn, tn + fp)}

    def _best(self, constrained: str, dependent: str) -> Any:
        """Largest ``dependent`` rate over thresholds where ``constrained >= value``."""
        xp, r = self._rates()
        feasible = r[constrained] >= self.value
        return xp.where(feasible, r[dependent], 0.0).max()

    def get_config(self) -> dict:
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                self._value_arg: self.value, "class_id": self.class_id}


@register(_KIND, "precision_at_recall")
class PrecisionAtRecall(SensitivitySpecificityBase):
    """Best precision ``tp / (tp + fp)`` over the thresholds where recall
    ``tp / (tp + fn)`` is ``>= recall`` (0 when no threshold reaches it).

    Args:
        recall: the required recall, in ``[0, 1]``.
        num_thresholds: number of evenly spread thresholds in ``[0, 1]`` (default 200).
        class_id: compute the metric for this class (column) of ``[N, K]`` inputs only.
        name: log key (default ``"precision_at_recall"``).
        dtype: kept for Keras compatibility.

    Example:

    >>> m = PrecisionAtRecall(0.5)
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8],
    ...                sample_weight=[2, 2, 2, 1, 1])
    >>> float(m.result())
    0.3333333
    """

    _value_arg = "recall"

    def __init__(self, recall: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(recall, num_thresholds, class_id, name, dtype)
        self.recall = recall

    def result(self) -> Any:
        return self._best("recall", "precision")


@register(_KIND, "recall_at_precision")
class RecallAtPrecision(SensitivitySpecificityBase):
    """Best recall ``tp / (tp + fn)`` over the thresholds where precision
    ``tp / (tp + fp)`` is ``>= precision`` (0 when no threshold reaches it).

    Args:
        precision: the required precision, in ``[0, 1]``.
        num_thresholds: number of evenly spread thresholds in ``[0, 1]`` (default 200).
        class_id: compute the metric for this class (column) of ``[N, K]`` inputs only.
        name: log key (default ``"recall_at_precision"``).
        dtype: kept for Keras compatibility.

    Example:

    >>> m = RecallAtPrecision(0.8)
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> float(m.result())
    0.5
    """

    _value_arg = "precision"

    def __init__(self, precision: float, num_thresholds: int = 200,
                 class_id: int | None = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(precision, num_thresholds, class_id, name, dtype)
        self.precision = precision

    def result(self) -> Any:
        return self._best("precision", "recall")


@register(_KIND, "sensitivity_at_specificity")
class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """Best sensitivity ``tp / (tp + fn)`` over the thresholds where specificity
    ``tn / (tn + fp)`` is ``>= specificity`` (0 when no threshold reaches it).

    Args:
        specificity: the required specificity, in ``[0, 1]``.
        num_thresholds: number of evenly spread thresholds in ``[0, 1]`` (default 200).
        class_id: compute the metric for this class (column) of ``[N, K]`` inputs only.
        name: log key (default ``"sensitivity_at_specificity"``).
        dtype: kept for Keras compatibility.

    Example:

    >>> m = SensitivityAtSpecificity(0.5)
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    >>> float(m.result())
    0.5
    """

    _value_arg = "specificity"

    def __init__(self, specificity: float, num_thresholds: int = 200,
                 class_id: int | None = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(specificity, num_thresholds, class_id, name, dtype)
        self.specificity = specificity

    def result(self) -> Any:
        return self._best("specificity", "recall")


@register(_KIND, "specificity_at_sensitivity")
class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """Best specificity ``tn / (tn + fp)`` over the thresholds where sensitivity
    ``tp / (tp + fn)`` is ``>= sensitivity`` (0 when no threshold reaches it).

    Args:
        sensitivity: the required sensitivity, in ``[0, 1]``.
        num_thresholds: number of evenly spread thresholds in ``[0, 1]`` (default 200).
        class_id: compute the metric for this class (column) of ``[N, K]`` inputs only.
        name: log key (default ``"specificity_at_sensitivity"``).
        dtype: kept for Keras compatibility.

    Example:

    >>> m = SpecificityAtSensitivity(0.5)
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    >>> float(m.result())
    0.6666667
    """

    _value_arg = "sensitivity"

    def __init__(self, sensitivity: float, num_thresholds: int = 200,
                 class_id: int | None = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)
        self.sensitivity = sensitivity

    def result(self) -> Any:
        return self._best("recall", "specificity")
