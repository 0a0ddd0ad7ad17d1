"""Convolution layers: Conv1D and Conv2D (im2col + GEMM nodes from ``gpunet.ops.conv``)."""

from __future__ import annotations

import numbers
from typing import Any

from gpunet import activations, constraints, initializers, ops, regularizers
from gpunet.backend import image_data_format
from gpunet.layers.input_spec import InputSpec, assert_shape_compatible
from gpunet.layers.layer import Layer, shape_str
from gpunet.ops.conv import conv_output_length
from gpunet.registry import register


def normalize_tuple(value: Any, n: int, name: str, allow_zero: bool = False) -> tuple:
    """``3`` → ``(3, 3)``; checks the length and that every entry is a positive int."""
    vals = (value,) * n if isinstance(value, numbers.Integral) else value
    try:
        vals = tuple(vals)
    except TypeError:
        vals = ()
    low = 0 if allow_zero else 1
    if len(vals) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                 and v >= low for v in vals):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"The `{name}` argument must be a tuple of {n} {kind} integers (or "
                         f"one integer). Received: {name}={value!r}")
    return tuple(int(v) for v in vals)


def normalize_data_format(value: str | None) -> str:
    value = value or image_data_format()
    if value not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of 'channels_first', "
                         f"'channels_last'. Received: data_format={value!r}")
    return value


def normalize_padding(value: Any, allowed: tuple = ("valid", "same")) -> str:
    v = value.lower() if isinstance(value, str) else value
    if v not in allowed:
        raise ValueError(f"The `padding` argument must be one of {', '.join(map(repr, allowed))}"
                         f". Received: padding={value!r}")
    return v


def declare_input(layer: Layer, channels: Any = None) -> None:
    """Sets ``layer.input_spec`` for a spatial layer: ``rank + 2`` axes, and the channel axis
    (by ``data_format``) equal to ``channels`` once the layer knows it."""
    axis = -1 if getattr(layer, "data_format", "channels_last") == "channels_last" else 1
    layer.input_spec = InputSpec(ndim=layer.rank + 2,
                                 axes={} if channels is None else {axis: int(channels)})


def check_build_shape(layer: Layer, input_shape: Any) -> tuple:
    """The shape a spatial layer is built with, checked against its ``input_spec``."""
    assert_shape_compatible(layer.input_spec, input_shape, layer.name)
    return tuple(input_shape)


def to_last(x: Any, data_format: str) -> Any:
    if data_format == "channels_last":
        return x
    return ops.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))


def to_first(x: Any, data_format: str) -> Any:
    if data_format == "channels_last":
        return x
    return ops.transpose(x, (0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))


class BaseConv(Layer):
    """Shared code of Conv1D and Conv2D (see those for the arguments)."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        declare_input(self)
        r = self.rank
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             f"integer. Received: filters={filters!r}")
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, r, "kernel_size")
        self.strides = normalize_tuple(strides, r, "strides")
        self.dilation_rate = normalize_tuple(dilation_rate, r, "dilation_rate")
        self.padding = normalize_padding(padding, ("valid", "same", "causal") if r == 1
                                         else ("valid", "same"))
        self.data_format = normalize_data_format(data_format)
        if not isinstance(groups, numbers.Integral) or groups <= 0 or self.filters % groups:
            raise ValueError("The number of filters must be evenly divisible by the number of "
                             f"groups. Received: groups={groups}, filters={filters}.")
        self.groups = int(groups)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate > "
                             f"1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def _channels(self, shape: tuple) -> Any:
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def build(self, input_shape):
        input_shape = check_build_shape(self, input_shape)
        c = self._channels(input_shape)
        if c is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the input must be "
                             f"known. Received input shape {shape_str(input_shape)}.")
        if c % self.groups:
            raise ValueError(f"Layer '{self.name}': the number of input channels must be evenly "
                             f"divisible by the number of groups. Received groups={self.groups}"
                             f", input shape {shape_str(input_shape)}.")
        self.compute_output_shape(input_shape)  # raises on a too small input
        declare_input(self, c)
        self.kernel = self.add_weight("kernel", self.kernel_size + (c // self.groups,
                                                                   self.filters),
                                      self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs, training=None):
        if inputs.dtype.kind != "f":
            inputs = ops.cast(inputs, self.dtype)
        x = to_last(inputs, self.data_format)
        fused = self.activation is activations.relu
        op = ops.conv2d if self.rank == 2 else ops.conv1d
        y = op(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate,
               self.groups, "relu" if fused else None)
        if not fused and self.activation is not activations.linear:
            y = self.activation(y)
        return to_first(y, self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        first = self.data_format == "channels_first"
        spatial = input_shape[2:] if first else input_shape[1:-1]
        out = tuple(conv_output_length(n, k, self.padding, s, d) for n, k, s, d in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate))
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                f"Layer '{self.name}': computed output size would be zero or negative. Received "
                f"input shape {shape_str(input_shape)}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}, "
                f"padding={self.padding!r}.")
        if first:
            return (input_shape[0], self.filters) + out
        return (input_shape[0],) + out + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


_CONV_DOC = """

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of {r} ints, the window size.
        strides: int or tuple of {r} ints (default 1). Strides > 1 with dilation > 1 is
            an error, as in Keras.
        padding: {pads} (TensorFlow arithmetic: with "same" the odd extra
            padding goes at the end).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of {r} ints (default 1).
        groups: number of channel groups; input channels and filters must divide by it.
        activation: activation name or callable (default: linear); "relu" is fused.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: default "glorot_uniform" and "zeros".
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties.
        kernel_constraint, bias_constraint: projections after each update.

    Input shape:
        {inp} (channels_last), or channels first.

    Output shape:
        {out}, the spatial sizes following Keras's formula
        (valid: floor((n - d*(k-1) - 1) / s) + 1; same: ceil(n / s)).

    Weights:
        kernel {kshape}, bias (filters,).

    Example:

    >>> layer = {name}(8, {ks}, activation="relu")
    >>> layer(np.zeros({xs}, "float32")).shape
    {ys}
    """


@register("layer", "Convolution2D")
class Conv2D(BaseConv):
    rank = 2


@register("layer", "Convolution1D")
class Conv1D(BaseConv):
    rank = 1


Conv2D.__doc__ = "2-D convolution (cross-correlation) over images." + _CONV_DOC.format(
    r=2, pads='"valid" or "same"', inp="(batch, rows, cols, channels)",
    out="(batch, new_rows, new_cols, filters)", kshape="(kh, kw, channels // groups, filters)",
    name="Conv2D", ks="3", xs="(2, 28, 28, 1)", ys="(2, 26, 26, 8)")
Conv1D.__doc__ = "1-D convolution over sequences." + _CONV_DOC.format(
    r=1, pads='"valid", "same" or "causal" (left padding, for autoregressive models)',
    inp="(batch, steps, channels)", out="(batch, new_steps, filters)",
    kshape="(k, channels // groups, filters)", name="Conv1D", ks="3", xs="(2, 10, 4)",
    ys="(2, 8, 8)")

Convolution2D = Conv2D
Convolution1D = Conv1D
