"""Embedding (integer ids to dense vectors) and Masking (skip padded time steps)."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from gpunet import constraints, initializers, ops, regularizers
from gpunet.autograd.tensor import Tensor
from gpunet.layers.layer import Layer
from gpunet.ops.embedding import embedding_lookup
from gpunet.registry import register


@register("layer")
class Embedding(Layer):
    """Turns non-negative integer ids into dense vectors of size ``output_dim``.

    Args:
        input_dim: vocabulary size (largest id + 1).
        output_dim: size of each embedding vector.
        embeddings_initializer: default ``"uniform"`` (U(-0.05, 0.05)).
        embeddings_regularizer, activity_regularizer: penalties.
        embeddings_constraint: projection after each update.
        mask_zero: id 0 is padding: the layer emits the mask ``inputs != 0`` for the layers
            that follow (so ``input_dim`` should be the vocabulary size + 1). The row for 0
            is not zeroed.
        weights: optional initial embeddings, a float array of shape
            ``(input_dim, output_dim)`` (or a one-element list holding it), as Keras 3: the
            layer is built at construction and the array assigned (it replaces the
            initializer's draw; it is not part of the config).
        input_length: Keras 2 argument: ignored with Keras 3's warning ("Argument
            `input_length` is deprecated. Just remove it.") and not kept in the config.

    Input shape:
        ``(batch, ...)`` integer ids (float arrays of whole numbers are cast to int32, as
        token ids read from a Keras 2 model arrive as floats).

    Output shape:
        ``(batch, ..., output_dim)``.

    Example:

    >>> model = Sequential([Embedding(1000, 64, mask_zero=True), LSTM(32), Dense(1)])
    >>> model.predict(np.array([[4, 20, 7, 0, 0]]), verbose=0).shape
    (1, 1)
    """

    _float32_internal = True  # gathers float32 rows, returns the compute dtype (Keras 3)

    supports_masking = True

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, activity_regularizer: Any = None,
                 embeddings_constraint: Any = None, mask_zero: bool = False,
                 weights: Any = None, input_length: int | None = None,
                 **kwargs: Any) -> None:
        kwargs.pop("sparse", None)
        super().__init__(**kwargs)
        if input_length is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          stacklevel=2)
        for name, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Both `input_dim` and `output_dim` should be positive "
                                 f"integers. Received {name}={v!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        if weights is not None:
            self.build()
            if isinstance(weights, (list, tuple)) and len(weights) == 1:
                weights = weights[0]  # Keras's form: a list holding the one array
            elif isinstance(weights, (list, tuple)) and not all(
                    isinstance(v, (int, float)) for v in _flat(weights)):
                raise ValueError(
                    f"Layer '{self.name}': `weights` must be one array of shape "
                    f"({self.input_dim}, {self.output_dim}), or a list holding that one array. "
                    f"Received a list of {len(weights)} arrays.")
            self.set_weights([np.asarray(weights)])

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(
            "embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint)
        self.built = True

    def _ids(self, inputs: Tensor) -> Any:
        ids = inputs.data
        if ids.dtype.kind not in "iu":
            ids = ids.astype("int32")
        if ids.dtype.kind == "i" and ids.dtype.itemsize < 4:
            ids = ids.astype("int32")
        if self._backend().is_host and ids.size:  # a GPU check would cost a sync
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= self.input_dim:
                bad = lo if lo < 0 else hi
                raise ValueError(f"Layer '{self.name}': index {bad} is out of range for an "
                                 f"Embedding with input_dim={self.input_dim} (valid ids are "
                                 f"0..{self.input_dim - 1}).")
        return ids

    def call(self, inputs, training=None):
        return embedding_lookup(self.embeddings, self._ids(inputs))

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        data = inputs.data if isinstance(inputs, Tensor) else inputs
        return data != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        cfg = {**super().get_config(), "input_dim": self.input_dim,
               "output_dim": self.output_dim,
               "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
               "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
               "activity_regularizer": regularizers.serialize(self.activity_regularizer),
               "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
               "mask_zero": self.mask_zero}
        return cfg


@register("layer")
class Masking(Layer):
    """Masks time steps whose features all equal ``mask_value``.

    The output equals the input with masked steps set to zero, and carries the mask
    ``any(inputs != mask_value, axis=-1)`` to the layers that follow (RNNs skip those steps;
    losses and metrics ignore them).

    Args:
        mask_value: the padding value (default 0.0).

    Input shape:
        ``(batch, timesteps, features)`` (any rank >= 2).

    Output shape:
        Same as the input.

    Example:

    >>> x = np.zeros((2, 5, 3), "float32"); x[0, :3] = 1.0
    >>> model = Sequential([Masking(0.0), LSTM(4)])   # sample 0 uses 3 steps, sample 1 none
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def _mask(self, inputs: Tensor) -> Any:
        return (inputs.data != self.mask_value).any(axis=-1)

    def call(self, inputs, training=None):
        keep = self._mask(inputs)[..., None].astype(inputs.dtype)
        return ops.multiply(inputs, Tensor(keep))

    def compute_mask(self, inputs, mask=None):
        return self._mask(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


def _flat(v):
    """The leaves of a nested list (numbers when ``weights`` was given as nested lists)."""
    if isinstance(v, (list, tuple)):
        for x in v:
            yield from _flat(x)
    else:
        yield v
