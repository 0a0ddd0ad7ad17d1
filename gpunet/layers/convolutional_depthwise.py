"""Depthwise and separable convolutions: DepthwiseConv1D/2D and SeparableConv1D/2D.

The depthwise step is one node vectorised over the channels (``gpunet.ops.depthwise_conv``:
one broadcast multiply-add per kernel offset); the pointwise step is one dense GEMM.
"""

from __future__ import annotations

import numbers
from typing import Any

from gpunet import activations, constraints, initializers, regularizers
from gpunet.layers.convolutional import (
    check_build_shape,
    declare_input,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    to_last,
)
from gpunet.layers.convolutional_extra import _activate, _cast
from gpunet.layers.layer import Layer, shape_str
from gpunet.ops.conv import conv_output_length
from gpunet.ops.conv_extra import depthwise_conv, separable_conv
from gpunet.registry import register


class _DepthwiseBase(Layer):
    """Argument handling shared by the depthwise and separable convolutions."""

    rank = 2

    def _setup(self, kernel_size: Any, strides: Any, padding: str, depth_multiplier: int,
               data_format: str | None, dilation_rate: Any, activation: Any, use_bias: bool,
               activity_regularizer: Any) -> None:
        r = self.rank
        declare_input(self)
        self.kernel_size = normalize_tuple(kernel_size, r, "kernel_size")
        self.strides = normalize_tuple(strides, r, "strides")
        self.dilation_rate = normalize_tuple(dilation_rate, r, "dilation_rate")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        if (not isinstance(depth_multiplier, numbers.Integral) or isinstance(
                depth_multiplier, bool) or depth_multiplier <= 0):
            raise ValueError("Invalid value for argument `depth_multiplier`. Expected a strictly "
                             f"positive integer. Received: depth_multiplier={depth_multiplier!r}")
        self.depth_multiplier = int(depth_multiplier)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate > "
                             f"1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def _in_channels(self, input_shape: tuple) -> int:
        input_shape = check_build_shape(self, input_shape)
        c = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        if c is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the input must be "
                             f"known. Received input shape {shape_str(input_shape)}.")
        self.compute_output_shape(input_shape)  # raises on a too small input
        declare_input(self, c)
        return int(c)

    def _out_channels(self, c: Any) -> Any:
        return None if c is None else c * self.depth_multiplier

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
        f = self._out_channels(input_shape[1] if first else input_shape[-1])
        return (input_shape[0], f) + out if first else (input_shape[0],) + out + (f,)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "depth_multiplier": self.depth_multiplier, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "activity_regularizer": regularizers.serialize(self.activity_regularizer)}


def _catalogue_config(layer: Any, *names: str) -> dict:
    """``{name}_initializer/regularizer/constraint`` entries of the config for each name."""
    cfg = {}
    for n in names:
        cfg[f"{n}_initializer"] = initializers.serialize(getattr(layer, f"{n}_initializer"))
        cfg[f"{n}_regularizer"] = regularizers.serialize(getattr(layer, f"{n}_regularizer"))
        cfg[f"{n}_constraint"] = constraints.serialize(getattr(layer, f"{n}_constraint"))
    return cfg


def _catalogue(layer: Any, name: str, init: Any, reg: Any, con: Any) -> None:
    setattr(layer, f"{name}_initializer", initializers.get(init))
    setattr(layer, f"{name}_regularizer", regularizers.get(reg))
    setattr(layer, f"{name}_constraint", constraints.get(con))


def _weight(layer: Any, name: str, weight: str, shape: tuple) -> Any:
    return layer.add_weight(weight, shape, getattr(layer, f"{name}_initializer"),
                            regularizer=getattr(layer, f"{name}_regularizer"),
                            constraint=getattr(layer, f"{name}_constraint"))


class BaseDepthwiseConv(_DepthwiseBase):
    """Shared code of DepthwiseConv1D and DepthwiseConv2D."""

    def __init__(self, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 depth_multiplier: int = 1, data_format: str | None = None,
                 dilation_rate: Any = 1, activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        kwargs.pop("groups", None)  # Keras 2 configs carry Conv2D's groups=1
        super().__init__(**kwargs)
        self._setup(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                    activation, use_bias, activity_regularizer)
        _catalogue(self, "depthwise", depthwise_initializer, depthwise_regularizer,
                   depthwise_constraint)
        _catalogue(self, "bias", bias_initializer, bias_regularizer, bias_constraint)

    def build(self, input_shape):
        c = self._channels_in = self._in_channels(input_shape)
        # Keras 3 names this weight "kernel" (Keras 2: "depthwise_kernel").
        self.kernel = _weight(self, "depthwise", "kernel",
                              self.kernel_size + (c, self.depth_multiplier))
        self.bias = _weight(self, "bias", "bias", (c * self.depth_multiplier,)) if (
            self.use_bias) else None
        self.built = True

    @property
    def depthwise_kernel(self) -> Any:
        """The Keras 2 name of ``kernel``."""
        return self.kernel

    def call(self, inputs, training=None):
        x = to_last(_cast(self, inputs), self.data_format)
        y = depthwise_conv(x, self.kernel, self.bias, self.strides, self.padding,
                           self.dilation_rate)
        return _activate(self, y)

    def get_config(self):
        return {**super().get_config(), **_catalogue_config(self, "depthwise", "bias")}


class BaseSeparableConv(_DepthwiseBase):
    """Shared code of SeparableConv1D and SeparableConv2D."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1,
                 depth_multiplier: int = 1, activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform",
                 pointwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, pointwise_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 depthwise_constraint: Any = None, pointwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             f"integer. Received: filters={filters!r}")
        self.filters = int(filters)
        self._setup(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                    activation, use_bias, activity_regularizer)
        _catalogue(self, "depthwise", depthwise_initializer, depthwise_regularizer,
                   depthwise_constraint)
        _catalogue(self, "pointwise", pointwise_initializer, pointwise_regularizer,
                   pointwise_constraint)
        _catalogue(self, "bias", bias_initializer, bias_regularizer, bias_constraint)

    def _out_channels(self, c: Any) -> Any:
        return self.filters

    def build(self, input_shape):
        c = self._channels_in = self._in_channels(input_shape)
        m = self.depth_multiplier
        self.depthwise_kernel = _weight(self, "depthwise", "depthwise_kernel",
                                        self.kernel_size + (c, m))
        self.pointwise_kernel = _weight(self, "pointwise", "pointwise_kernel",
                                        (1,) * self.rank + (c * m, self.filters))
        self.bias = _weight(self, "bias", "bias", (self.filters,)) if self.use_bias else None
        self.built = True

    def call(self, inputs, training=None):
        x = to_last(_cast(self, inputs), self.data_format)
        y = separable_conv(x, self.depthwise_kernel, self.pointwise_kernel, self.bias,
                           self.strides, self.padding, self.dilation_rate)
        return _activate(self, y)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                **_catalogue_config(self, "depthwise", "pointwise", "bias")}


_DEPTHWISE_DOC = """

    Each input channel is convolved with its own ``depth_multiplier`` filters; output channel
    ``c * depth_multiplier + m`` is input channel ``c`` with filter ``m``.

    Args:
        kernel_size: int or tuple of {r} ints.
        strides: int or tuple of {r} ints (default 1); > 1 with dilation > 1 is an error.
        padding: "valid" or "same".
        depth_multiplier: filters per input channel (default 1).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of {r} ints (default 1).
        activation: activation name or callable (default: linear).
        use_bias: whether to add a bias.
        depthwise_initializer, bias_initializer: default "glorot_uniform" and "zeros".
        depthwise_regularizer, bias_regularizer, activity_regularizer: penalties.
        depthwise_constraint, bias_constraint: projections after each update.

    Input shape:
        {inp} (channels_last), or channels first.

    Output shape:
        {out}, the spatial sizes following Conv{r}D's formula.

    Weights:
        kernel {kshape} (Keras 3 name; ``depthwise_kernel`` in Keras 2 files),
        bias (channels * depth_multiplier,).

    Example:

    >>> {name}(3, depth_multiplier=2)(np.zeros({xs}, "float32")).shape
    {ys}
    """

_SEPARABLE_DOC = """

    A depthwise convolution (each input channel with its own ``depth_multiplier`` filters)
    followed by a pointwise (1x1) convolution that mixes the channels into ``filters``.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of {r} ints, the depthwise window.
        strides: int or tuple of {r} ints (default 1), of the depthwise step.
        padding: "valid" or "same".
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of {r} ints (default 1).
        depth_multiplier: depthwise filters per input channel (default 1).
        activation: activation name or callable (default: linear).
        use_bias: whether to add a bias (after the pointwise step).
        depthwise_initializer, pointwise_initializer, bias_initializer: default
            "glorot_uniform", "glorot_uniform" and "zeros".
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer.
        depthwise_constraint, pointwise_constraint, bias_constraint.

    Input shape:
        {inp} (channels_last), or channels first.

    Output shape:
        {out}, the spatial sizes following Conv{r}D's formula.

    Weights:
        depthwise_kernel {kshape}, pointwise_kernel {pshape}, bias (filters,).

    Example:

    >>> {name}(8, 3)(np.zeros({xs}, "float32")).shape
    {ys}
    """


@register("layer")
class DepthwiseConv2D(BaseDepthwiseConv):
    rank = 2


@register("layer")
class DepthwiseConv1D(BaseDepthwiseConv):
    rank = 1


@register("layer", "SeparableConvolution2D")
class SeparableConv2D(BaseSeparableConv):
    rank = 2


@register("layer", "SeparableConvolution1D")
class SeparableConv1D(BaseSeparableConv):
    rank = 1


_IMG = ("(batch, rows, cols, channels)", "(batch, new_rows, new_cols, {f})", "(kh, kw, ",
        "(1, 1, ", "(2, 7, 7, 3)")
_SEQ = ("(batch, steps, channels)", "(batch, new_steps, {f})", "(k, ", "(1, ", "(2, 7, 3)")
for _cls, _r, (_inp, _out, _k, _p, _xs) in [(DepthwiseConv2D, 2, _IMG),
                                            (DepthwiseConv1D, 1, _SEQ)]:
    _cls.__doc__ = f"Depthwise {_r}-D convolution." + _DEPTHWISE_DOC.format(
        r=_r, inp=_inp, out=_out.format(f="channels * depth_multiplier"),
        kshape=_k + "channels, depth_multiplier)", name=_cls.__name__, xs=_xs,
        ys="(2, 5, 5, 6)" if _r == 2 else "(2, 5, 6)")
for _cls, _r, (_inp, _out, _k, _p, _xs) in [(SeparableConv2D, 2, _IMG),
                                            (SeparableConv1D, 1, _SEQ)]:
    _cls.__doc__ = f"Depthwise separable {_r}-D convolution." + _SEPARABLE_DOC.format(
        r=_r, inp=_inp, out=_out.format(f="filters"), kshape=_k + "channels, depth_multiplier)",
        pshape=_p + "channels * depth_multiplier, filters)", name=_cls.__name__, xs=_xs,
        ys="(2, 5, 5, 8)" if _r == 2 else "(2, 5, 8)")

SeparableConvolution2D, SeparableConvolution1D = SeparableConv2D, SeparableConv1D
