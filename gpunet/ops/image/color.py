"""Colour-space conversions of ``keras.ops.image``: luminance grayscale (TensorFlow's weights)
and RGB <-> HSV (dm_pix's formulas, hue in [0, 1)), as Keras 3 computes them.

Each formula is written once over a namespace ``F``: the array module ``xp`` for raw arrays
(the preprocessing layers, and ops calls that record no gradient) or the differentiable ops
(a Tensor that needs a gradient)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.ops._utils import xp_of
from gpunet.ops._wrap import symbolic
from gpunet.ops.image._common import (
    DIFF,
    as_image_tensor,
    check_image_rank,
    needs_grad,
    standardize_data_format,
)

__all__ = ["hsv_to_rgb", "rgb_to_grayscale", "rgb_to_hsv"]

GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def _cast(x: Any, dtype: Any) -> Any:
    return x.astype(dtype) if isinstance(x, Tensor) else x.astype(dtype, copy=False)


def grayscale_planes(F: Any, xp: Any, images: Any, axis: int) -> Any:
    """Luminance ``0.2989 r + 0.587 g + 0.114 b`` of 3-channel ``images`` as one channel at
    ``axis``, computed in the float dtype (float32 for integers), cast back to the input's."""
    dtype = images.dtype if images.dtype.kind == "f" else np.dtype("float32")
    w = xp.asarray(GRAY_WEIGHTS, dtype=dtype)
    gray = F.tensordot(_cast(images, dtype), w, axes=([axis % images.ndim], [0]))
    return _cast(F.expand_dims(gray, axis), images.dtype)


def hsv_planes(F: Any, images: Any, axis: int) -> Any:
    """Hue, saturation and value of float RGB ``images`` (channels at ``axis``)."""
    dt = images.dtype
    zero, one = dt.type(0), dt.type(1)
    eps = np.finfo(dt).eps
    images = F.where(F.abs(images) < eps, zero, images)
    r, g, b = (F.take(images, i, axis=axis) for i in range(3))
    value = F.maximum(F.maximum(r, g), b)
    range_ = value - F.minimum(F.minimum(r, g), b)
    safe_value = F.where(value > 0, value, one)
    safe_range = F.where(range_ > 0, range_, one)
    saturation = F.where(value > 0, range_ / safe_value, zero)
    norm = one / (safe_range * dt.type(6.0))
    hue = F.where(value == g, norm * (b - r) + dt.type(2.0 / 6.0),
                  norm * (r - g) + dt.type(4.0 / 6.0))
    hue = F.where(value == r, norm * (g - b), hue)
    hue = F.where(range_ > 0, hue, zero) + _cast(hue < 0.0, dt)
    return F.stack([hue, saturation, value], axis=axis)


def rgb_planes(F: Any, images: Any, axis: int) -> Any:
    """The inverse of ``hsv_planes`` (hue taken modulo 1)."""
    dt = images.dtype
    hue, saturation, value = (F.take(images, i, axis=axis) for i in range(3))
    dh = F.mod(hue, dt.type(1.0)) * dt.type(6.0)
    zero, one, two, three = (dt.type(v) for v in (0, 1, 2, 3))
    dr = F.clip(F.abs(dh - three) - one, zero, one)
    dg = F.clip(two - F.abs(dh - two), zero, one)
    db = F.clip(two - F.abs(dh - dt.type(4.0)), zero, one)
    one_minus_s = one - saturation
    return F.stack([value * (one_minus_s + saturation * d) for d in (dr, dg, db)], axis=axis)


def _prepare(images: Any, data_format: Any, need_float: bool) -> tuple:
    images = as_image_tensor(images)
    df = standardize_data_format(data_format)
    check_image_rank(images)
    if need_float and images.dtype.kind != "f":
        raise ValueError("Invalid images dtype: expected float dtype. "
                         f"Received: images.dtype={images.dtype}")
    return images, (-1 if df == "channels_last" else -3)


def _apply(formula: Any, images: Tensor, *args: Any) -> Tensor:
    xp = xp_of(images)
    if needs_grad(images):
        return formula(DIFF, images, *args)
    return Tensor(formula(xp, images.data, *args))


@symbolic("image.rgb_to_grayscale")
def rgb_to_grayscale(images: Any, data_format: str | None = None) -> Tensor:
    """Converts RGB images to grayscale (luminance ``0.2989 R + 0.587 G + 0.114 B``).

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        data_format: `"channels_last"` (`(batch, height, width, channels)`) or
            `"channels_first"` (`(batch, channels, height, width)`). Defaults to
            `gpunet.config.image_data_format()`.

    Returns:
        Grayscale image or batch of grayscale images (one channel, the input's dtype);
        one-channel images come back unchanged.

    Example:

    >>> x = np.random.random((2, 4, 4, 3))
    >>> ops.image.rgb_to_grayscale(x).shape
    (2, 4, 4, 1)
    """
    images, axis = _prepare(images, data_format, False)
    channels = images.shape[axis]
    if channels not in (1, 3):
        raise ValueError("Invalid channel size: expected 3 (RGB) or 1 (Grayscale). "
                         f"Received input with shape: images.shape={tuple(images.shape)}")
    if channels == 1:
        return images
    xp = xp_of(images)
    if needs_grad(images):
        return grayscale_planes(DIFF, xp, images, axis)
    return Tensor(grayscale_planes(xp, xp, images.data, axis))


@symbolic("image.rgb_to_hsv")
def rgb_to_hsv(images: Any, data_format: str | None = None) -> Tensor:
    """Converts RGB images to HSV.

    `images` must be of a float dtype; the output is well defined for values in `[0, 1]`.
    All HSV values are in `[0, 1]`: hue `0` is pure red, `1/3` pure green, `2/3` pure blue.

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        HSV image or batch of HSV images.

    Example:

    >>> x = np.random.random((2, 4, 4, 3))
    >>> ops.image.rgb_to_hsv(x).shape
    (2, 4, 4, 3)
    """
    images, axis = _prepare(images, data_format, True)
    _check_three(images, axis)
    return _apply(hsv_planes, images, axis)


@symbolic("image.hsv_to_rgb")
def hsv_to_rgb(images: Any, data_format: str | None = None) -> Tensor:
    """Converts HSV images to RGB (the inverse of `rgb_to_hsv`, hue taken modulo 1).

    Args:
        images: Input image or batch of images. Must be 3D or 4D, float dtype.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        RGB image or batch of RGB images.

    Example:

    >>> x = np.random.random((4, 4, 3))
    >>> ops.image.hsv_to_rgb(x).shape
    (4, 4, 3)
    """
    images, axis = _prepare(images, data_format, True)
    _check_three(images, axis)
    return _apply(rgb_planes, images, axis)


def _check_three(images: Any, axis: int) -> None:
    if images.shape[axis] != 3:
        raise ValueError("Input images must have 3 channels, but received images with "
                         f"{images.shape[axis]} channels.")
