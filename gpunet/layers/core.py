"""Core layers: Input / InputLayer, Dense, Activation, Dropout, Flatten."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from gpunet import activations, constraints, initializers, ops, regularizers
from gpunet.backend import image_data_format
from gpunet.backend.random import SeedStream
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.layer import Layer, shape_str, unique_name
from gpunet.layers.node import KerasTensor, input_tensor
from gpunet.registry import register


@register("layer")
class InputLayer(Layer):
    """The entry point of a model: holds the input shape, computes nothing.

    Args:
        shape: shape without the batch axis, e.g. ``(784,)``.
        batch_size: optional fixed batch size.
        dtype: input dtype (default ``floatx()``).
        batch_shape: the full shape including the batch axis (instead of shape/batch_size).
        name: the layer name (default ``input_layer``).
    """

    def __init__(self, shape: Sequence | None = None, batch_size: int | None = None,
                 dtype: Any = None, sparse: bool | None = None, batch_shape: Sequence | None = None,
                 name: str | None = None, input_shape: Sequence | None = None,
                 batch_input_shape: Sequence | None = None, ragged: bool | None = None,
                 **kwargs: Any) -> None:
        shape = shape if shape is not None else input_shape
        batch_shape = batch_shape if batch_shape is not None else batch_input_shape
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer needs `shape` (without the batch axis) or "
                                 "`batch_shape`. Received neither.")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        super().__init__(name=name or unique_name("input_layer"), dtype=dtype, **kwargs)
        self._batch_input_shape = tuple(None if s is None else int(s) for s in batch_shape)
        self.built = True

    @property
    def batch_shape(self) -> tuple:
        return self._batch_input_shape

    def get_config(self) -> dict:
        return {"batch_input_shape": list(self._batch_input_shape), "dtype": self.dtype,
                "sparse": False, "ragged": False, "name": self.name}


def Input(shape: Sequence | None = None, batch_size: int | None = None, dtype: Any = None,
          sparse: bool | None = None, batch_shape: Sequence | None = None,
          name: str | None = None, tensor: Any = None) -> KerasTensor:
    """A symbolic model input of the given shape (batch axis excluded).

    Args:
        shape: shape without the batch axis, e.g. ``(784,)``.
        batch_size: optional fixed batch size.
        dtype: input dtype (default ``floatx()``).
        sparse: accepted for Keras compatibility; must be falsy.
        batch_shape: the full shape including the batch axis (instead of shape/batch_size).
        name: the input name (default ``input_layer``, numbered); the key of this input
            when data is given as a dict.
        tensor: not supported; must be None.

    Returns:
        A ``KerasTensor``: call layers on it, then make a ``Model(inputs, outputs)``, or use
        it as the first entry of a ``Sequential``.

    Example:

    >>> x = Input((784,))
    >>> y = Dense(10, activation="softmax")(Dense(64, activation="relu")(x))
    >>> model = Model(x, y)
    """
    if sparse:
        raise ValueError("Input(sparse=True) is not supported by gpunet.")
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported by gpunet.")
    return input_tensor(InputLayer(shape, batch_size, dtype, sparse, batch_shape, name))


@register("layer")
class Dense(Layer):
    """Densely-connected layer: ``activation(inputs @ kernel + bias)``.

    Args:
        units: output size.
        activation: activation name or function (default: none, i.e. linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties.
        kernel_constraint, bias_constraint: projections after each update.

    Input shape:
        N-D tensor ``(batch, ..., input_dim)``.

    Output shape:
        ``(batch, ..., units)``.

    Example:

    >>> layer = Dense(64, activation="relu")
    >>> layer(np.zeros((2, 16), "float32")).shape
    (2, 64)
    """

    supports_masking = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"Layer '{self.name}': the last dimension of the input must be "
                             f"known. Received input shape {shape_str(input_shape)}.")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.kernel = self.add_weight("kernel", (in_dim, self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs, training=None):
        if inputs.dtype.kind != "f":  # integer features: compute in the layer's dtype
            inputs = ops.cast(inputs, self.dtype)
        if self.activation is activations.relu:
            return ops.dense(inputs, self.kernel, self.bias, "relu")
        y = ops.dense(inputs, self.kernel, self.bias)
        return y if self.activation is activations.linear else self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


@register("layer")
class Activation(Layer):
    """Applies an activation function.

    Args:
        activation: name (``"relu"``) or callable.

    Input shape:
        Arbitrary. Output shape: same as the input.
    """

    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, training=None):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


@register("layer")
class Dropout(Layer):
    """Randomly zeroes inputs with probability ``rate`` during training, scaling the rest.

    Args:
        rate: fraction of units to drop, in ``[0, 1]``.
        noise_shape: shape of the keep-mask (``None`` entries take the input's size).
        seed: optional int seed: the layer then draws its masks from its own stream, the same
            sequence of masks in every run whatever the global seed (Keras 3's SeedGenerator).

    Input shape:
        Arbitrary. Output shape: same as the input.
    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape: Sequence | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate!r}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        self._stream = None if seed is None else SeedStream(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        ns = None
        if self.noise_shape is not None:
            ns = tuple(inputs.shape[i] if s is None else s for i, s in enumerate(self.noise_shape))
        return ops.dropout(inputs, self.rate, ns, self._stream)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


@register("layer")
class Flatten(Layer):
    """Flattens every axis but the batch axis.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"`` (channels are
            moved last first, so the flattened order does not depend on the format).

    Input shape:
        ``(batch, d1, ..., dk)``. Output shape: ``(batch, d1 * ... * dk)``; a rank-1 input
        becomes ``(batch, 1)``.
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        data_format = data_format or image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError("The `data_format` argument must be one of 'channels_first', "
                             f"'channels_last'. Received: data_format={data_format!r}")
        self.data_format = data_format

    def call(self, inputs, training=None):
        x = inputs
        if self.data_format == "channels_first" and x.ndim > 2:
            x = ops.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
        return ops.reshape(x, (x.shape[0], -1) if x.ndim > 1 else (x.shape[0], 1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        n = None if any(s is None for s in rest) else math.prod(rest)
        return (input_shape[0], n if rest else 1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
