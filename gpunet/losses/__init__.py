"""Keras losses: per-sample functions and ``Loss`` classes with reduction and sample weights.

Every built-in loss aligns ranks (``[N]`` labels against ``[N, 1]`` predictions, Keras's
``squeeze_or_expand_to_same_rank``), reduces the last axis to a per-sample value, multiplies
sample weights in, then reduces with ``"sum_over_batch_size"`` (sum / number of elements,
not / sum of weights), ``"sum"`` or ``"none"``. Entries masked out (``ignore_class`` of the
sparse cross-entropy, or a Keras mask carried by ``y_pred``) leave the mean: it is taken over
the valid entries only, as Keras 3 does.

When ``y_pred`` comes straight out of a softmax or sigmoid and ``from_logits=False``, the
cross-entropies use the remembered logits (stable and fused, as TensorFlow's Keras does); the
value differs from clip-then-log only where a probability is below ``1e-7``.

Example:

>>> from gpunet import losses
>>> losses.mean_squared_error(np.array([[0., 1.]]), np.array([[1., 1.]]))   # per sample: [0.5]
>>> losses.Huber(delta=0.5, reduction="sum")(y_true, y_pred, sample_weight=[1., 0.])
"""

from __future__ import annotations

from typing import Any

from gpunet.losses._common import (  # noqa: F401
    _KIND,
    _LOG2,
    REDUCTIONS,
    _check_args,
    _finish,
    _fused_logits,
    _hint,
    _keep_logits,
    _last,
    _pred,
    _prep,
    _truth,
    align,
)
from gpunet.losses.classes import (  # noqa: F401
    _CE,
    AutoCrossentropy,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    Loss,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    _loss_class,
)
from gpunet.losses.extra import (  # noqa: F401
    CTC,
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    Circle,
    Dice,
    Tversky,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
    circle,
    ctc,
    dice,
    tversky,
)
from gpunet.losses.functions import (  # noqa: F401
    _hinge_labels,
    _l2_normalize,
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from gpunet.losses.reduction import (  # noqa: F401
    _weights,
    reduce_loss,
)
from gpunet.registry import lookup

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = binary_crossentropy
logcosh = log_cosh


def get(identifier: Any):
    """A loss from a name (``"mse"``, ``"Huber"``), a config, a ``Loss`` or a callable.

    Raises:
        ValueError: for an unknown name, listing the closest known names.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        obj = lookup(_KIND, identifier)
        return obj() if isinstance(obj, type) else obj
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret loss identifier: {identifier!r}")


def deserialize(config: Any, custom_objects: dict | None = None):
    """Builds a loss from a name or a ``{"class_name", "config"}`` dict."""
    if isinstance(config, str):
        obj = lookup(_KIND, config, custom_objects)
        return obj() if isinstance(obj, type) else obj
    if isinstance(config, dict):
        cls = lookup(_KIND, config["class_name"], custom_objects)
        cfg = dict(config.get("config") or {})
        if hasattr(cls, "from_config"):
            return cls.from_config(cfg)
        return cls(**cfg) if isinstance(cls, type) else cls
    return config


def serialize(loss: Any) -> Any:
    """The string or ``{"class_name", "config"}`` under which a loss is saved."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    return getattr(loss, "__name__", loss)
