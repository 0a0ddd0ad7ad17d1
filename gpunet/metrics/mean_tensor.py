"""Keras 2 (tf.keras) reduction metrics that Keras 3 dropped: ``MeanRelativeError`` and
``MeanTensor``.

Example:

>>> m = gpunet.metrics.MeanTensor()
>>> m.update_state([0, 1, 2, 3])
>>> m.update_state([4, 5, 6, 7])
>>> m.result()              # element-wise mean: [2, 3, 4, 5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend import backend_of, get_backend
from gpunet.metrics.base import (
    _KIND,
    ACC,
    Mean,
    Metric,
    as_float,
    div0,
    squeeze_or_expand,
    to_array,
)
from gpunet.registry import register


@register(_KIND, "mean_relative_error")
class MeanRelativeError(Mean):
    """Running (weighted) mean of ``|y_true - y_pred| / normalizer`` (0 where the normalizer
    is 0).

    Args:
        normalizer: a number or array broadcastable to ``y_pred`` (e.g. ``y_true`` of a
            reference model, or a per-feature scale).
        name: log key (default ``"mean_relative_error"``).
        dtype: kept for Keras compatibility.

    Example:

    >>> m = MeanRelativeError(normalizer=[1, 3, 2, 3])
    >>> m.update_state([1, 3, 2, 3], [2, 4, 6, 8])
    >>> float(m.result())       # mean([1/1, 1/3, 4/2, 5/3])
    1.25
    """

    def __init__(self, normalizer: Any, name: str = "mean_relative_error",
                 dtype: Any = None) -> None:
        super().__init__(name, dtype)
        self.normalizer = normalizer
        self._norm_cache: dict = {}

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        p = as_float(to_array(y_pred))
        t = to_array(y_true, p).astype(p.dtype, copy=False)
        p, t = squeeze_or_expand(p, t)
        if tuple(t.shape) != tuple(p.shape):
            raise ValueError(f"Metric '{self.name}': y_true and y_pred must have the same "
                             f"shape. Received: y_true.shape={tuple(t.shape)}, "
                             f"y_pred.shape={tuple(p.shape)}.")
        b = backend_of(p)
        norm = self._norm_cache.get(id(b))
        if norm is None:
            norm = self._norm_cache[id(b)] = to_array(self.normalizer, p).astype(ACC)
        if norm.ndim == p.ndim + 1 and norm.shape[-1] == 1:
            norm = norm.reshape(norm.shape[:-1])
        err = div0(b.xp, b.xp.abs(t - p).astype(ACC), norm)
        super().update_state(err, sample_weight)

    def get_config(self) -> dict:
        n = self.normalizer
        if hasattr(n, "shape"):
            n = np.asarray(backend_of(n).to_numpy(n)).tolist()
        return {**super().get_config(), "normalizer": n}


@register(_KIND, "mean_tensor")
class MeanTensor(Metric):
    """Element-wise (weighted) running mean of same-shaped value arrays.

    ``result()`` is ``total / count`` per element, where ``total`` sums ``values * w`` and
    ``count`` sums the weights ``w`` (1 without ``sample_weight``); 0 where ``count`` is 0.

    Args:
        name: log key (default ``"mean_tensor"``).
        dtype: kept for Keras compatibility.
        shape: the shape of the values; if ``None``, taken from the first update.

    Example:

    >>> m = MeanTensor()
    >>> m.update_state([0, 1, 2, 3], sample_weight=[1, 0.5, 0, 1])
    >>> m.update_state([4, 5, 6, 7], sample_weight=[1, 0.5, 1, 0])
    >>> m.result()              # [2, 3, 6, 3]
    """

    def __init__(self, name: str = "mean_tensor", dtype: Any = None,
                 shape: Any = None) -> None:
        super().__init__(name, dtype)
        self._shape = None if shape is None else tuple(int(d) for d in shape)
        self.total: Any = None
        self.count: Any = None

    def _build(self, xp: Any) -> None:
        self.total = xp.zeros(self._shape, dtype=ACC)
        self.count = xp.zeros(self._shape, dtype=ACC)

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        v = as_float(to_array(values)).astype(ACC)
        xp = backend_of(v).xp
        if self._shape is None:
            self._shape = tuple(v.shape)
        if tuple(v.shape) != self._shape:
            raise ValueError("MeanTensor input values must always have the same shape. "
                             f"Expected shape (set during the first call): {self._shape}. "
                             f"Got: {tuple(v.shape)}.")
        if self.total is None:
            self._build(xp)
        n = xp.ones_like(v)
        if sample_weight is not None:
            w = as_float(to_array(sample_weight, v)).astype(ACC)
            v, w = squeeze_or_expand(v, w)
            try:
                w = xp.broadcast_to(w, v.shape)
            except ValueError:
                raise ValueError(f"MeanTensor: sample_weight of shape {tuple(w.shape)} "
                                 f"cannot be broadcast to values of shape {self._shape}.") \
                    from None
            v, n = v * w, w
        self.total += v.reshape(self._shape)
        self.count += n.reshape(self._shape)

    def result(self) -> Any:
        if self.total is None:
            if self._shape is None:
                raise ValueError("MeanTensor does not have any value yet. Please call the "
                                 "MeanTensor instance or use `.update_state(value)` before "
                                 "retrieving the result.")
            self._build(get_backend().xp)
        return div0(backend_of(self.total).xp, self.total, self.count)

    def reset_state(self) -> None:
        if self.total is not None:
            self.total.fill(0)
            self.count.fill(0)

    def get_config(self) -> dict:
        return {**super().get_config(),
                "shape": None if self._shape is None else list(self._shape)}
