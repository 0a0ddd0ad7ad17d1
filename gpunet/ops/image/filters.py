"""``keras.ops.image.gaussian_blur`` and ``sobel_edges``: fixed depthwise filters with "same"
zero padding (cross-correlation, as Keras 3 computes them with ``conv_general_dilated``),
differentiable through the depthwise convolution."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.ops import gather, math, shape_ops
from gpunet.ops._utils import xp_of
from gpunet.ops._wrap import symbolic
from gpunet.ops.image._common import (
    as_image_tensor,
    check_image_rank,
    standardize_data_format,
)
from gpunet.ops.nn_keras import depthwise_conv

__all__ = ["gaussian_blur", "sobel_edges"]


def _pair(v: Any, name: str) -> tuple:
    t = (v, v) if isinstance(v, (int, float)) else tuple(v)
    if len(t) != 2:
        raise ValueError(f"gaussian_blur: `{name}` must be a number or a pair (one per spatial "
                         f"axis). Received: {name}={v}")
    return t


def _kernel1d(xp: Any, size: int, sigma: float, dtype: Any) -> Any:
    x = xp.arange(size, dtype=dtype) - dtype.type((size - 1) / 2)
    k = xp.exp(dtype.type(-0.5) * (x / dtype.type(sigma)) ** 2)
    return k / k.sum()


@symbolic("image.gaussian_blur")
def gaussian_blur(images: Any, kernel_size: Any = (3, 3), sigma: Any = (1.0, 1.0),
                  data_format: str | None = None) -> Tensor:
    """Applies a Gaussian blur to the image(s).

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        kernel_size: A tuple of two integers, the kernel size: as in Keras, the first
            entry sizes the kernel along the width axis and the second along the height axis.
        sigma: A tuple of two floats, the standard deviations of the Gaussian (the first
            along the width axis, the second along the height axis, as `kernel_size`).
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        Blurred image or batch of images (zeros assumed outside the image; integer images
        are blurred in float32 and cast back).

    Example:

    >>> x = np.random.random((2, 64, 80, 3))
    >>> ops.image.gaussian_blur(x).shape
    (2, 64, 80, 3)
    """
    x = as_image_tensor(images)
    check_image_rank(x)
    df = standardize_data_format(data_format)
    ks = tuple(int(k) for k in _pair(kernel_size, "kernel_size"))
    sg = tuple(float(s) for s in _pair(sigma, "sigma"))
    if min(ks) < 1 or min(sg) <= 0:
        raise ValueError(f"gaussian_blur: `kernel_size` must be positive integers and `sigma` "
                         f"positive. Received: kernel_size={kernel_size}, sigma={sigma}")
    dtype = x.dtype
    if dtype.kind != "f":
        x = math.cast(x, "float32")
    xp = xp_of(x)
    dt = np.dtype(x.dtype)
    k2 = xp.outer(_kernel1d(xp, ks[1], sg[1], dt), _kernel1d(xp, ks[0], sg[0], dt))
    c = x.shape[-1 if df == "channels_last" else -3]
    kernel = xp.ascontiguousarray(xp.broadcast_to(k2[:, :, None, None], k2.shape + (c, 1)))
    unbatched = x.ndim == 3
    if unbatched:
        x = shape_ops.expand_dims(x, 0)
    y = depthwise_conv(x, Tensor(kernel), 1, "same", df)
    if unbatched:
        y = shape_ops.squeeze(y, 0)
    return y if dtype.kind == "f" else math.cast(y, dtype)


SOBEL_Y = ((-1, -2, -1), (0, 0, 0), (1, 2, 1))
SOBEL_X = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))


@symbolic("image.sobel_edges")
def sobel_edges(images: Any, data_format: str | None = None) -> Tensor:
    """Computes Sobel edge detection on images.

    The Sobel operator computes the gradient of the image intensity at each pixel: the
    vertical (`dy`) and horizontal (`dx`) responses of the 3x3 Sobel filters, zeros assumed
    outside the image.

    Args:
        images: A batch of images, `(batch, height, width, channels)` if
            `data_format="channels_last"`, or `(batch, channels, height, width)` if
            `data_format="channels_first"`.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        The edge maps with a last axis of 2, `[dy, dx]`: `(batch, height, width, channels, 2)`
        (channels_last) or `(batch, channels, height, width, 2)` (channels_first).

    Example:

    >>> image = np.zeros((1, 8, 8, 1), dtype="float32")
    >>> image[0, :, 4:, 0] = 1.0
    >>> ops.image.sobel_edges(image).shape
    (1, 8, 8, 1, 2)
    """
    x = as_image_tensor(images)
    if x.ndim != 4:
        raise ValueError("Invalid images rank: expected rank 4 (batch of images). "
                         f"Received: images.shape={list(x.shape)}")
    df = standardize_data_format(data_format)
    xp = xp_of(x)
    dt = x.dtype if x.dtype.kind == "f" else np.dtype("float32")
    c = x.shape[-1 if df == "channels_last" else 1]
    pair = xp.stack([xp.asarray(SOBEL_Y, dtype=dt), xp.asarray(SOBEL_X, dtype=dt)], axis=-1)
    kernel = xp.ascontiguousarray(xp.broadcast_to(pair[:, :, None, :], (3, 3, c, 2)))
    y = depthwise_conv(math.cast(x, dt) if x.dtype != dt else x, Tensor(kernel), 1, "same", df)
    b, h, w = (y.shape[0], y.shape[1], y.shape[2]) if df == "channels_last" else (
        y.shape[0], y.shape[2], y.shape[3])
    if df == "channels_last":
        return shape_ops.reshape(y, (b, h, w, c, 2))
    return gather.moveaxis(shape_ops.reshape(y, (b, c, 2, h, w)), 2, -1)
