"""Colour-space maps on the backend (``xp``), as Keras 3's ``keras.ops.image`` computes them:
luminance grayscale (TensorFlow's weights), RGB <-> HSV (dm_pix's formulas, hue in [0, 1)) and
the 3x3 smoothing filter of ``RandomSharpness``. Batches of rank 4; ``axis`` is the channel
axis (3 channels_last, 1 channels_first)."""

from __future__ import annotations

from typing import Any

import numpy as np

GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def rgb_to_grayscale(xp: Any, images: Any, axis: int, layer: str) -> Any:
    """Luminance ``0.2989 r + 0.587 g + 0.114 b`` kept as one channel, in the input dtype;
    one-channel images come back unchanged."""
    channels = images.shape[axis]
    if channels == 1:
        return images
    if channels != 3:
        raise ValueError(f"{layer}: expected 3 (RGB) or 1 (grayscale) channels. Received input "
                         f"with shape: images.shape={tuple(images.shape)}")
    dtype = images.dtype if images.dtype.kind == "f" else np.dtype("float32")
    w = xp.asarray(GRAY_WEIGHTS, dtype=dtype)
    gray = xp.tensordot(images.astype(dtype, copy=False), w, axes=([axis], [0]))
    return xp.expand_dims(gray, axis).astype(images.dtype, copy=False)


def _planes(xp: Any, images: Any, axis: int) -> tuple:
    return tuple(xp.take(images, i, axis=axis) for i in range(3))


def rgb_to_hsv(xp: Any, images: Any, axis: int, layer: str) -> Any:
    """Hue, saturation and value planes (hue in [0, 1), value = max(r, g, b))."""
    if images.dtype.kind != "f":
        raise ValueError(f"{layer}: invalid images dtype: expected float dtype. Received: "
                         f"images.dtype={images.dtype}")
    eps = np.finfo(images.dtype).eps
    images = xp.where(xp.abs(images) < eps, images.dtype.type(0), images)
    r, g, b = _planes(xp, images, axis)
    value = xp.maximum(xp.maximum(r, g), b)
    minimum = xp.minimum(xp.minimum(r, g), b)
    range_ = value - minimum
    one = images.dtype.type(1)
    safe_value = xp.where(value > 0, value, one)
    safe_range = xp.where(range_ > 0, range_, one)
    saturation = xp.where(value > 0, range_ / safe_value, images.dtype.type(0))
    norm = one / (6.0 * safe_range)
    hue = xp.where(value == g, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0)
    hue = xp.where(value == r, norm * (g - b), hue)
    hue = xp.where(range_ > 0, hue, images.dtype.type(0)) + (hue < 0.0).astype(hue.dtype)
    return xp.stack([hue, saturation, value], axis=axis).astype(images.dtype, copy=False)


def hsv_to_rgb(xp: Any, images: Any, axis: int, layer: str) -> Any:
    """The inverse of ``rgb_to_hsv`` (hue taken modulo 1)."""
    if images.dtype.kind != "f":
        raise ValueError(f"{layer}: invalid images dtype: expected float dtype. Received: "
                         f"images.dtype={images.dtype}")
    hue, saturation, value = _planes(xp, images, axis)
    dh = xp.mod(hue, 1.0) * 6.0
    dr = xp.clip(xp.abs(dh - 3.0) - 1.0, 0.0, 1.0)
    dg = xp.clip(2.0 - xp.abs(dh - 2.0), 0.0, 1.0)
    db = xp.clip(2.0 - xp.abs(dh - 4.0), 0.0, 1.0)
    one_minus_s = 1.0 - saturation
    planes = [value * (one_minus_s + saturation * d) for d in (dr, dg, db)]
    return xp.stack(planes, axis=axis).astype(images.dtype, copy=False)


def smooth3x3(xp: Any, images: Any, axes: tuple) -> Any:
    """Each pixel replaced by ``(5 * centre + sum of the 8 neighbours) / 13``, zeros outside
    the image (a depthwise 3x3 convolution with "same" padding); ``axes`` = (h, w)."""
    pad = [(0, 0)] * images.ndim
    pad[axes[0]] = pad[axes[1]] = (1, 1)
    p = xp.pad(images, pad)
    h, w = images.shape[axes[0]], images.shape[axes[1]]
    total = None
    for dy in range(3):
        for dx in range(3):
            key = [slice(None)] * images.ndim
            key[axes[0]], key[axes[1]] = slice(dy, dy + h), slice(dx, dx + w)
            part = p[tuple(key)]
            total = part if total is None else total + part
    a = images.dtype.type(1.0 / 13.0)
    return total * a + images * images.dtype.type(4.0 / 13.0)
