"""``ConvLSTM1D`` / ``ConvLSTM2D``: LSTMs whose input and recurrent transforms are
convolutions, run by the generic ``RNN`` loop over a ``ConvLSTMCell``."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from gpunet import activations, constraints, initializers, ops, regularizers
from gpunet.backend import backend_of
from gpunet.backend.random import SeedStream
from gpunet.layers.layer import Layer, shape_str
from gpunet.layers.rnn_generic import RNN
from gpunet.registry import register


def _tuple(value: Any, rank: int, name: str) -> tuple:
    if isinstance(value, numbers.Integral):
        return (int(value),) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"`{name}` must be an int or a tuple of {rank} ints; received {value}.")
    return value


def _out_len(n: int | None, k: int, s: int, d: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return math.ceil(n / s)
    return (n - d * (k - 1) - 1) // s + 1


class ConvLSTMCell(Layer):
    """One ConvLSTM step on ``(batch, *spatial, channels)`` (Keras gate order i, f, c, o).

    Args:
        rank: 1 or 2 spatial axes.
        filters: number of output channels (the state's channels).
        kernel_size, strides, padding, dilation_rate: of the input convolution; the recurrent
            convolution uses stride 1 and ``"same"`` padding, as in Keras.
        others: as in ``LSTM``.
    """

    def __init__(self, rank: int, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", dilation_rate: Any = 1, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rank, self.filters = rank, int(filters)
        for arg, v in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"ConvLSTM: `{arg}` must be in [0, 1]; received {arg}={v}.")
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.seed = seed
        self._stream = None if seed is None else SeedStream(seed)
        self.reset_dropout_mask()
        self.kernel_size = _tuple(kernel_size, rank, "kernel_size")
        self.strides = _tuple(strides, rank, "strides")
        self.dilation_rate = _tuple(dilation_rate, rank, "dilation_rate")
        self.padding = padding.lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"ConvLSTM: `padding` must be 'valid' or 'same'; received "
                             f"{padding!r}.")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.state_size: list = []

    def build(self, step_shape: tuple) -> None:
        if len(step_shape) != self.rank + 2:
            raise ValueError(f"ConvLSTM{self.rank}D expects inputs of rank {self.rank + 3} "
                             f"(batch, time, {'rows, cols, ' if self.rank == 2 else 'steps, '}"
                             f"channels); received one step of shape {shape_str(step_shape)}.")
        spatial = tuple(_out_len(n, k, s, d, self.padding) for n, k, s, d in zip(
            step_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate))
        shape = spatial + (self.filters,)
        self.state_size = [shape, shape]
        self.output_size = shape
        f4 = 4 * self.filters
        self.kernel = self.add_weight("kernel", self.kernel_size + (step_shape[-1], f4),
                                      self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", self.kernel_size + (self.filters, f4), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        init = self.bias_initializer
        if self.unit_forget_bias:
            f, base = self.filters, self.bias_initializer

            def init(shape, dtype=None):
                b = np.asarray(base((f,), dtype))
                return np.concatenate([b, np.ones((f,), b.dtype), np.asarray(base((2 * f,),
                                                                                  dtype))])
        self.bias = (self.add_weight("bias", (f4,), init, regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def reset_dropout_mask(self) -> None:
        """New dropout masks for the next sequence (one mask for every time step, as Keras)."""
        self._masks: dict = {}

    def _dropped(self, x, rate: float, key: str, training):
        if not training or rate <= 0.0:
            return x
        mask = self._masks.get(key)
        if mask is None:
            b = backend_of(x.data)
            u = (b.random_uniform(tuple(x.shape), x.dtype) if self._stream is None
                 else self._stream.uniform(b, tuple(x.shape), x.dtype))
            mask = self._masks[key] = (u >= rate).astype(x.dtype) / (1.0 - rate)
        return x * mask

    def _conv(self, x, kernel, bias, strides, padding, dilation):
        if self.rank == 1:
            return ops.conv1d(x, kernel, bias, strides[0], padding, dilation[0])
        return ops.conv2d(x, kernel, bias, strides, padding, dilation)

    def call(self, inputs, states, training=None):
        h, c = states
        f = self.filters
        inputs = self._dropped(inputs, self.dropout, "x", training)
        hd = self._dropped(h, self.recurrent_dropout, "h", training)
        z = self._conv(inputs, self.kernel, self.bias, self.strides, self.padding,
                       self.dilation_rate)
        z = z + self._conv(hd, self.recurrent_kernel, None, (1,) * self.rank, "same",
                           (1,) * self.rank)
        i = self.recurrent_activation(z[..., :f])
        fg = self.recurrent_activation(z[..., f:2 * f])
        g = self.activation(z[..., 2 * f:3 * f])
        o = self.recurrent_activation(z[..., 3 * f:])
        c = fg * c + i * g
        h = o * self.activation(c)
        return h, [h, c]


_CELL_ARGS = ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation",
              "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
              "bias_initializer", "unit_forget_bias", "kernel_regularizer",
              "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
              "recurrent_constraint", "bias_constraint")


class _ConvLSTM(RNN):
    _rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: Any = 1,
                 activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, **kwargs: Any) -> None:
        name = type(self).__name__
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{name}: only data_format='channels_last' is supported; "
                             f"received {data_format!r}.")
        if activity_regularizer is not None:
            raise ValueError(f"{name}: `activity_regularizer` is not supported yet.")
        cell = ConvLSTMCell(self._rank, filters, kernel_size, strides, padding, dilation_rate,
                            activation, recurrent_activation, use_bias, kernel_initializer,
                            recurrent_initializer, bias_initializer, unit_forget_bias,
                            kernel_regularizer, recurrent_regularizer, bias_regularizer,
                            kernel_constraint, recurrent_constraint, bias_constraint,
                            dropout, recurrent_dropout, seed,
                            name=kwargs.get("name", name.lower()) + "_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, **kwargs)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg.pop("cell")
        for key in ("unroll", "zero_output_for_mask"):
            cfg.pop(key, None)
        c = self.cell
        cfg.update({"filters": c.filters, "kernel_size": list(c.kernel_size),
                    "strides": list(c.strides), "padding": c.padding,
                    "data_format": "channels_last", "dilation_rate": list(c.dilation_rate),
                    "activation": activations.serialize(c.activation),
                    "recurrent_activation": activations.serialize(c.recurrent_activation),
                    "use_bias": c.use_bias, "unit_forget_bias": c.unit_forget_bias,
                    "kernel_initializer": initializers.serialize(c.kernel_initializer),
                    "recurrent_initializer": initializers.serialize(c.recurrent_initializer),
                    "bias_initializer": initializers.serialize(c.bias_initializer),
                    "kernel_regularizer": regularizers.serialize(c.kernel_regularizer),
                    "recurrent_regularizer": regularizers.serialize(c.recurrent_regularizer),
                    "bias_regularizer": regularizers.serialize(c.bias_regularizer),
                    "kernel_constraint": constraints.serialize(c.kernel_constraint),
                    "recurrent_constraint": constraints.serialize(c.recurrent_constraint),
                    "bias_constraint": constraints.serialize(c.bias_constraint),
                    "dropout": c.dropout, "recurrent_dropout": c.recurrent_dropout,
                    "seed": c.seed})
        return cfg

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        config = dict(config)
        if "batch_shape" in config and "batch_input_shape" not in config:
            config["batch_input_shape"] = config.pop("batch_shape")
        return cls(**config)


@register("layer")
class ConvLSTM2D(_ConvLSTM):
    """2-D convolutional LSTM over ``(batch, time, rows, cols, channels)``.

    Args:
        filters: output channels.
        kernel_size, strides, padding ("valid"/"same"), dilation_rate: the input convolution.
        return_sequences, return_state, go_backwards, stateful: as in ``LSTM``.
        dropout, recurrent_dropout, seed: one dropout mask per sequence on the inputs and on
            the recurrent state, as in ``LSTM``.
        others: as in ``LSTM``.

    Input shape:
        ``(batch, time, rows, cols, channels)``.

    Output shape:
        ``(batch, new_rows, new_cols, filters)``, or with ``return_sequences``
        ``(batch, time, new_rows, new_cols, filters)``.

    Example:

    >>> layer = gpunet.layers.ConvLSTM2D(8, 3, padding="same", return_sequences=True)
    """

    _rank = 2


@register("layer")
class ConvLSTM1D(_ConvLSTM):
    """1-D convolutional LSTM over ``(batch, time, steps, channels)`` (see ``ConvLSTM2D``)."""

    _rank = 1
