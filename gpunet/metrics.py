"""Keras metrics with on-device accumulators (read back only when ``result()`` is shown).

``update_state`` works on raw arrays of the model's backend and never copies to the host;
``result()`` returns a 0-d device array; ``float(metric.result())`` syncs.
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.registry import lookup, register, snake_case

_KIND = "metric"


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


class Metric:
    """Base class: ``update_state``, ``result``, ``reset_state``, ``get_config``.

    Args:
        name: the key under which the metric appears in logs.
        dtype: accumulator dtype (default float32... accumulated in float64 on the device).
    """

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype
        self._xp = None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)


class Mean(Metric):
    """Weighted running mean of the values given to ``update_state(values, sample_weight)``."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name, dtype)
        self.total = 0.0
        self.count = 0.0

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        v = _raw(values)
        if sample_weight is None:
            self.total = self.total + v.sum()
            self.count = self.count + v.size
            return
        w = backend_of(v).asarray(_raw(sample_weight)).astype(v.dtype, copy=False)
        while w.ndim > v.ndim:
            w = w.reshape(w.shape[:-1]) if w.shape[-1] == 1 else w
            if w.ndim > v.ndim:
                break
        while w.ndim < v.ndim:
            w = w[..., None]
        w = backend_of(v).xp.broadcast_to(w, v.shape)
        self.total = self.total + (v * w).sum()
        self.count = self.count + w.sum()

    def update_total(self, total, count) -> None:
        """Adds a pre-weighted sum and its weight (used by the training loop for the loss)."""
        self.total = self.total + total
        self.count = self.count + count

    def result(self):
        c = self.count
        if isinstance(c, float) and c == 0.0:
            return 0.0
        return self.total / c if not isinstance(c, float) else self.total / c


@register(_KIND)
class Sum(Mean):
    """Weighted running sum."""

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(name, dtype)

    def result(self):
        return self.total


register(_KIND)(Mean)


class MeanMetricWrapper(Mean):
    """Running mean of a per-sample function ``fn(y_true, y_pred, **kwargs)`` on raw arrays."""

    def __init__(self, fn, name: str | None = None, dtype: Any = None, **kwargs) -> None:
        super().__init__(name or fn.__name__, dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self.fn(_raw(y_true), _raw(y_pred), **self.fn_kwargs), sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self.fn_kwargs}


# -- per-sample accuracy functions on raw arrays ----------------------------------------------
def _labels(y_true, y_pred):
    b = backend_of(y_pred)
    t = b.asarray(y_true)
    if t.ndim == y_pred.ndim and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    return b.xp, t


@register(_KIND)
def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where ``(y_pred > threshold) == y_true``, averaged over the last axis."""
    b = backend_of(y_pred)
    t = b.asarray(y_true)
    if t.ndim == y_pred.ndim - 1:
        t = t[..., None]
    hit = (y_pred > threshold) == (t > 0.5)
    return hit.astype(y_pred.dtype).mean(axis=-1)


@register(_KIND)
def categorical_accuracy(y_true, y_pred):
    """1 where ``argmax(y_pred) == argmax(y_true)``."""
    b = backend_of(y_pred)
    t = b.asarray(y_true)
    return (t.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(y_pred.dtype)


@register(_KIND)
def sparse_categorical_accuracy(y_true, y_pred):
    """1 where ``argmax(y_pred) == y_true`` (integer labels)."""
    _, t = _labels(y_true, y_pred)
    return (y_pred.argmax(axis=-1) == t).astype(y_pred.dtype)


def _wrapper_class(cls_name: str, fn, defaults: dict, default_name: str, doc: str):
    keys = list(defaults)

    def __init__(self, name=default_name, dtype=None, **kw):
        vals = {**defaults, **{k: v for k, v in kw.items() if k in keys}}
        MeanMetricWrapper.__init__(self, fn, name, dtype, **vals)

    cls = type(cls_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc})
    register(_KIND)(cls)
    return cls


BinaryAccuracy = _wrapper_class("BinaryAccuracy", binary_accuracy, {"threshold": 0.5},
                                "binary_accuracy", "Share of thresholded predictions that match.")
CategoricalAccuracy = _wrapper_class("CategoricalAccuracy", categorical_accuracy, {},
                                     "categorical_accuracy", "Share of argmax matches (one-hot).")
SparseCategoricalAccuracy = _wrapper_class(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, {},
    "sparse_categorical_accuracy", "Share of argmax matches (integer labels).")


def resolve_accuracy(name: str, y_true_shape: tuple, y_pred_shape: tuple) -> Metric:
    """Keras's choice of accuracy for ``"accuracy"``/``"acc"`` from the target/output shapes."""
    if y_pred_shape[-1] == 1:
        fn = binary_accuracy
    elif len(y_true_shape) < len(y_pred_shape) or (
        y_true_shape[-1] == 1 and y_pred_shape[-1] > 1
    ):
        fn = sparse_categorical_accuracy
    else:
        fn = categorical_accuracy
    return MeanMetricWrapper(fn, name=name)


def get(identifier: Any, y_true_shape: tuple | None = None, y_pred_shape: tuple | None = None,
        loss: Any = None) -> Metric:
    """A ``Metric`` from a name, config, instance or per-sample function.

    ``"accuracy"``/``"acc"`` is resolved from the shapes as Keras does.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return resolve_accuracy(identifier, y_true_shape, y_pred_shape)
        obj = lookup(_KIND, identifier)
        if isinstance(obj, type):
            return obj()
        return MeanMetricWrapper(obj, name=identifier)
    if isinstance(identifier, dict):
        cls = lookup(_KIND, identifier["class_name"])
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return MeanMetricWrapper(_as_array_fn(identifier), name=identifier.__name__)
    raise TypeError(f"Could not interpret metric identifier: {identifier!r}")


def _as_array_fn(fn):
    """Wraps a loss-style function of Tensors so it returns raw arrays."""

    def wrapped(y_true, y_pred, **kw):
        from gpunet.autograd.engine import no_grad

        with no_grad():
            out = fn(y_true, Tensor(y_pred), **kw)
        return _raw(out)

    wrapped.__name__ = getattr(fn, "__name__", "metric")
    return wrapped
