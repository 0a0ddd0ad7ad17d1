"""``Normalization``: feature-wise standardisation with statistics from ``adapt``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.layers.layer import shape_str
from gpunet.layers.preprocessing._base import PreprocessingLayer, host
from gpunet.registry import register

_EPSILON = 1e-7  # keras.backend.epsilon()


def _batches(data: Any):
    """Yields host arrays from an array, a Sequence of ``(x, ...)`` batches or an iterable."""
    if isinstance(data, (np.ndarray, Tensor)) or hasattr(data, "__cuda_array_interface__"):
        yield host(data)
        return
    if hasattr(data, "__len__") and hasattr(data, "__getitem__") and not isinstance(
            data, (list, tuple)):
        data = (data[i] for i in range(len(data)))
    for batch in data:
        if isinstance(batch, (tuple, list)) and not np.isscalar(batch[0]):
            batch = batch[0]
        yield host(batch)


@register("layer")
class Normalization(PreprocessingLayer):
    """Standardises inputs: ``(x - mean) / sqrt(variance)`` per position of ``axis``.

    The statistics come from the constructor (``mean``, ``variance``: saved in the config) or
    from ``adapt(data)`` (saved as the non-trainable weights ``mean``, ``variance`` and
    ``count``, as in Keras 3). The divisor is ``max(sqrt(variance), 1e-7)``. Runs on the
    backend with differentiable ops.

    Args:
        axis: the axis (or axes) that keep separate statistics; ``None`` for one scalar mean
            and variance. Default ``-1`` (per feature).
        mean: optional mean (scalar or broadcastable to the kept axes).
        variance: optional variance, given together with ``mean``.
        invert: apply the inverse transform ``x * sqrt(variance) + mean``.

    Input shape:
        Arbitrary; the kept axes must have a known size.

    Output shape:
        Same as the input.

    Example:

    >>> layer = Normalization()
    >>> layer.adapt(np.array([[0.0, 7.0], [2.0, 9.0]]))
    >>> layer(np.array([[0.0, 7.0]])).numpy()
    array([[-1., -1.]], dtype=float32)
    """

    supports_masking = True

    def __init__(self, axis: int | tuple | None = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        self.axis = tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: when setting values directly, both `mean` and "
                             f"`variance` must be set. Received: mean={mean!r} and "
                             f"variance={variance!r}")
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ValueError(f"Normalization: `mean` and `variance` must have the same shape. "
                             f"Received shapes {np.shape(mean)} and {np.shape(variance)}.")
        self.input_mean = None if mean is None else np.asarray(mean).tolist()
        self.input_variance = None if variance is None else np.asarray(variance).tolist()
        self.invert = bool(invert)
        self.adapt_mean = self.adapt_variance = self.count = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Layer '{self.name}': all `axis` values must be in the range "
                             f"[-{ndim}, {ndim}) for inputs of rank {ndim}. Received "
                             f"axis={self.axis}, input shape {shape_str(tuple(input_shape))}.")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep:
            if input_shape[d] is None:
                raise ValueError(f"Layer '{self.name}': the kept axis {d} must have a known "
                                 f"size. Received input shape {shape_str(tuple(input_shape))}.")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._bshape = tuple(input_shape[d] if d in self._keep else 1 for d in range(ndim))
        self._build_shape = tuple(input_shape)
        self._stat_shape = tuple(input_shape[d] for d in self._keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight("mean", self._stat_shape, "zeros", trainable=False)
            self.adapt_variance = self.add_weight("variance", self._stat_shape, "ones",
                                                  trainable=False)
            self.count = self.add_weight("count", (), "zeros", dtype="int64", trainable=False)
        self.built = True

    def _constants(self, xp: Any) -> tuple:
        if self.input_mean is not None:
            mean, var = np.asarray(self.input_mean), np.asarray(self.input_variance)
            if mean.ndim:
                shape = [1] * len(self._bshape)
                for i in range(1, mean.ndim + 1):
                    shape[self._keep[-i]] = mean.shape[-i]
                mean, var = mean.reshape(shape), var.reshape(shape)
            mean = np.broadcast_to(mean, self._bshape)
            var = np.broadcast_to(var, self._bshape)
            mean, var = xp.asarray(mean, self.dtype), xp.asarray(var, self.dtype)
        else:
            mean = self.adapt_mean.data.reshape(self._bshape).astype(self.dtype)
            var = self.adapt_variance.data.reshape(self._bshape).astype(self.dtype)
        std = xp.maximum(xp.sqrt(var), xp.asarray(_EPSILON, self.dtype))
        return mean, std

    def adapt(self, data: Any) -> None:
        """Computes the mean and variance of ``data`` over the reduced axes.

        Args:
            data: an array, or a Sequence / iterable of batches (``x`` or ``(x, y)``); batches
                are combined exactly (pooled mean and variance).
        """
        total_mean = total_var = None
        total = 0
        for batch in _batches(data):
            batch = np.asarray(batch, dtype=np.float64)
            if not self.built:
                self.build((None,) + batch.shape[1:])
            elif any(batch.shape[d] != self._build_shape[d] for d in self._keep):
                raise ValueError(f"Layer '{self.name}' was built for input shape "
                                 f"{shape_str(self._build_shape)}, but adapt() received data "
                                 f"of shape {shape_str(batch.shape)}.")
            if self.input_mean is not None:
                raise ValueError(f"Layer '{self.name}': cannot adapt a Normalization layer "
                                 "built with a fixed `mean` and `variance`.")
            m, v = batch.mean(axis=self._reduce), batch.var(axis=self._reduce)
            n = math.prod(batch.shape[d] for d in self._reduce) if self._reduce else 1
            if total_mean is None:
                total_mean, total_var, total = m, v, n
                continue
            new_total = total + n
            w = n / new_total
            new_mean = total_mean * (1 - w) + m * w
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1 - w)
                         + (v + (m - new_mean) ** 2) * w)
            total_mean, total = new_mean, new_total
        if total_mean is None:
            raise ValueError(f"Layer '{self.name}': adapt() received no data (an empty "
                             "iterable).")
        self.adapt_mean.assign(total_mean.astype(self.dtype))
        self.adapt_variance.assign(total_var.astype(self.dtype))
        self.count.assign(np.asarray(total, dtype=np.int64))

    def call(self, inputs, training=None):
        x = inputs if inputs.dtype == np.dtype(self.dtype) else ops.cast(inputs, self.dtype)
        if x.ndim != len(self._bshape):
            raise ValueError(f"Layer '{self.name}' expects inputs of rank {len(self._bshape)} "
                             f"(built for {shape_str(self._build_shape)}); received shape "
                             f"{shape_str(tuple(x.shape))}.")
        mean, std = self._constants(x.backend.xp)
        if self.invert:
            return ops.add(ops.multiply(x, std), mean)
        return ops.divide(ops.subtract(x, mean), std)

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "mean": self.input_mean,
                "variance": self.input_variance, "invert": self.invert}
