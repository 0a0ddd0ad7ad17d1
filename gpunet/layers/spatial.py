"""Weightless spatial layers: UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D."""

from __future__ import annotations

import numbers
from typing import Any

from gpunet import ops
from gpunet.layers.convolutional import (
    declare_input,
    normalize_data_format,
    normalize_tuple,
    to_first,
    to_last,
)
from gpunet.layers.layer import Layer, shape_str
from gpunet.registry import register


class _Spatial(Layer):
    """Base of the weightless spatial layers: rank check and data-format handling."""

    rank = 2
    data_format = "channels_last"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        declare_input(self)

    def _spatial_axes(self) -> tuple:
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for i, ax in enumerate(self._spatial_axes()):
            if out[ax] is not None:
                out[ax] = self._out_len(i, out[ax])
        return tuple(out)

    def get_config(self):
        cfg = super().get_config()
        if "data_format" in self.__dict__:
            cfg["data_format"] = self.data_format
        return cfg


@register("layer")
class UpSampling2D(_Spatial):
    """Up-samples images: each pixel is repeated ``size`` times (or bilinearly resized).

    Args:
        size: int or pair, the up-sampling factors for rows and columns (default (2, 2)).
        data_format: "channels_last" (default) or "channels_first".
        interpolation: "nearest" (pure repetition) or "bilinear" (half-pixel centres, edges
            clamped, as TensorFlow's image resize).

    Input shape:
        (batch, rows, cols, channels). Output shape: (batch, rows * sh, cols * sw, channels).

    Example:

    >>> UpSampling2D(2)(np.zeros((1, 3, 4, 2), "float32")).shape
    (1, 6, 8, 2)
    """

    def __init__(self, size: Any = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 2, "size")
        self.data_format = normalize_data_format(data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError("The `interpolation` argument must be one of 'nearest', "
                             f"'bilinear'. Received: interpolation={interpolation!r}")
        self.interpolation = interpolation

    def _out_len(self, i, n):
        return n * self.size[i]

    def call(self, inputs, training=None):
        x = to_last(inputs, self.data_format)
        return to_first(ops.upsampling2d(x, self.size, self.interpolation), self.data_format)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "interpolation": self.interpolation}


@register("layer")
class UpSampling1D(_Spatial):
    """Repeats each time step ``size`` times along the steps axis.

    Args:
        size: the up-sampling factor (default 2).

    Input shape:
        (batch, steps, features). Output shape: (batch, steps * size, features).
    """

    rank = 1

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 1, "size")[0]

    def _out_len(self, i, n):
        return n * self.size

    def call(self, inputs, training=None):
        n, t, c = inputs.shape
        y = ops.upsampling2d(ops.reshape(inputs, (n, t, 1, c)), (self.size, 1))
        return ops.reshape(y, (n, t * self.size, c))

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def _pairs(value: Any, rank: int, name: str) -> tuple:
    """Keras's padding/cropping forms: int, one int per axis, or a (before, after) per axis."""
    if isinstance(value, numbers.Integral):
        return ((int(value), int(value)),) * rank
    value = tuple(value)
    if rank == 1:
        return (normalize_tuple(value, 2, name, allow_zero=True),)
    if len(value) == rank and all(isinstance(v, numbers.Integral) for v in value):
        return tuple((int(v), int(v)) for v in value)
    if len(value) != rank:
        raise ValueError(f"The `{name}` argument must be an int, a tuple of {rank} ints or a "
                         f"tuple of {rank} tuples of 2 ints. Received: {name}={value!r}")
    return tuple(normalize_tuple(v, 2, name, allow_zero=True) for v in value)


class _PadCrop(_Spatial):
    sign = 1
    arg = "padding"

    def _out_len(self, i, n):
        return n + self.sign * sum(self.amounts[i])

    def compute_output_shape(self, input_shape):
        out = super().compute_output_shape(input_shape)
        if any(s is not None and s <= 0 for s in out[1:]):
            raise ValueError(f"Layer '{self.name}': {self.arg}={self.amounts} leaves nothing of "
                             f"the input of shape {shape_str(input_shape)}.")
        return out

    def call(self, inputs, training=None):
        axes = self._spatial_axes()
        if self.sign > 0:
            widths = [(0, 0)] * inputs.ndim
            for ax, p in zip(axes, self.amounts):
                widths[ax] = p
            return ops.pad(inputs, widths)
        self.compute_output_shape((None,) + tuple(inputs.shape[1:]))
        key = [slice(None)] * inputs.ndim
        for ax, (a, b) in zip(axes, self.amounts):
            key[ax] = slice(a, inputs.shape[ax] - b)
        return ops.getitem(inputs, tuple(key))

    def get_config(self):
        value = self.amounts[0] if self.rank == 1 else self.amounts
        return {**super().get_config(), self.arg: value}


@register("layer")
class ZeroPadding2D(_PadCrop):
    """Adds rows and columns of zeros around images.

    Args:
        padding: int (same on all sides), (pad_rows, pad_cols), or
            ((top, bottom), (left, right)). Default (1, 1).
        data_format: "channels_last" (default) or "channels_first".

    Input shape:
        (batch, rows, cols, channels). Output shape: (batch, rows + top + bottom,
        cols + left + right, channels).

    Example:

    >>> ZeroPadding2D(((1, 0), (2, 2)))(np.zeros((1, 3, 3, 1), "float32")).shape
    (1, 4, 7, 1)
    """

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.amounts = _pairs(padding, 2, "padding")
        self.data_format = normalize_data_format(data_format)


@register("layer")
class ZeroPadding1D(_PadCrop):
    """Adds zeros at the start and end of the steps axis.

    Args:
        padding: int (both ends) or (before, after). Default 1.
        data_format: "channels_last" (default) or "channels_first" (Keras 3).

    Input shape:
        (batch, steps, features). Output shape: (batch, steps + before + after, features).
    """

    rank = 1

    def __init__(self, padding: Any = 1, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.amounts = _pairs(padding, 1, "padding")
        self.data_format = normalize_data_format(data_format)


@register("layer")
class Cropping2D(_PadCrop):
    """Crops rows and columns off the borders of images.

    Args:
        cropping: int, (crop_rows, crop_cols), or ((top, bottom), (left, right)).
        data_format: "channels_last" (default) or "channels_first".

    Input shape:
        (batch, rows, cols, channels). Output shape: (batch, rows - top - bottom,
        cols - left - right, channels).

    Example:

    >>> Cropping2D(((2, 2), (4, 4)))(np.zeros((1, 28, 28, 3), "float32")).shape
    (1, 24, 20, 3)
    """

    sign, arg = -1, "cropping"

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.amounts = _pairs(cropping, 2, "cropping")
        self.data_format = normalize_data_format(data_format)


@register("layer")
class Cropping1D(_PadCrop):
    """Crops time steps off the start and end of sequences.

    Args:
        cropping: int (both ends) or (before, after). Default (1, 1).

    Input shape:
        (batch, steps, features). Output shape: (batch, steps - before - after, features).
    """

    rank, sign, arg = 1, -1, "cropping"

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.amounts = _pairs(cropping, 1, "cropping")
