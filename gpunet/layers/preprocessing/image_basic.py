"""Deterministic image preprocessing layers: Rescaling, Resizing, CenterCrop.

All three run on the backend (``xp``): on the GPU when the data is there. ``Rescaling`` and
``CenterCrop`` are differentiable (built from ops); ``Resizing`` is a gather and carries no
gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, image_data_format
from gpunet.layers.layer import shape_str
from gpunet.layers.preprocessing._base import (
    PreprocessingLayer,
    check_choice,
    check_positive_int,
    raw,
)
from gpunet.registry import register

INTERPOLATIONS = ("bilinear", "nearest")


def _listify(v: Any) -> Any:
    return np.asarray(v).tolist() if isinstance(v, (np.ndarray, list, tuple)) else v


@register("layer")
class Rescaling(PreprocessingLayer):
    """Multiplies the inputs by ``scale`` and adds ``offset``: ``x * scale + offset``.

    Args:
        scale: float (or array broadcastable to the input), e.g. ``1 / 255``.
        offset: float (or array) added after scaling (default 0).

    Input shape:
        Arbitrary (integer inputs such as ``uint8`` images are cast to the layer dtype).

    Output shape:
        Same as the input.

    Example:

    >>> Rescaling(1.0 / 127.5, offset=-1)(np.array([[0, 255]], "uint8")).numpy()
    array([[-1.,  1.]], dtype=float32)
    """

    supports_masking = True

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = _listify(scale), _listify(offset)

    def call(self, inputs, training=None):
        x = inputs if inputs.dtype == np.dtype(self.dtype) else ops.cast(inputs, self.dtype)
        xp = x.backend.xp
        x = ops.multiply(x, xp.asarray(self.scale, dtype=self.dtype))
        if self.offset != 0.0 and self.offset != 0:
            x = ops.add(x, xp.asarray(self.offset, dtype=self.dtype))
        return x

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _channels_last(x: Any, data_format: str) -> Any:
    return x if data_format == "channels_last" else x.transpose(0, 2, 3, 1)


def _axis_weights(n_in: int, n_out: int, interpolation: str) -> tuple:
    """Source indices (and bilinear weights) for one axis, half-pixel centres like TF's
    ``tf.image.resize`` with ``antialias=False``."""
    scale = n_in / n_out
    dst = np.arange(n_out, dtype=np.float64)
    if interpolation == "nearest":
        src = np.minimum(np.floor((dst + 0.5) * scale), n_in - 1).astype(np.int64)
        return np.maximum(src, 0), None, None
    src = (dst + 0.5) * scale - 0.5
    fl = np.floor(src)
    lo = np.maximum(fl, 0).astype(np.int64)
    hi = np.minimum(np.ceil(src), n_in - 1).astype(np.int64)
    return lo, hi, (src - fl)


def aspect_crop_box(height: int, width: int, target_h: int, target_w: int) -> tuple:
    """The centred ``(top, left, h, w)`` box of the target aspect ratio (Keras's rule)."""
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def resize_images(x: Any, height: int, width: int, interpolation: str = "bilinear",
                  crop_to_aspect_ratio: bool = False) -> Any:
    """Resizes a channels-last batch ``(n, h, w, c)`` (a NumPy or CuPy array) on its device.

    Args:
        x: the images, any numeric dtype (the result is float, the input's float dtype or
            float32).
        height, width: output size.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        crop_to_aspect_ratio: first crop the largest centred box of the target aspect ratio.

    Returns:
        ``(n, height, width, c)`` array.
    """
    xp = backend_of(x).xp
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    h, w = x.shape[1], x.shape[2]
    if crop_to_aspect_ratio:
        top, left, ch, cw = aspect_crop_box(h, w, height, width)
        x = x[:, top:top + ch, left:left + cw]
        h, w = ch, cw
    for axis, n_in, n_out in ((1, h, height), (2, w, width)):
        if n_in == n_out:
            continue
        lo, hi, frac = _axis_weights(n_in, n_out, interpolation)
        a = xp.take(x, xp.asarray(lo), axis=axis)
        if frac is not None:
            b = xp.take(x, xp.asarray(hi), axis=axis)
            shape = [1, 1, 1, 1]
            shape[axis] = n_out
            f = xp.asarray(frac.reshape(shape), dtype=x.dtype)
            a = a + (b - a) * f
        x = a
    return x


class _ImageLayer(PreprocessingLayer):
    """Rank-3 or rank-4 image input in ``data_format`` (channels_last by default)."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = check_choice(type(self).__name__, "data_format",
                                        data_format or image_data_format(),
                                        ("channels_last", "channels_first"))

    def _check_rank(self, x: Any) -> None:
        if x.ndim not in (3, 4):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects images of "
                             f"rank 3 (h, w, c) or 4 (batch, h, w, c); received input with "
                             f"shape {shape_str(tuple(x.shape))}.")

    def _hw_axes(self, ndim: int) -> tuple:
        first = ndim - 3 if self.data_format == "channels_last" else ndim - 2
        return first, first + 1

    def _out_shape(self, input_shape: tuple) -> tuple:
        shape = list(input_shape)
        r, c = self._hw_axes(len(shape))
        shape[r], shape[c] = self.height, self.width
        return tuple(shape)

    def compute_output_shape(self, input_shape):
        return self._out_shape(tuple(input_shape))

    def _resize(self, inputs: Any, interpolation: str, crop: bool) -> Tensor:
        x = raw(inputs)
        single = x.ndim == 3
        if single:
            x = x[None]
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)
        y = resize_images(x, self.height, self.width, interpolation, crop)
        if self.data_format == "channels_first":
            y = y.transpose(0, 3, 1, 2)
        y = y[0] if single else y
        return Tensor(y.astype(self.dtype, copy=False))

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": self.data_format}


@register("layer")
class Resizing(_ImageLayer):
    """Resizes images to ``(height, width)``.

    Sampling uses half-pixel centres, as TensorFlow's ``tf.image.resize`` (``antialias=False``)
    and Keras 3: bilinear output pixel ``i`` reads input position ``(i + 0.5) * in / out - 0.5``
    (clamped at the borders); nearest reads ``floor((i + 0.5) * in / out)``.

    Args:
        height, width: output size.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        crop_to_aspect_ratio: resize the largest centred crop of the target aspect ratio
            instead of distorting the image.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)`` (channels_last).

    Output shape:
        ``(batch, height, width, c)`` or ``(height, width, c)``; float.

    Example:

    >>> Resizing(2, 2)(np.ones((1, 4, 4, 3))).shape
    (1, 2, 2, 3)
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_format, **kwargs)
        self.height = check_positive_int("Resizing", "height", height)
        self.width = check_positive_int("Resizing", "width", width)
        self.interpolation = check_choice("Resizing", "interpolation", interpolation,
                                          INTERPOLATIONS)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)

    def call(self, inputs, training=None):
        self._check_rank(inputs)
        return self._resize(inputs, self.interpolation, self.crop_to_aspect_ratio)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio}


@register("layer")
class CenterCrop(_ImageLayer):
    """Crops the centre ``(height, width)`` of each image.

    The crop starts at row ``(h - height) // 2`` and column ``(w - width) // 2``. An image
    smaller than the target is first resized (bilinear, cropped to the target aspect ratio),
    as Keras 3 does.

    Args:
        height, width: size of the crop.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)`` (channels_last).

    Output shape:
        ``(batch, height, width, c)`` or ``(height, width, c)``.

    Example:

    >>> CenterCrop(2, 2)(np.arange(16.0).reshape(1, 4, 4, 1)).numpy()[0, :, :, 0]
    array([[ 5.,  6.],
           [ 9., 10.]], dtype=float32)
    """

    def __init__(self, height: int, width: int, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_format, **kwargs)
        self.height = check_positive_int("CenterCrop", "height", height)
        self.width = check_positive_int("CenterCrop", "width", width)

    def call(self, inputs, training=None):
        self._check_rank(inputs)
        r, c = self._hw_axes(inputs.ndim)
        h, w = inputs.shape[r], inputs.shape[c]
        if h < self.height or w < self.width:
            return self._resize(inputs, "bilinear", True)
        top, left = (h - self.height) // 2, (w - self.width) // 2
        key = [slice(None)] * inputs.ndim
        key[r], key[c] = slice(top, top + self.height), slice(left, left + self.width)
        x = inputs if inputs.dtype == np.dtype(self.dtype) else ops.cast(inputs, self.dtype)
        return ops.getitem(x, tuple(key))
