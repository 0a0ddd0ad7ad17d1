"""Pooling layers: Max/AveragePooling1D/2D and Global{Max,Average}Pooling1D/2D (with Keras's
aliases MaxPool2D, AvgPool2D, GlobalMaxPool2D, ...)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.layers.convolutional import (
    check_build_shape,
    declare_input,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    to_first,
    to_last,
)
from gpunet.layers.layer import Layer, shape_str
from gpunet.registry import register


class BasePooling(Layer):
    """Shared code of the windowed pooling layers (see MaxPooling2D for the arguments)."""

    rank = 2
    mode = "max"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = (self.pool_size if strides is None
                        else normalize_tuple(strides, self.rank, "strides"))
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        declare_input(self)

    def build(self, input_shape):
        self.compute_output_shape(check_build_shape(self, input_shape))
        self.built = True

    def call(self, inputs, training=None):
        x = to_last(inputs, self.data_format)
        if self.rank == 1:
            fn = ops.max_pool1d if self.mode == "max" else ops.avg_pool1d
            y = fn(x, self.pool_size[0], self.strides[0], self.padding)
        else:
            fn = ops.max_pool2d if self.mode == "max" else ops.avg_pool2d
            y = fn(x, self.pool_size, self.strides, self.padding)
        return to_first(y, self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        first = self.data_format == "channels_first"
        spatial = input_shape[2:] if first else input_shape[1:-1]
        out = []
        for n, k, s in zip(spatial, self.pool_size, self.strides):
            if n is None:
                out.append(None)
            elif self.padding == "same":
                out.append(-(-n // s))
            else:
                out.append((n - k) // s + 1 if n >= k else 0)
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                f"Layer '{self.name}': computed output size would be zero or negative. Received "
                f"input shape {shape_str(input_shape)}, pool_size={self.pool_size}, "
                f"strides={self.strides}, padding={self.padding!r}.")
        if first:
            return input_shape[:2] + tuple(out)
        return (input_shape[0],) + tuple(out) + (input_shape[-1],)

    def get_config(self):
        one = self.rank == 1
        return {**super().get_config(),
                "pool_size": self.pool_size[0] if one else self.pool_size,
                "padding": self.padding,
                "strides": self.strides[0] if one else self.strides,
                "data_format": self.data_format}


_POOL_DOC = """

    Args:
        pool_size: {ps_desc} (default {ps}).
        strides: {st_desc}; ``None`` (default) means ``pool_size``.
        padding: "valid" (default) or "same" (output ``ceil(n / stride)``, the odd extra
            padding at the end). {pad_note}
        data_format: "channels_last" (default) or "channels_first".

    Input shape:
        {inp} (channels_last), or channels first.

    Output shape:
        {out}: valid ``floor((n - pool) / stride) + 1``, same ``ceil(n / stride)``.

    Example:

    >>> {name}({ps})(np.zeros({xs}, "float32")).shape
    {ys}
    """
_MAX_NOTE = "Padded cells never win."
_AVG_NOTE = "Padded cells are not counted in the average."


def _pool_doc(cls: type, rank: int, title: str, note: str) -> type:
    two = rank == 2
    cls.__doc__ = title + _POOL_DOC.format(
        ps_desc="int or pair of ints, the window size" if two else "int, the window size",
        ps="(2, 2)" if two else "2",
        st_desc="int or pair of ints" if two else "int",
        pad_note=note,
        inp="(batch, rows, cols, channels)" if two else "(batch, steps, features)",
        out="(batch, pooled_rows, pooled_cols, channels)" if two
        else "(batch, pooled_steps, features)",
        name=cls.__name__, xs="(1, 4, 4, 3)" if two else "(1, 6, 3)",
        ys="(1, 2, 2, 3)" if two else "(1, 3, 3)")
    return cls


@register("layer", "MaxPool2D")
class MaxPooling2D(BasePooling):
    rank, mode = 2, "max"


@register("layer", "AvgPool2D")
class AveragePooling2D(BasePooling):
    rank, mode = 2, "avg"


@register("layer", "MaxPool1D")
class MaxPooling1D(BasePooling):
    rank, mode = 1, "max"


@register("layer", "AvgPool1D")
class AveragePooling1D(BasePooling):
    rank, mode = 1, "avg"


_pool_doc(MaxPooling2D, 2, "Max pooling over 2-D windows of images.", _MAX_NOTE)
_pool_doc(AveragePooling2D, 2, "Average pooling over 2-D windows of images.", _AVG_NOTE)
_pool_doc(MaxPooling1D, 1, "Max pooling over windows of time steps.", _MAX_NOTE)
_pool_doc(AveragePooling1D, 1, "Average pooling over windows of time steps.", _AVG_NOTE)

MaxPool2D, AvgPool2D, MaxPool1D, AvgPool1D = (MaxPooling2D, AveragePooling2D, MaxPooling1D,
                                              AveragePooling1D)


class BaseGlobalPooling(Layer):
    """Shared code of the global pooling layers."""

    rank = 2
    mode = "max"

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)
        declare_input(self)

    def _axes(self) -> tuple:
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.rank))


    def call(self, inputs, training=None):
        axes = self._axes()
        if self.mode == "max":
            return ops.max(inputs, axis=axes, keepdims=self.keepdims)
        return ops.mean(inputs, axis=axes, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else s for i, s in enumerate(input_shape))
        return tuple(s for i, s in enumerate(input_shape) if i not in axes)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


_GLOBAL_DOC = """

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the pooled axes with size 1 (default False).

    Input shape:
        {inp} (channels_last), or channels first.

    Output shape:
        (batch, channels), or {kept} with ``keepdims=True``.

    Example:

    >>> {name}()(np.zeros({xs}, "float32")).shape
    (2, 3)
    """


def _global_doc(cls: type, title: str) -> type:
    two = cls.rank == 2
    cls.__doc__ = title + _GLOBAL_DOC.format(
        inp="(batch, rows, cols, channels)" if two else "(batch, steps, features)",
        kept="(batch, 1, 1, channels)" if two else "(batch, 1, features)",
        name=cls.__name__, xs="(2, 5, 5, 3)" if two else "(2, 7, 3)")
    return cls


@register("layer", "GlobalMaxPool2D")
class GlobalMaxPooling2D(BaseGlobalPooling):
    rank, mode = 2, "max"


@register("layer", "GlobalAvgPool2D")
class GlobalAveragePooling2D(BaseGlobalPooling):
    rank, mode = 2, "avg"


@register("layer", "GlobalMaxPool1D")
class GlobalMaxPooling1D(BaseGlobalPooling):
    rank, mode = 1, "max"


@register("layer", "GlobalAvgPool1D")
class GlobalAveragePooling1D(BaseGlobalPooling):
    rank, mode = 1, "avg"
    supports_masking = True

    def call(self, inputs, training=None, mask=None):
        if mask is None:
            return super().call(inputs, training)
        b = inputs.backend
        m = b.asarray(mask).astype(inputs.dtype)
        m = m[:, :, None] if self.data_format == "channels_last" else m[:, None, :]
        axis = self._axes()
        total = ops.sum(ops.multiply(inputs, Tensor(m)), axis=axis, keepdims=self.keepdims)
        count = b.xp.maximum(m.sum(axis=axis, keepdims=self.keepdims), np.float32(1))
        return ops.divide(total, Tensor(count.astype(inputs.dtype)))


_global_doc(GlobalMaxPooling2D, "Maximum over the rows and columns of images.")
_global_doc(GlobalAveragePooling2D, "Average over the rows and columns of images.")
_global_doc(GlobalMaxPooling1D, "Maximum over the time steps of sequences.")
_global_doc(GlobalAveragePooling1D, "Average over the time steps of sequences; with a mask (e.g. "
            "from ``Embedding(mask_zero=True)``) the masked steps are left out, as in Keras.")

GlobalMaxPool2D, GlobalAvgPool2D = GlobalMaxPooling2D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalAvgPool1D = GlobalMaxPooling1D, GlobalAveragePooling1D
