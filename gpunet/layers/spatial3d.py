"""3-D pooling and weightless spatial layers: MaxPooling3D, AveragePooling3D,
GlobalMax/AveragePooling3D, UpSampling3D, ZeroPadding3D and Cropping3D (with Keras's aliases
MaxPool3D, AvgPool3D, GlobalMaxPool3D, GlobalAvgPool3D)."""

from __future__ import annotations

import numbers
from typing import Any

from gpunet.layers.convolutional import normalize_data_format, normalize_tuple, to_first, to_last
from gpunet.layers.pooling import BaseGlobalPooling, BasePooling
from gpunet.layers.spatial import _PadCrop, _pairs, _Spatial
from gpunet.ops.pool_extra import avg_pool3d, max_pool3d, upsampling3d
from gpunet.registry import register

_POOL3D_DOC = """

    Args:
        pool_size: int or tuple of 3 ints, the window size (default (2, 2, 2)).
        strides: int or tuple of 3 ints; ``None`` (default) means ``pool_size``.
        padding: "valid" (default) or "same" (output ``ceil(n / stride)``, the odd extra
            padding at the end). {note}
        data_format: "channels_last" (default) or "channels_first".

    Input shape:
        (batch, d1, d2, d3, channels) (channels_last), or channels first.

    Output shape:
        (batch, p1, p2, p3, channels): valid ``floor((n - pool) / stride) + 1``, same
        ``ceil(n / stride)``.

    Example:

    >>> {name}(2)(np.zeros((1, 4, 4, 5, 3), "float32")).shape
    (1, 2, 2, 2, 3)
    """


class _Pooling3D(BasePooling):
    rank = 3

    def call(self, inputs, training=None):
        x = to_last(inputs, self.data_format)
        fn = max_pool3d if self.mode == "max" else avg_pool3d
        return to_first(fn(x, self.pool_size, self.strides, self.padding), self.data_format)


@register("layer", "MaxPool3D")
class MaxPooling3D(_Pooling3D):
    mode = "max"


@register("layer", "AvgPool3D")
class AveragePooling3D(_Pooling3D):
    mode = "avg"


MaxPooling3D.__doc__ = "Max pooling over 3-D windows of volumes." + _POOL3D_DOC.format(
    note="Padded cells never win.", name="MaxPooling3D")
AveragePooling3D.__doc__ = "Average pooling over 3-D windows of volumes." + _POOL3D_DOC.format(
    note="Padded cells are not counted in the average.", name="AveragePooling3D")

_GLOBAL3D_DOC = """

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the pooled axes with size 1 (default False).

    Input shape:
        (batch, d1, d2, d3, channels) (channels_last), or channels first.

    Output shape:
        (batch, channels), or (batch, 1, 1, 1, channels) with ``keepdims=True``.

    Example:

    >>> {name}()(np.zeros((2, 3, 4, 5, 6), "float32")).shape
    (2, 6)
    """


@register("layer", "GlobalMaxPool3D")
class GlobalMaxPooling3D(BaseGlobalPooling):
    rank, mode = 3, "max"


@register("layer", "GlobalAvgPool3D")
class GlobalAveragePooling3D(BaseGlobalPooling):
    rank, mode = 3, "avg"


GlobalMaxPooling3D.__doc__ = "Maximum over the three spatial axes." + _GLOBAL3D_DOC.format(
    name="GlobalMaxPooling3D")
GlobalAveragePooling3D.__doc__ = "Average over the three spatial axes." + _GLOBAL3D_DOC.format(
    name="GlobalAveragePooling3D")

MaxPool3D, AvgPool3D = MaxPooling3D, AveragePooling3D
GlobalMaxPool3D, GlobalAvgPool3D = GlobalMaxPooling3D, GlobalAveragePooling3D


@register("layer")
class UpSampling3D(_Spatial):
    """Up-samples volumes: each cell is repeated ``size`` times along each spatial axis.

    Args:
        size: int or tuple of 3 ints, the up-sampling factors (default (2, 2, 2)).
        data_format: "channels_last" (default) or "channels_first".

    Input shape:
        (batch, d1, d2, d3, channels) (channels_last), or channels first.

    Output shape:
        (batch, d1 * s1, d2 * s2, d3 * s3, channels).

    Example:

    >>> UpSampling3D((1, 2, 3))(np.zeros((1, 2, 2, 2, 4), "float32")).shape
    (1, 2, 4, 6, 4)
    """

    rank = 3

    def __init__(self, size: Any = (2, 2, 2), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 3, "size")
        self.data_format = normalize_data_format(data_format)

    def _out_len(self, i, n):
        return n * self.size[i]

    def call(self, inputs, training=None):
        x = to_last(inputs, self.data_format)
        return to_first(upsampling3d(x, self.size), self.data_format)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@register("layer")
class ZeroPadding3D(_PadCrop):
    """Adds zeros around volumes on the three spatial axes.

    Args:
        padding: int (same everywhere), a tuple of 3 ints (symmetric per axis), or 3 pairs
            ``((before, after), ...)``. Default (1, 1, 1).
        data_format: "channels_last" (default) or "channels_first".

    Input shape:
        (batch, d1, d2, d3, channels) (channels_last), or channels first.

    Output shape:
        (batch, d1 + before1 + after1, d2 + ..., d3 + ..., channels).

    Example:

    >>> ZeroPadding3D(((1, 0), 2, (0, 3)))(np.zeros((1, 2, 2, 2, 1), "float32")).shape
    (1, 3, 6, 5, 1)
    """

    rank = 3

    def __init__(self, padding: Any = (1, 1, 1), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.amounts = _pairs3(padding, "padding")
        self.data_format = normalize_data_format(data_format)


@register("layer")
class Cropping3D(_PadCrop):
    """Crops volumes on the three spatial axes.

    Args:
        cropping: int (same everywhere), a tuple of 3 ints (symmetric per axis), or 3 pairs
            ``((before, after), ...)``. Default ((1, 1), (1, 1), (1, 1)).
        data_format: "channels_last" (default) or "channels_first".

    Input shape:
        (batch, d1, d2, d3, channels) (channels_last), or channels first.

    Output shape:
        (batch, d1 - before1 - after1, d2 - ..., d3 - ..., channels).

    Example:

    >>> Cropping3D(((1, 1), (0, 2), 1))(np.zeros((1, 4, 4, 4, 1), "float32")).shape
    (1, 2, 2, 2, 1)
    """

    rank, sign, arg = 3, -1, "cropping"

    def __init__(self, cropping: Any = ((1, 1), (1, 1), (1, 1)),
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.amounts = _pairs3(cropping, "cropping")
        self.data_format = normalize_data_format(data_format)


def _pairs3(value: Any, name: str) -> tuple:
    """Like ``_pairs`` but also accepts a mix of ints and pairs per axis."""
    if isinstance(value, (list, tuple)) and len(value) == 3:
        value = tuple((v, v) if isinstance(v, numbers.Integral) else v for v in value)
    return _pairs(value, 3, name)
