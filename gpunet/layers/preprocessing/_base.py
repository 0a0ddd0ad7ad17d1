"""Shared pieces of the preprocessing layers: host/device conversion, categorical encoding,
per-layer random streams, argument checks.

Where the layers run:

- On the backend (``xp``, so on the GPU with CuPy): ``Rescaling``, ``Normalization``,
  ``CenterCrop``, ``Resizing``, ``CategoryEncoding``, ``Discretization``, ``RandomFlip``,
  ``RandomContrast``, ``RandomBrightness`` and the encoding step of the lookup layers.
- On the host (NumPy, then one copy to the device): the vocabulary lookups of ``StringLookup``
  / ``IntegerLookup`` / ``TextVectorization`` (Python dictionaries, as Keras runs them in
  ``tf.data`` outside the graph), the affine warps of ``RandomTranslation`` /
  ``RandomRotation`` / ``RandomZoom`` (``gpunet/preprocessing/_affine.py``) and every ``adapt``.
  Random parameters are always drawn on the host from the layer's own generator.

None of them has trainable weights. ``Rescaling``, ``Normalization`` and ``CenterCrop`` are
built from differentiable ops; the others return a fresh tensor that gradients do not cross,
so put them first in a model (as Keras recommends) or in the data pipeline.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, numpy_backend
from gpunet.backend import random as grandom
from gpunet.layers.layer import Layer
from gpunet.layers.node import is_symbolic


def host(x: Any) -> np.ndarray:
    """``x`` (Tensor, backend array, list) as a NumPy array on the host."""
    if isinstance(x, Tensor):
        x = x.data
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__cuda_array_interface__"):
        return backend_of(x).to_numpy(x)
    return np.asarray(x)


def raw(x: Any) -> Any:
    """The backend array behind a Tensor (or ``x`` itself)."""
    return x.data if isinstance(x, Tensor) else x


def check_positive_int(layer: str, name: str, value: Any, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{layer}: `{name}` must be a positive integer"
                         f"{' or None' if allow_none else ''}. Received: {name}={value!r}")
    return int(value)


def check_choice(layer: str, name: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise ValueError(f"{layer}: `{name}` must be one of {allowed}. "
                         f"Received: {name}={value!r}")
    return value


class PreprocessingLayer(Layer):
    """Base of the preprocessing layers: no trainable weights, inputs of any dtype.

    ``__call__`` sends symbolic inputs and numeric arrays through ``Layer.__call__``; inputs
    that the device cannot hold (Python strings, object arrays) go straight to ``call`` as
    NumPy arrays.
    """

    _host_inputs = False  # True: ``call`` receives host NumPy arrays for non-numeric input

    def __call__(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Any:
        if self._host_inputs and not isinstance(inputs, Tensor) and not is_symbolic(inputs):
            arr = inputs if isinstance(inputs, np.ndarray) else np.asarray(inputs, dtype=object) \
                if _has_strings(inputs) else np.asarray(inputs)
            if arr.dtype.kind in "OUS":
                if not self.built:
                    self.build((None,) + tuple(arr.shape[1:]))
                    self.built = True
                return self.call(arr, training=training)
        return super().__call__(inputs, training=training, **kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)


def _has_strings(x: Any) -> bool:
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and _has_strings(x[0])
    return False


class RandomStream:
    """Host random numbers for one layer: with a ``seed``, the layer's own
    ``gpunet.backend.random.SeedStream`` (the same draws in every run whatever the global
    seed, Keras's ``SeedGenerator``) read on the NumPy backend; without, the host generator
    that ``gpunet.utils.set_random_seed`` seeds."""

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self._stream = None if seed is None else grandom.SeedStream(int(seed))

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        """``size`` floats drawn uniformly in ``[low, high)``."""
        if self._stream is None:
            return grandom.host_rng().uniform(low, high, size)
        u = self._stream.uniform(numpy_backend(), (int(size),), np.float64)
        return low + (high - low) * u


def encode_categorical(xp: Any, idx: Any, output_mode: str, depth: int, dtype: Any,
                       weights: Any = None) -> Any:
    """Integer indices → ``one_hot`` / ``multi_hot`` / ``count`` arrays of width ``depth``.

    Indices outside ``[0, depth)`` (e.g. -1 for dropped mask tokens) contribute nothing.
    ``one_hot`` encodes each element (a trailing axis of size 1 is replaced); ``multi_hot``
    and ``count`` treat the last axis as the sample's elements (a rank-1 input is one
    sample). ``weights`` (``depth``,) multiply the counts (TF-IDF).
    """
    if output_mode == "one_hot":
        if idx.ndim > 1 and idx.shape[-1] == 1:
            idx = idx[..., 0]
        out = (idx[..., None] == xp.arange(depth)).astype(dtype)
        return out
    lead = idx.shape[:-1] if idx.ndim > 0 else ()
    rows = int(np.prod(lead)) if lead else 1
    flat = idx.reshape(rows, -1).astype(np.int64)
    size = rows * depth
    pos = xp.arange(rows, dtype=np.int64)[:, None] * depth + flat
    pos = xp.where((flat >= 0) & (flat < depth), pos, size).reshape(-1)  # invalid: spare slot
    counts = backend_of(pos).bincount(pos, size + 1)  # on the device, no host sync
    counts = counts[:size].reshape(tuple(lead) + (depth,))
    if output_mode == "multi_hot":
        counts = counts > 0
    out = counts.astype(dtype)
    if weights is not None:
        out = out * weights
    return out
