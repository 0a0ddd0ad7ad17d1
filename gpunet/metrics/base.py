"""Metric base classes with on-device accumulators: ``Metric``, ``Mean``, ``Sum``,
``MeanMetricWrapper``, and the helpers the metric modules share.

``update_state`` works on raw arrays (or Tensors, or lists) of the model's backend and never
copies to the host; accumulators are 0-d (or small 1-d) float64 arrays on the device, and
``result()`` returns a device array; ``float(metric.result())`` is where the host sync happens.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, floatx, get_backend
from gpunet.registry import lookup, register, snake_case

_KIND = "metric"
ACC = "float64"


def raw(x: Any) -> Any:
    """The raw array behind a Tensor (other values unchanged)."""
    return x.data if isinstance(x, Tensor) else x


def to_array(x: Any, like: Any = None) -> Any:
    """``x`` (Tensor, array, list or number) as an array of ``like``'s backend (or its own)."""
    if x.__class__ is np.ndarray and (like is None or like.__class__ is np.ndarray):
        return x  # the common case: host arrays, nothing to convert
    x = raw(x)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        if like is None:
            return x
        b = backend_of(like)
        return x if backend_of(x) is b else b.asarray(x)
    b = backend_of(like) if like is not None else get_backend()
    return b.asarray(np.asarray(x))


def as_float(x: Any) -> Any:
    """A float array (integers and booleans become ``floatx``)."""
    return x if x.dtype.kind == "f" else x.astype(floatx())


def squeeze_or_expand(x1: Any, x2: Any, expand_rank_1: bool = True) -> tuple[Any, Any]:
    """Keras's ``squeeze_or_expand_to_same_rank`` on raw arrays."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1.reshape(x1.shape[:-1])
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2.reshape(x2.shape[:-1])
    return x1, x2


def div0(xp: Any, a: Any, b: Any) -> Any:
    """``a / b`` with 0 where ``b == 0`` (Keras's ``divide_no_nan``), on the device."""
    if isinstance(b, (int, float)):
        return a / b if b else a * 0.0
    nz = b != 0
    return xp.where(nz, a / xp.where(nz, b, 1), 0)


class Metric:
    """Base class: ``update_state``, ``result``, ``reset_state``, ``get_config``.

    Args:
        name: the key under which the metric appears in logs.
        dtype: kept for Keras compatibility (accumulators are float64 on the device).

    Example:

    >>> class CountPositives(gpunet.metrics.Metric):
    ...     def __init__(self, name="count_positives", dtype=None):
    ...         super().__init__(name, dtype)
    ...         self.reset_state()
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         self.count = self.count + (raw(y_pred) > 0.5).sum()
    ...     def result(self):
    ...         return self.count
    ...     def reset_state(self):
    ...         self.count = 0.0
    """

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    def reset_state(self) -> None:
        """Sets every state variable made with ``add_variable`` back to zeros (as Keras 3);
        metrics keeping their state otherwise override it."""
        for v in self.variables:
            v.assign(backend_of(v.data).xp.zeros(v.shape, dtype=v.dtype))

    def add_variable(self, shape: Any, initializer: Any, dtype: Any = None,
                     aggregation: str = "sum", name: str | None = None) -> Any:
        """Creates a non-trainable state variable of the metric (Keras 3's
        ``Metric.add_variable``), listed in ``metric.variables`` and zeroed by the default
        ``reset_state``.

        Args:
            shape: the variable's shape, e.g. ``()``.
            initializer: an initializer or its name, e.g. ``"zeros"``.
            dtype: the dtype (default: the metric's ``dtype``, else ``floatx()``).
            aggregation: accepted for Keras compatibility (``"sum"``, ``"mean"``, ...).
            name: the variable's name.

        Returns:
            The ``Variable``; update it with ``assign``/``assign_add``/``assign_sub``.
        """
        from gpunet.autograd.variable import Variable
        from gpunet.initializers import get as get_initializer

        del aggregation
        dtype = dtype or self.__dict__.get("dtype") or floatx()
        variable = Variable(get_initializer(initializer), shape=tuple(shape), dtype=dtype,
                            trainable=False, name=name or "variable")
        self.__dict__.setdefault("_state_variables", []).append(variable)
        return variable

    def add_weight(self, shape: Any = (), initializer: Any = None, dtype: Any = None,
                   name: str | None = None) -> Any:
        """Keras's alias of ``add_variable`` (``initializer`` None means zeros)."""
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    @property
    def variables(self) -> list:
        """The state variables made with ``add_variable``, in creation order."""
        return list(self.__dict__.get("_state_variables", []))

    def reset_states(self) -> None:
        """Keras 2 spelling of ``reset_state``."""
        self.reset_state()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Updates the state with this batch and returns the running result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _samplewise(values: Any, sample_weight: Any, reduce: str) -> tuple[Any, Any]:
    """Keras's ``reduce_to_samplewise_values``: weights in, values reduced to one per sample."""
    w = None
    if sample_weight is not None:
        xp = backend_of(values).xp
        w = as_float(to_array(sample_weight, values)).astype(values.dtype, copy=False)
        values, w = squeeze_or_expand(values, w)
        if values.ndim > w.ndim:
            values = getattr(values, reduce)(axis=tuple(range(w.ndim, values.ndim)))
        try:
            w = xp.broadcast_to(w, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {tuple(w.shape)} cannot be broadcast to "
                             f"the metric values of shape {tuple(values.shape)}.") from None
        values = values * w
        if w.ndim > 1:
            w = getattr(w, reduce)(axis=tuple(range(1, w.ndim)))
    if values.ndim > 1:
        values = getattr(values, reduce)(axis=tuple(range(1, values.ndim)))
    return values, w


@register(_KIND)
class Mean(Metric):
    """Weighted running mean of the values given to ``update_state(values, sample_weight)``.

    Values are first reduced to one per sample (mean over the non-batch axes); the result is
    ``sum(v * w) / sum(w)`` over everything seen since the last reset (0 when nothing was).

    Example:

    >>> m = Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> float(m.result())
    2.0
    """

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        v = as_float(to_array(values))
        v, w = _samplewise(v, sample_weight, "mean")
        n = w.sum(dtype=ACC) if w is not None else (v.shape[0] if v.ndim else 1)
        self.total = self.total + v.sum(dtype=ACC)
        self.count = self.count + n

    def update_total(self, total: Any, count: Any) -> None:
        """Adds a pre-weighted sum and its weight (used by the training loop for the loss)."""
        self.total = self.total + total
        self.count = self.count + count

    def result(self) -> Any:
        if isinstance(self.count, (int, float)) and isinstance(self.total, (int, float)):
            return self.total / self.count if self.count else 0.0
        xp = backend_of(self.total if hasattr(self.total, "shape") else self.count).xp
        return div0(xp, self.total, self.count)


@register(_KIND)
class Sum(Metric):
    """Weighted running sum of the values given to ``update_state(values, sample_weight)``."""

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        v, _ = _samplewise(as_float(to_array(values)), sample_weight, "sum")
        self.total = self.total + v.sum(dtype=ACC)

    def result(self) -> Any:
        return self.total


@register(_KIND)
class MeanMetricWrapper(Mean):
    """Running mean of a per-sample function ``fn(y_true, y_pred, **kwargs)`` on raw arrays.

    Args:
        fn: the metric function (receives raw backend arrays, returns per-sample values).
        name: the log key (default: ``fn.__name__``).
        **kwargs: passed to ``fn``.
    """

    def __init__(self, fn, name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        mask = y_pred._keras_mask if isinstance(y_pred, Tensor) else None
        p = to_array(y_pred)
        if p.dtype.itemsize < 4 and (p.dtype.kind == "f" or p.dtype.name == "bfloat16"):
            p = p.astype(self.dtype or floatx())  # half precision: in float32, as Keras 3
        values = raw(self.fn(to_array(y_true, p), p, **self.fn_kwargs))
        if (mask is None and sample_weight is None and getattr(values, "ndim", 0) == 1
                and values.dtype.kind == "f"):  # Mean.update_state's sums, without its steps
            self.total = self.total + values.sum(dtype=ACC)
            self.count = self.count + values.shape[0]
            return
        if mask is not None:
            mask = raw(mask).astype(values.dtype)
            if sample_weight is None:
                sample_weight = mask
            else:
                sw = as_float(to_array(sample_weight, values))
                mask, sw = squeeze_or_expand(mask, sw)
                sample_weight = sw * mask
        super().update_state(values, sample_weight)

    def get_config(self) -> dict:
        cfg = {"name": self.name, "dtype": self.dtype}
        if type(self) is MeanMetricWrapper:
            cfg["fn"] = getattr(self.fn, "__name__", str(self.fn))
        return {**cfg, **self.fn_kwargs}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        config = dict(config)
        if "fn" in config:
            fn = config.pop("fn")
            return cls(lookup(_KIND, fn) if isinstance(fn, str) else fn, **config)
        return cls(**config)


def wrapper_class(cls_name: str, fn, order: tuple, defaults: dict, doc: str,
                  validate=None, module: str = __name__):
    """A ``MeanMetricWrapper`` subclass with Keras's positional order ``order`` (argument
    names; ``name``/``dtype`` among them) and defaults; extra arguments go to ``fn``."""
    fn_keys = [k for k in order if k not in ("name", "dtype")]

    def __init__(self, *args, **kw):
        if len(args) > len(order):
            raise TypeError(f"{cls_name}() takes at most {len(order)} positional arguments")
        vals = dict(zip(order, args))
        both = set(vals) & set(kw)
        if both:
            raise TypeError(f"{cls_name}() got multiple values for argument(s) {sorted(both)}")
        vals.update(kw)
        unknown = set(vals) - set(order)
        if unknown:
            raise TypeError(f"{cls_name}() got unexpected keyword argument(s) "
                            f"{sorted(unknown)}; expected some of {list(order)}")
        full = {**defaults, **vals}
        fn_kwargs = {k: full[k] for k in fn_keys}
        if validate is not None:
            validate(cls_name, fn_kwargs)
        MeanMetricWrapper.__init__(self, fn, full["name"], full.get("dtype"), **fn_kwargs)

    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=defaults.get(k))
           for k in order])
    cls = type(cls_name, (MeanMetricWrapper,),
               {"__init__": __init__, "__doc__": doc, "__module__": module})
    return register(_KIND)(cls)


def array_metric(fn):
    """Marks ``fn`` as a metric function on raw arrays (``metrics.get`` wraps it directly)."""
    fn._gpunet_array_metric = True
    return fn


def loss_values(loss_fn, y_true: Any, y_pred: Any, **kwargs: Any) -> Any:
    """Evaluates a ``gpunet.losses`` function on raw arrays without recording a graph."""
    from gpunet.autograd.engine import no_grad

    with no_grad():
        return raw(loss_fn(y_true, Tensor(y_pred), **kwargs))
