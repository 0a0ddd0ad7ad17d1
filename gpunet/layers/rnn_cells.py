"""RNN cells: one time step, for ``RNN(cell)`` and for users' own cells.

A cell has ``state_size`` (an int or a list of ints), ``output_size`` and
``call(inputs, states, training=None) -> (output, new_states)``. The built-in layers
``SimpleRNN`` / ``LSTM`` / ``GRU`` run a fused whole-sequence op; ``RNN(LSTMCell(n))`` runs the
same formulas step by step through the autograd ops, which is what a custom cell gets too.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from gpunet import activations, constraints, initializers, ops, regularizers
from gpunet.backend import backend_of
from gpunet.backend.random import SeedStream
from gpunet.deserialization import deserialize_layer
from gpunet.layers.layer import Layer
from gpunet.registry import register, serialize_nested_layer


def _units(cls: str, units: Any) -> int:
    if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units <= 0:
        raise ValueError(f"{cls}: `units` must be a positive integer; received units={units!r}.")
    return int(units)


class _Cell(Layer):
    """Shared arguments of the built-in cells (Keras names and defaults)."""

    _gates = 1

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any) -> None:
        dropout = float(kwargs.pop("dropout", 0.0) or 0.0)
        recurrent_dropout = float(kwargs.pop("recurrent_dropout", 0.0) or 0.0)
        seed = kwargs.pop("seed", None)
        super().__init__(**kwargs)
        for arg, v in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{type(self).__name__}: `{arg}` must be in [0, 1]; received "
                                 f"{arg}={v}.")
        self.dropout, self.recurrent_dropout, self.seed = dropout, recurrent_dropout, seed
        self._stream = None if seed is None else SeedStream(seed)
        self.reset_dropout_mask()
        self.units = _units(type(self).__name__, units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def reset_dropout_mask(self) -> None:
        """Forgets the dropout masks: ``RNN`` calls it once per sequence, so that one mask
        serves every time step, as in Keras."""
        self._masks: dict = {}

    def _dropped(self, x, rate: float, key: str, training):
        """``x`` times this sequence's dropout mask for ``key`` (inputs or the recurrent state),
        in training only."""
        if not training or rate <= 0.0:
            return x
        mask = self._masks.get(key)
        if mask is None:
            b = backend_of(x.data)
            shape = tuple(x.shape)
            u = (b.random_uniform(shape, x.dtype) if self._stream is None
                 else self._stream.uniform(b, shape, x.dtype))
            mask = self._masks[key] = (u >= rate).astype(x.dtype) / (1.0 - rate)
        return x * mask

    @property
    def state_size(self) -> Any:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape: tuple) -> None:
        n = self._gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], n), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", (self.units, n), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        self.bias = (self.add_weight("bias", self._bias_shape(), self._bias_init(),
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed}


@register("layer")
class SimpleRNNCell(_Cell):
    """One step of a fully connected RNN: ``h = activation(x·W + h_prev·U + b)``.

    Args:
        units: size of the output and of the state.
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as in ``SimpleRNN``.

    Example:

    >>> layer = gpunet.layers.RNN(gpunet.layers.SimpleRNNCell(4), return_sequences=True)
    """

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        inputs = self._dropped(inputs, self.dropout, "x", training)
        h = self._dropped(h, self.recurrent_dropout, "h", training)
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        out = self.activation(z)
        return out, [out]


@register("layer")
class LSTMCell(_Cell):
    """One LSTM step (Keras gate order ``i, f, c, o``; states ``[h, c]``).

    Args:
        units: size of the output and of each state.
        recurrent_activation: gate activation (default ``"sigmoid"``).
        unit_forget_bias: add 1 to the forget gate's bias at initialisation.
        others: as in ``LSTM``.
    """

    _gates = 4

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", unit_forget_bias: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self) -> list:
        return [self.units, self.units]

    def _bias_init(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, u = self.bias_initializer, self.units

        def forget_ones(shape, dtype=None):
            import numpy as np

            b = np.asarray(init((u,), dtype))
            return np.concatenate([b, np.ones((u,), b.dtype),
                                   np.asarray(init((2 * u,), dtype))])
        return forget_ones

    def call(self, inputs, states, training=None):
        h, c = states
        u = self.units
        inputs = self._dropped(inputs, self.dropout, "x", training)
        h = self._dropped(h, self.recurrent_dropout, "h", training)
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u:2 * u])
        g = self.activation(z[:, 2 * u:3 * u])
        o = self.recurrent_activation(z[:, 3 * u:])
        c = f * c + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict:
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


@register("layer")
class GRUCell(_Cell):
    """One GRU step (Keras gate order ``z, r, h``; ``reset_after=True`` by default, with a
    bias of shape ``(2, 3·units)``).

    Args:
        units: size of the output and of the state.
        recurrent_activation: gate activation (default ``"sigmoid"``).
        reset_after: apply the reset gate after the recurrent matrix product (Keras 3 / cuDNN).
        others: as in ``GRU``.
    """

    _gates = 3

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", reset_after: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=None):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        inputs = self._dropped(inputs, self.dropout, "x", training)
        h = self._dropped(h_prev, self.recurrent_dropout, "h", training)
        xz = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            xz = xz + (self.bias[0] if self.reset_after else self.bias)
        if self.reset_after:
            hz = ops.matmul(h, self.recurrent_kernel)
            if self.bias is not None:
                hz = hz + self.bias[1]
            z = self.recurrent_activation(xz[:, :u] + hz[:, :u])
            r = self.recurrent_activation(xz[:, u:2 * u] + hz[:, u:2 * u])
            hh = self.activation(xz[:, 2 * u:] + r * hz[:, 2 * u:])
        else:
            hz = ops.matmul(h, self.recurrent_kernel[:, :2 * u])
            z = self.recurrent_activation(xz[:, :u] + hz[:, :u])
            r = self.recurrent_activation(xz[:, u:2 * u] + hz[:, u:])
            hh = self.activation(xz[:, 2 * u:] + ops.matmul(r * h,
                                                            self.recurrent_kernel[:, 2 * u:]))
        out = z * h_prev + (1 - z) * hh
        return out, [out]

    def get_config(self) -> dict:
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}


@register("layer")
class StackedRNNCells(Layer):
    """Cells run one after the other within each time step (a deep RNN in one layer).

    Args:
        cells: the cells, first to last.
    """

    def __init__(self, cells: Sequence, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cells = list(cells)
        for c in self.cells:
            if not hasattr(c, "call") or not hasattr(c, "state_size"):
                raise ValueError(f"StackedRNNCells: every cell needs `call` and `state_size`; "
                                 f"received {c!r}.")

    @property
    def state_size(self) -> list:
        out = []
        for c in self.cells:
            s = c.state_size
            out += list(s) if isinstance(s, (list, tuple)) else [s]
        return out

    @property
    def output_size(self) -> int:
        last = self.cells[-1]
        return getattr(last, "output_size", None) or _first(last.state_size)

    def _sublayers(self) -> list:
        return list(self.cells)

    def build(self, input_shape: tuple) -> None:
        shape = tuple(input_shape)
        for c in self.cells:
            if not c.built:
                c.build(shape)
                c.built = True
            shape = (shape[0], getattr(c, "output_size", None) or _first(c.state_size))
        self.built = True

    @property
    def weights(self) -> list:
        return [w for c in self.cells for w in c.weights]

    @property
    def trainable_weights(self) -> list:
        return [w for c in self.cells for w in c.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        return [w for c in self.cells for w in c.non_trainable_weights]

    @property
    def losses(self) -> list:
        return [x for c in self.cells for x in c.losses]

    def call(self, inputs, states, training=None):
        out, new, k = inputs, [], 0
        for c in self.cells:
            s = c.state_size
            n = len(s) if isinstance(s, (list, tuple)) else 1
            out, st = c.call(out, list(states[k:k + n]), training=training)
            new += list(st) if isinstance(st, (list, tuple)) else [st]
            k += n
        return out, new

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": [serialize_nested_layer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config: dict) -> StackedRNNCells:
        config = dict(config)
        config["cells"] = [deserialize_layer(c) for c in config["cells"]]
        return cls(**config)


def _first(size: Any) -> int:
    return size[0] if isinstance(size, (list, tuple)) else size
