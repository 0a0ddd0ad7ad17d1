"""Keras losses: per-sample functions and ``Loss`` classes with reduction and sample weights.

Every built-in loss aligns ranks (``[N]`` labels against ``[N, 1]`` predictions), reduces
the last axis to a per-sample value, multiplies sample weights in, then reduces with
``"sum_over_batch_size"`` (sum / number of elements, not / sum of weights), ``"sum"`` or
``"none"``. When ``y_pred`` comes straight out of a softmax or sigmoid and
``from_logits=False``, the cross-entropies use the remembered logits (stable and fused,
as TensorFlow's Keras does).
"""

from __future__ import annotations

from typing import Any

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, epsilon
from gpunet.ops._utils import as_tensor
from gpunet.registry import lookup, register, snake_case

_KIND = "loss"
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight", None)


def _align(y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor]:
    """Keras's ``squeeze_or_expand_to_same_rank`` for (y_true, y_pred)."""
    rt, rp = y_true.ndim, y_pred.ndim
    if rt == rp - 1 and y_pred.shape[-1] == 1:
        if rt == 1 or True:
            y_true = ops.expand_dims(y_true, -1)
    elif rp == rt - 1 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    return y_true, y_pred


def _prep(y_true: Any, y_pred: Any) -> tuple[Tensor, Tensor]:
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, y_pred.data)
    if y_true.dtype != y_pred.dtype:
        y_true = Tensor(y_true.data.astype(y_pred.dtype))
    return _align(y_true, y_pred)


def _check_same_shape(name: str, y_true: Tensor, y_pred: Tensor, hint: str = "") -> None:
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            f"Loss '{name}': y_true and y_pred must have the same shape. Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}.{hint}"
        )


# -- per-sample loss functions --------------------------------------------------------------
@register(_KIND)
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y_true * log(y_pred))`` over the last axis, per sample.

    Args:
        y_true: one-hot (or probability) targets, shape ``[N, K]``.
        y_pred: probabilities (or logits with ``from_logits=True``), shape ``[N, K]``.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; targets become ``y * (1 - s) + s / K``.
    """
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true, y_pred.data)
    if y_true.ndim == y_pred.ndim - 1 or (y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1
                                           and y_pred.shape[-1] > 1):
        raise ValueError(
            "Loss 'categorical_crossentropy' expects one-hot targets of shape "
            f"{tuple(y_pred.shape)}, but received integer-like targets of shape "
            f"{tuple(y_true.shape)}. Use 'sparse_categorical_crossentropy' for integer labels "
            "(or one-hot them with gpunet.utils.to_categorical)."
        )
    _check_same_shape("categorical_crossentropy", y_true, y_pred)
    t = y_true.data.astype(y_pred.dtype, copy=False)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    logits = y_pred if from_logits else y_pred._logits
    if logits is not None:
        return ops.softmax_cross_entropy(logits, t)
    eps = epsilon()
    q = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
    q = ops.clip(q, eps, 1.0 - eps)
    return -ops.sum(ops.log(q) * t, axis=axis)


@register(_KIND)
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy with integer labels ``y_true`` (shape ``[N]`` or ``[N, 1]``), per sample."""
    y_pred = as_tensor(y_pred)
    lab = y_true.data if isinstance(y_true, Tensor) else y_true
    b = backend_of(y_pred.data)
    lab = b.asarray(lab)
    if lab.ndim == y_pred.ndim and lab.shape[-1] == 1:
        lab = lab.reshape(lab.shape[:-1])
    if tuple(lab.shape) != tuple(y_pred.shape[:-1]):
        hint = ""
        if tuple(lab.shape) == tuple(y_pred.shape):
            hint = (" The targets look one-hot encoded: use 'categorical_crossentropy' "
                    "for one-hot targets.")
        raise ValueError(
            "Loss 'sparse_categorical_crossentropy' expects integer targets of shape "
            f"{tuple(y_pred.shape[:-1])} (or with a trailing 1) for predictions of shape "
            f"{tuple(y_pred.shape)}. Received targets of shape {tuple(lab.shape)}.{hint}"
        )
    xp = b.xp
    k = y_pred.shape[-1]
    valid = None
    if ignore_class is not None:
        valid = lab != ignore_class
        lab = xp.where(valid, lab, 0)
    labi = lab.astype(xp.int64)
    if lab.size and b.name == "numpy":
        lo, hi = int(labi.min()), int(labi.max())
        if lo < 0 or hi >= k:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"Received a label value of {bad} which is outside the valid range of "
                f"[0, {k - 1}] for loss 'sparse_categorical_crossentropy' (predictions have "
                f"{k} classes)."
            )
    logits = y_pred if from_logits else y_pred._logits
    if logits is not None:
        loss = ops.sparse_softmax_cross_entropy(logits, labi)
    else:
        eps = epsilon()
        q = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        q = ops.clip(q, eps, 1.0 - eps)
        onehot = (labi[..., None] == xp.arange(k)).astype(y_pred.dtype)
        loss = -ops.sum(ops.log(q) * onehot, axis=-1)
    if valid is not None:
        loss = loss * valid.astype(loss.dtype)
    return loss


@register(_KIND, "bce")
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over the last axis of ``-(y log p + (1 - y) log(1 - p))``, per sample."""
    y_true, y_pred = _prep(y_true, y_pred)
    _check_same_shape("binary_crossentropy", y_true, y_pred)
    t = y_true.data
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = y_pred if from_logits else y_pred._logits
    if logits is not None and tuple(logits.shape) == tuple(y_pred.shape):
        return ops.mean(ops.sigmoid_cross_entropy(logits, t), axis=axis)
    eps = epsilon()
    p = ops.clip(y_pred, eps, 1.0 - eps)
    return -ops.mean(ops.log(p) * t + ops.log(1.0 - p) * (1.0 - t), axis=axis)


@register(_KIND, "mse", "MSE")
def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred) ** 2)`` over the last axis."""
    y_true, y_pred = _prep(y_true, y_pred)
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


@register(_KIND, "mae", "MAE")
def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|)`` over the last axis."""
    y_true, y_pred = _prep(y_true, y_pred)
    return ops.mean(ops.abs(y_pred - y_true), axis=-1)


# -- Loss classes -----------------------------------------------------------------------------
def reduce_loss(values: Tensor, sample_weight: Any = None, reduction: str | None = "sum_over_batch_size"):
    """Applies sample weights (broadcast from ``[N]``) and the reduction to per-sample values."""
    if sample_weight is not None:
        w = sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight
        w = backend_of(values.data).asarray(w).astype(values.dtype, copy=False)
        while w.ndim > values.ndim and w.shape[-1] == 1:
            w = w.reshape(w.shape[:-1])
        while w.ndim < values.ndim:
            w = w[..., None]
        values = values * w
        if reduction == "mean_with_sample_weight":
            total = w.sum() if w.shape == values.shape else (w * values.data * 0 + w).sum()
            return ops.sum(values) / max(float(total), 1e-12)
    if reduction in (None, "none"):
        return values
    if reduction == "sum":
        return ops.sum(values)
    n = values.size
    return ops.sum(values) / n if n else ops.sum(values)


class Loss:
    """Base class of losses: ``loss(y_true, y_pred, sample_weight=None)`` → scalar Tensor.

    Args:
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"none"`` (also
            ``"mean"`` and ``"mean_with_sample_weight"``).
        name: the name shown in logs.
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: Any = None) -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                             f"Expected one of {REDUCTIONS}.")
        self.reduction = reduction
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype

    def call(self, y_true, y_pred) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        return reduce_loss(self.call(y_true, y_pred), sample_weight, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a per-sample function with extra keyword arguments."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(reduction, name or fn.__name__, dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


def _loss_class(cls_name: str, fn, defaults: dict, doc: str):
    keys = list(defaults)

    def __init__(self, *args, reduction="sum_over_batch_size", name=None, dtype=None, **kw):
        vals = dict(defaults)
        for k, v in zip(keys, args):
            vals[k] = v
        unknown = set(kw) - set(keys)
        if unknown:
            raise TypeError(f"{cls_name}() got unexpected keyword arguments {sorted(unknown)}")
        vals.update(kw)
        LossFunctionWrapper.__init__(self, fn, reduction, name or fn.__name__, dtype, **vals)

    cls = type(cls_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc})
    register(_KIND)(cls)
    return cls


CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy", categorical_crossentropy,
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "Categorical cross-entropy for one-hot targets.")
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
    {"from_logits": False, "ignore_class": None, "axis": -1},
    "Categorical cross-entropy for integer targets.")
BinaryCrossentropy = _loss_class(
    "BinaryCrossentropy", binary_crossentropy,
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "Binary cross-entropy for 0/1 (or probability) targets.")
MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, {},
                               "Mean of squared errors over the last axis.")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, {},
                                "Mean of absolute errors over the last axis.")

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
bce = binary_crossentropy


def get(identifier: Any):
    """A loss from a name (``"mse"``, ``"categorical_crossentropy"``), a config or a callable."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        return lookup(_KIND, identifier)
    if isinstance(identifier, dict):
        cls = lookup(_KIND, identifier["class_name"])
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret loss identifier: {identifier!r}")


def serialize(loss: Any) -> Any:
    """The string or ``{"class_name", "config"}`` under which a loss is saved."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    return getattr(loss, "__name__", loss)
