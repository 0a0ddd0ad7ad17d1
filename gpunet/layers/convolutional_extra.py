"""More convolution layers: Conv3D and Conv1D/2D/3DTranspose (N-D im2col nodes from
``gpunet.ops.conv_extra``). The depthwise and separable layers are in
``convolutional_depthwise``."""

from __future__ import annotations

from typing import Any

from gpunet import activations, ops
from gpunet.layers.convolutional import (
    BaseConv,
    check_build_shape,
    declare_input,
    normalize_padding,
    normalize_tuple,
    to_first,
    to_last,
)
from gpunet.layers.layer import Layer, shape_str
from gpunet.ops.conv import conv_output_length
from gpunet.ops.conv_extra import conv3d, conv_transpose, deconv_output_length
from gpunet.registry import register


def _activate(layer: Any, y: Any) -> Any:
    if layer.activation is not activations.linear:
        y = layer.activation(y)
    return to_first(y, layer.data_format)


def _cast(layer: Layer, x: Any) -> Any:
    return ops.cast(x, layer.dtype) if x.dtype.kind != "f" else x


@register("layer", "Convolution3D")
class Conv3D(BaseConv):
    """3-D convolution over volumes (e.g. video frames or medical scans).

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 3 ints.
        strides: int or tuple of 3 ints (default 1); > 1 together with dilation > 1 is an error.
        padding: "valid" or "same" (TensorFlow arithmetic, odd extra padding at the end).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of 3 ints (default 1).
        groups: number of channel groups.
        activation, use_bias, kernel/bias initializers, regularizers and constraints: as Conv2D.

    Input shape:
        (batch, d1, d2, d3, channels) (channels_last), or channels first.

    Output shape:
        (batch, new_d1, new_d2, new_d3, filters); valid ``floor((n - d*(k-1) - 1) / s) + 1``,
        same ``ceil(n / s)``.

    Weights:
        kernel (k1, k2, k3, channels // groups, filters), bias (filters,).

    Example:

    >>> Conv3D(4, 3)(np.zeros((1, 5, 6, 7, 2), "float32")).shape
    (1, 3, 4, 5, 4)
    """

    rank = 3

    def call(self, inputs, training=None):
        x = to_last(_cast(self, inputs), self.data_format)
        y = conv3d(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate,
                   self.groups)
        return _activate(self, y)


class BaseConvTranspose(BaseConv):
    """Shared code of the transposed convolutions (see Conv2DTranspose for the arguments)."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 output_padding: Any = None, data_format: str | None = None,
                 dilation_rate: Any = 1, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        kwargs.pop("groups", None)
        super().__init__(filters, kernel_size, strides, normalize_padding(padding), data_format,
                         dilation_rate, 1, activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = normalize_tuple(output_padding, self.rank, "output_padding",
                                                  allow_zero=True)
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError("Strides must be greater than output padding. Received "
                                 f"strides={self.strides}, "
                                 f"output_padding={self.output_padding}.")

    def build(self, input_shape):
        input_shape = check_build_shape(self, input_shape)
        c = self._channels(input_shape)
        if c is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the input must be "
                             f"known. Received input shape {shape_str(input_shape)}.")
        self.compute_output_shape(input_shape)  # raises on an impossible output
        declare_input(self, c)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, c),
                                      self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs, training=None):
        x = to_last(_cast(self, inputs), self.data_format)
        y = conv_transpose(x, self.kernel, self.bias, self.strides, self.padding,
                           self.output_padding, self.dilation_rate)
        return _activate(self, y)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        first = self.data_format == "channels_first"
        spatial = input_shape[2:] if first else input_shape[1:-1]
        ops_ = self.output_padding or (None,) * self.rank
        out = []
        for n, k, s, d, p in zip(spatial, self.kernel_size, self.strides, self.dilation_rate,
                                 ops_):
            length = deconv_output_length(n, k, self.padding, p, s, d)
            if n is not None and (length <= 0 or conv_output_length(
                    length, k, self.padding, s, d) != n):
                raise ValueError(
                    f"Layer '{self.name}': kernel_size={self.kernel_size}, strides="
                    f"{self.strides}, padding={self.padding!r}, output_padding="
                    f"{self.output_padding} and dilation_rate={self.dilation_rate} give an "
                    f"output length of {length}, which does not convolve back to the input "
                    f"length {n}. Received input shape {shape_str(input_shape)}.")
            out.append(length)
        if first:
            return (input_shape[0], self.filters) + tuple(out)
        return (input_shape[0],) + tuple(out) + (self.filters,)

    def get_config(self):
        cfg = super().get_config()
        del cfg["groups"]
        cfg["output_padding"] = self.output_padding
        return cfg


_TRANSPOSE_DOC = """

    The transpose of a convolution (the gradient of Conv{r}D with respect to its input), used
    to up-sample feature maps.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of {r} ints.
        strides: int or tuple of {r} ints (default 1).
        padding: "valid" or "same".
        output_padding: ``None`` (default) or int / tuple of {r} ints, the extra length at the
            end of each output axis; each must be smaller than its stride.
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or tuple of {r} ints (default 1); > 1 with strides > 1 is an error.
        activation, use_bias, kernel/bias initializers, regularizers and constraints: as Conv2D.

    Input shape:
        {inp} (channels_last), or channels first.

    Output shape:
        {out}, each length following Keras's ``deconv_output_length``: with
        ``output_padding=None``, valid ``n*s + max(k_eff - s, 0)`` and same ``n*s``; otherwise
        ``(n - 1)*s + k_eff - 2*pad + output_padding`` with ``pad = k_eff // 2`` for same, 0
        for valid (``k_eff = d*(k - 1) + 1``).

    Weights:
        kernel {kshape} (Keras layout: filters before input channels), bias (filters,).

    Example:

    >>> {name}(4, 3, strides=2, padding="same")(np.zeros({xs}, "float32")).shape
    {ys}
    """


@register("layer", "Convolution2DTranspose", "Deconvolution2D", "Deconv2D")
class Conv2DTranspose(BaseConvTranspose):
    rank = 2


@register("layer", "Convolution1DTranspose", "Deconv1D")
class Conv1DTranspose(BaseConvTranspose):
    rank = 1


@register("layer", "Convolution3DTranspose", "Deconv3D")
class Conv3DTranspose(BaseConvTranspose):
    rank = 3


for _cls, _r, _inp, _out, _xs, _ys in [
        (Conv2DTranspose, 2, "(batch, rows, cols, channels)", "(batch, new_rows, new_cols, "
         "filters)", "(2, 5, 5, 3)", "(2, 10, 10, 4)"),
        (Conv1DTranspose, 1, "(batch, steps, channels)", "(batch, new_steps, filters)",
         "(2, 5, 3)", "(2, 10, 4)"),
        (Conv3DTranspose, 3, "(batch, d1, d2, d3, channels)", "(batch, new_d1, new_d2, new_d3, "
         "filters)", "(1, 2, 3, 4, 2)", "(1, 4, 6, 8, 4)")]:
    _cls.__doc__ = f"Transposed {_r}-D convolution." + _TRANSPOSE_DOC.format(
        r=_r, inp=_inp, out=_out, kshape="(*kernel_size, filters, channels)", name=_cls.__name__,
        xs=_xs, ys=_ys)

Convolution2DTranspose, Convolution1DTranspose = Conv2DTranspose, Conv1DTranspose
Convolution3DTranspose, Convolution3D = Conv3DTranspose, Conv3D
