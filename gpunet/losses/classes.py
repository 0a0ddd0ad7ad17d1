"""``Loss`` and the Keras loss classes (each a configurable wrapper of a function)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.losses._common import (  # noqa: F401
    _KIND,
    REDUCTIONS,
    _check_args,
)
from gpunet.losses.functions import (  # noqa: F401
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
    reduce_loss,
)
from gpunet.registry import lookup, register, snake_case


class Loss:
    """Base class of losses: ``loss(y_true, y_pred, sample_weight=None)`` → scalar Tensor.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample values written with
    ``gpunet.ops`` (so gradients flow).

    Args:
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"none"`` (also
            ``"mean"`` and ``"mean_with_sample_weight"``).
        name: the name shown in logs.
        dtype: the dtype of the computation: floating ``y_pred`` and ``y_true`` in another
            dtype are cast to it first, as Keras 3's ``Loss`` converts its inputs. Default
            ``None``: half-precision inputs (float16 / bfloat16 outputs of a mixed-precision
            model) are cast to ``floatx()``; wider ones are left as they are.

    Example:

    >>> class MyLoss(gpunet.losses.Loss):
    ...     def call(self, y_true, y_pred):
    ...         return gpunet.ops.mean(gpunet.ops.abs(y_pred - y_true), axis=-1)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None,
                 dtype: Any = None) -> None:
        if reduction == "auto":
            reduction = "sum_over_batch_size"
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                             f"Expected one of {REDUCTIONS}.")
        self.reduction = reduction
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        y_true, y_pred = to_loss_dtype(y_true, y_pred, self.dtype)
        values = self.call(y_true, y_pred)
        if not isinstance(values, Tensor):
            raise TypeError(f"{type(self).__name__}.call() must return a Tensor (write it with "
                            f"gpunet.ops); it returned {type(values).__name__}.")
        mask = values._keras_mask
        if mask is None and isinstance(y_pred, Tensor) and y_pred._keras_mask is not None:
            pm = y_pred._keras_mask
            pm = pm.data if isinstance(pm, Tensor) else pm
            mask = pm if tuple(pm.shape) == tuple(values.shape) else None
        return reduce_loss(values, sample_weight, self.reduction, mask)

    def get_config(self) -> dict:
        cfg = {"name": self.name, "reduction": self.reduction}
        if self.dtype is not None:
            cfg["dtype"] = self.dtype
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


def to_loss_dtype(y_true: Any, y_pred: Any, dtype: Any = None) -> tuple:
    """``y_true`` and ``y_pred`` with their floating arrays in ``dtype``; ``y_pred`` is cast
    differentiably, masks kept; integer labels stay. ``dtype=None``: half-precision arrays
    to ``floatx()``, the others as they are."""
    from gpunet.backend import floatx

    dt = np.dtype(dtype or floatx())
    if dtype is None and not (isinstance(y_pred, Tensor) and y_pred.data.dtype.itemsize < 4):
        return y_true, y_pred
    if isinstance(y_pred, Tensor) and y_pred.data.dtype != dt and _is_float(y_pred.data.dtype):
        mask = y_pred._keras_mask
        y_pred = ops.cast(y_pred, dt)
        y_pred._keras_mask = mask
    data = y_true.data if isinstance(y_true, Tensor) else y_true
    d = getattr(data, "dtype", None)
    if d is not None and d != dt and _is_float(d):
        y_true = (ops.cast(y_true, dt) if isinstance(y_true, Tensor) and y_true.requires_grad
                  else data.astype(dt))
    return y_true, y_pred


def _is_float(d: Any) -> bool:
    return d.kind == "f" or d.name == "bfloat16"


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the per-sample loss function (built-in or custom, written with ``gpunet.ops``).
        reduction, name, dtype: as for ``Loss``.
        **kwargs: passed to ``fn`` on every call.
    """

    def __init__(self, fn, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(reduction, name or getattr(fn, "__name__", None), dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict:
        cfg = super().get_config()
        if type(self) is LossFunctionWrapper:
            cfg["fn"] = getattr(self.fn, "__name__", str(self.fn))
        return {**cfg, **self.fn_kwargs}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        config = dict(config)
        if "fn" in config:
            fn = config.pop("fn")
            return cls(lookup(_KIND, fn) if isinstance(fn, str) else fn, **config)
        return cls(**config)


def _loss_class(cls_name: str, fn, defaults: dict, default_name: str, doc: str):
    """A ``LossFunctionWrapper`` subclass with Keras's signature ``(*fn_args, reduction, name,
    dtype)``; hyper-parameters are checked at construction."""
    order = [*defaults, "reduction", "name", "dtype"]

    def __init__(self, *args, **kw):
        if len(args) > len(order):
            raise TypeError(f"{cls_name}() takes at most {len(order)} positional arguments "
                            f"({len(args)} given)")
        vals = dict(zip(order, args))
        both = set(vals) & set(kw)
        if both:
            raise TypeError(f"{cls_name}() got multiple values for argument(s) {sorted(both)}")
        vals.update(kw)
        unknown = set(vals) - set(order)
        if unknown:
            raise TypeError(f"{cls_name}() got unexpected keyword argument(s) {sorted(unknown)}; "
                            f"expected some of {order}")
        fn_kwargs = {k: vals.get(k, v) for k, v in defaults.items()}
        _check_args(cls_name, fn_kwargs)
        LossFunctionWrapper.__init__(self, fn, vals.get("reduction", "sum_over_batch_size"),
                                     vals.get("name") or default_name, vals.get("dtype"),
                                     **fn_kwargs)

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v)
               for k, v in {**defaults, "reduction": "sum_over_batch_size",
                            "name": default_name, "dtype": None}.items()]
    __init__.__signature__ = inspect.Signature(params)
    cls = type(cls_name, (LossFunctionWrapper,),
               {"__init__": __init__, "__doc__": doc, "__module__": __name__})
    return register(_KIND)(cls)


_CE = {"from_logits": False, "label_smoothing": 0.0, "axis": -1}
CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy", categorical_crossentropy, _CE, "categorical_crossentropy",
    "Categorical cross-entropy for one-hot targets (see ``categorical_crossentropy``).")
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
    {"from_logits": False, "ignore_class": None}, "sparse_categorical_crossentropy",
    "Categorical cross-entropy for integer targets; ``ignore_class`` entries leave the mean.")
BinaryCrossentropy = _loss_class(
    "BinaryCrossentropy", binary_crossentropy, dict(_CE), "binary_crossentropy",
    "Binary cross-entropy for 0/1 (or probability) targets (see ``binary_crossentropy``).")
MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, {},
                               "mean_squared_error", "Mean of squared errors, last axis.")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, {},
                                "mean_absolute_error", "Mean of absolute errors, last axis.")
MeanAbsolutePercentageError = _loss_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, {},
    "mean_absolute_percentage_error", "``100 * mean(|y - p| / max(|y|, eps))``, last axis.")
MeanSquaredLogarithmicError = _loss_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, {},
    "mean_squared_logarithmic_error", "Mean squared error of ``log(x + 1)``, last axis.")
Hinge = _loss_class("Hinge", hinge, {}, "hinge", "Hinge loss; {0, 1} labels map to {-1, 1}.")
SquaredHinge = _loss_class("SquaredHinge", squared_hinge, {}, "squared_hinge",
                           "Squared hinge loss; {0, 1} labels map to {-1, 1}.")
CategoricalHinge = _loss_class("CategoricalHinge", categorical_hinge, {}, "categorical_hinge",
                               "Categorical hinge loss ``max(neg - pos + 1, 0)``.")
KLDivergence = _loss_class("KLDivergence", kl_divergence, {}, "kl_divergence",
                           "Kullback-Leibler divergence ``sum(y log(y / p))``.")
Poisson = _loss_class("Poisson", poisson, {}, "poisson", "Poisson loss ``mean(p - y log p)``.")
Huber = _loss_class("Huber", huber, {"delta": 1.0}, "huber_loss",
                    "Huber loss: quadratic below ``delta``, linear above.")
LogCosh = _loss_class("LogCosh", log_cosh, {}, "log_cosh",
                      "Mean of ``log(cosh(y_pred - y_true))``.")
CosineSimilarity = _loss_class("CosineSimilarity", cosine_similarity, {"axis": -1},
                               "cosine_similarity", "Negative cosine similarity over ``axis``.")


@register(_KIND, "crossentropy", "ce")
class AutoCrossentropy(Loss):
    """``"crossentropy"``/``"ce"``: binary, sparse or categorical chosen from the shapes at the
    first call, as Keras resolves it in ``compile`` (one output unit → binary; integer-like
    targets → sparse; else categorical)."""

    def __init__(self, reduction="sum_over_batch_size", name="crossentropy", dtype=None):
        super().__init__(reduction, name, dtype)
        self.fn = None

    def call(self, y_true, y_pred):
        if self.fn is None:
            ts, ps = tuple(getattr(y_true, "shape", ())), tuple(y_pred.shape)
            if ps[-1] == 1:
                self.fn = binary_crossentropy
            elif len(ts) < len(ps) or (ts and ts[-1] == 1):
                self.fn = sparse_categorical_crossentropy
            else:
                self.fn = categorical_crossentropy
        return self.fn(y_true, y_pred)
