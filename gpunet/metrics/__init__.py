"""Keras metrics with on-device accumulators (read back only when ``result()`` is shown).

``update_state`` works on raw arrays (or Tensors) of the model's backend and never copies to
the host; ``result()`` returns a 0-d device array (a vector for per-class/per-threshold
results); ``float(metric.result())`` syncs.

In ``compile(metrics=[...])`` a string resolves through ``get``: ``"accuracy"``/``"acc"`` and
``"crossentropy"``/``"ce"`` are chosen from the target/output shapes as Keras does; other
names (``"mse"``, ``"AUC"``, ``"top_k_categorical_accuracy"`` …) find a metric class or a
per-sample function (wrapped in a running mean). The log key is the string the user passed.

Example:

>>> model.compile("adam", "binary_crossentropy",
...               metrics=["acc", gpunet.metrics.AUC(), gpunet.metrics.Precision()])
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    accuracy_kind,
    auto_accuracy,
    binary_accuracy,
    categorical_accuracy,
    resolve_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from gpunet.metrics.base import (
    _KIND,
    Mean,
    MeanMetricWrapper,
    Metric,
    Sum,
    raw,
)
from gpunet.metrics.confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from gpunet.metrics.confusion_at import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from gpunet.metrics.correlation import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
)
from gpunet.metrics.f_score import F1Score, FBetaScore
from gpunet.metrics.focal import (
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
)
from gpunet.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from gpunet.metrics.mean_tensor import MeanRelativeError, MeanTensor
from gpunet.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    hinge,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from gpunet.metrics.r2 import R2Score
from gpunet.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    cosine_similarity,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from gpunet.registry import lookup, register

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

register(_KIND, "log_cosh_error")(LogCoshError)


def _crossentropy_for(name: str, y_true_shape: tuple | None,
                      y_pred_shape: tuple | None) -> Metric:
    if y_true_shape is None or y_pred_shape is None:
        raise ValueError(f"Metric {name!r} is chosen from the target and output shapes; call "
                         "metrics.get with y_true_shape and y_pred_shape (compile does).")
    cls = {"binary": BinaryCrossentropy, "sparse": SparseCategoricalCrossentropy,
           "categorical": CategoricalCrossentropy}[accuracy_kind(tuple(y_true_shape),
                                                                 tuple(y_pred_shape))]
    return cls(name=name)


def get(identifier: Any, y_true_shape: tuple | None = None, y_pred_shape: tuple | None = None,
        loss: Any = None) -> Metric:
    """A ``Metric`` from a name, config, class, instance or per-sample function.

    Args:
        identifier: e.g. ``"accuracy"``, ``"mse"``, ``"AUC"``, ``{"class_name": ...}``,
            ``gpunet.metrics.Precision()``, or a function ``fn(y_true, y_pred)`` (written with
            ``gpunet.ops`` or on raw arrays).
        y_true_shape, y_pred_shape: shapes used to resolve ``"accuracy"``/``"acc"`` and
            ``"crossentropy"``/``"ce"``.

    Returns:
        A fresh ``Metric`` (an instance passed in is returned as is). Metrics named by a string
        log under that string.

    Raises:
        ValueError: for an unknown name, with the closest known names.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return resolve_accuracy(identifier, y_true_shape, y_pred_shape)
        if identifier in ("crossentropy", "ce"):
            return _crossentropy_for(identifier, y_true_shape, y_pred_shape)
        obj = lookup(_KIND, identifier)
        m = obj() if isinstance(obj, type) else _wrap(obj)
        m.name = identifier
        return m
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return _wrap(identifier)
    raise TypeError(f"Could not interpret metric identifier: {identifier!r}")


def _wrap(fn) -> Metric:
    if getattr(fn, "_gpunet_array_metric", False):
        return MeanMetricWrapper(fn)
    return MeanMetricWrapper(_as_array_fn(fn), name=getattr(fn, "__name__", "metric"))


def _as_array_fn(fn):
    """Wraps a function written with ``gpunet.ops`` (or a loss) so it returns raw arrays."""

    def wrapped(y_true, y_pred, **kw):
        from gpunet.autograd.engine import no_grad

        with no_grad():
            out = fn(y_true, Tensor(y_pred), **kw)
        return raw(out)

    wrapped.__name__ = getattr(fn, "__name__", "metric")
    wrapped._gpunet_array_metric = True
    return wrapped


def serialize(metric: Any) -> Any:
    """``{"class_name", "config"}`` for a ``Metric``; the name for a string or function."""
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return metric if isinstance(metric, str) else getattr(metric, "__name__", metric)


def deserialize(config: Any, custom_objects: dict | None = None) -> Metric:
    """Builds a metric from a name or a ``{"class_name", "config"}`` dict."""
    if isinstance(config, str):
        return get(config)
    cls = lookup(_KIND, config["class_name"], custom_objects)
    cfg = dict(config.get("config") or {})
    return cls.from_config(cfg) if hasattr(cls, "from_config") else cls(**cfg)


__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "CategoricalAccuracy",
    "CategoricalCrossentropy", "CategoricalHinge", "CosineSimilarity", "F1Score", "FBetaScore",
    "FalseNegatives", "FalsePositives", "Hinge", "KLDivergence", "LogCoshError", "Mean",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanMetricWrapper", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Metric", "Poisson", "Precision", "Recall",
    "RootMeanSquaredError", "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy", "SquaredHinge", "Sum", "TopKCategoricalAccuracy",
    "TrueNegatives", "TruePositives", "accuracy", "auto_accuracy", "binary_accuracy",
    "binary_crossentropy", "categorical_accuracy", "categorical_crossentropy",
    "categorical_hinge", "cosine_similarity", "deserialize", "get", "hinge", "kl_divergence",
    "kld", "kullback_leibler_divergence", "log_cosh", "logcosh", "mae", "mape",
    "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "mse", "msle", "poisson", "resolve_accuracy",
    "serialize", "sparse_categorical_accuracy", "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy", "squared_hinge", "top_k_categorical_accuracy",
    "BinaryIoU", "ConcordanceCorrelation", "IoU", "MeanIoU", "MeanRelativeError", "MeanTensor",
    "OneHotIoU", "OneHotMeanIoU", "PearsonCorrelation", "PrecisionAtRecall", "R2Score",
    "RecallAtPrecision", "SensitivityAtSpecificity", "SpecificityAtSensitivity",
    "concordance_correlation", "pearson_correlation", "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy",
]
