"""Colour-space maps on the backend (``xp``) for the preprocessing layers: the formulas of
``gpunet.ops.image`` (luminance grayscale, RGB <-> HSV) with the layer named in their errors, and
the 3x3 smoothing filter of ``RandomSharpness``. Batches of rank 4; ``axis`` is the channel
axis (3 channels_last, 1 channels_first)."""

from __future__ import annotations

from typing import Any

from gpunet.ops.image.color import grayscale_planes, hsv_planes, rgb_planes


def rgb_to_grayscale(xp: Any, images: Any, axis: int, layer: str) -> Any:
    """Luminance ``0.2989 r + 0.587 g + 0.114 b`` kept as one channel, in the input dtype;
    one-channel images come back unchanged."""
    channels = images.shape[axis]
    if channels == 1:
        return images
    if channels != 3:
        raise ValueError(f"{layer}: expected 3 (RGB) or 1 (grayscale) channels. Received input "
                         f"with shape: images.shape={tuple(images.shape)}")
    return grayscale_planes(xp, xp, images, axis)


def _check_float(images: Any, layer: str) -> None:
    if images.dtype.kind != "f":
        raise ValueError(f"{layer}: invalid images dtype: expected float dtype. Received: "
                         f"images.dtype={images.dtype}")


def rgb_to_hsv(xp: Any, images: Any, axis: int, layer: str) -> Any:
    """Hue, saturation and value planes (hue in [0, 1), value = max(r, g, b))."""
    _check_float(images, layer)
    return hsv_planes(xp, images, axis)


def hsv_to_rgb(xp: Any, images: Any, axis: int, layer: str) -> Any:
    """The inverse of ``rgb_to_hsv`` (hue taken modulo 1)."""
    _check_float(images, layer)
    return rgb_planes(xp, images, axis)


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
