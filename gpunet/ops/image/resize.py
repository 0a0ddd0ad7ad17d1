"""``keras.ops.image.resize``: separable resampling as Keras 3 (``jax.image.resize``) computes
it. Each spatial axis whose size changes is multiplied by a weight matrix (triangle, Keys cubic
or Lanczos kernel, widened by the scale when antialiasing a downsample), so the op is
differentiable through the existing ``tensordot``; "nearest" gathers rows and columns."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.ops import elementwise, gather, math, misc, shape_ops
from gpunet.ops._utils import xp_of
from gpunet.ops._wrap import symbolic
from gpunet.ops.image._common import (
    as_image_tensor,
    check_image_rank,
    hw_axes,
    standardize_data_format,
)
from gpunet.ops.products import tensordot

__all__ = ["resize"]

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")


def _triangle(xp: Any, x: Any) -> Any:
    return xp.maximum(0, 1 - xp.abs(x))


def _keys_cubic(xp: Any, x: Any) -> Any:
    out = ((1.5 * x - 2.5) * x) * x + 1.0
    out = xp.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return xp.where(x >= 2.0, 0.0, out)


def _lanczos(radius: float):
    def kernel(xp: Any, x: Any) -> Any:
        y = radius * xp.sin(np.pi * x) * xp.sin(np.pi * x / radius)
        out = xp.where(x > 1e-3, y / xp.where(x != 0, np.pi ** 2 * x ** 2, 1), 1)
        return xp.where(x > radius, 0.0, out)

    return kernel


KERNELS = {"linear": _triangle, "bilinear": _triangle, "trilinear": _triangle,
           "cubic": _keys_cubic, "bicubic": _keys_cubic, "tricubic": _keys_cubic,
           "lanczos3": _lanczos(3.0), "lanczos5": _lanczos(5.0)}


def weight_matrix(xp: Any, n_in: int, n_out: int, scale: float, translation: float,
                  kernel: Any, antialias: bool) -> Any:
    """The ``(n_in, n_out)`` resampling weights of one axis (float64): output sample ``j`` sits
    at ``(j + 0.5 - translation) / scale - 0.5`` in input coordinates; columns sum to one,
    samples outside ``[-0.5, n_in - 0.5]`` get none."""
    inv_scale = 1.0 / scale  # a float, or a 0-d device array (no host read)
    kernel_scale = ((max(inv_scale, 1.0) if isinstance(inv_scale, float)
                     else xp.maximum(inv_scale, 1.0)) if antialias else 1.0)
    sample = (xp.arange(n_out, dtype="float64") + 0.5) * inv_scale - translation * inv_scale - 0.5
    x = xp.abs(sample[None, :] - xp.arange(n_in, dtype="float64")[:, None]) / kernel_scale
    w = kernel(xp, x)
    total = w.sum(axis=0, keepdims=True)
    w = xp.where(xp.abs(total) > 1000.0 * float(np.finfo(np.float32).eps),
                 w / xp.where(total != 0, total, 1), 0)
    inside = (sample >= -0.5) & (sample <= n_in - 0.5)
    return xp.where(inside[None, :], w, 0)


def _nearest(x: Tensor, axes: tuple, sizes: tuple) -> Tensor:
    xp = xp_of(x)
    for d, n in zip(axes, sizes):
        m = x.shape[d]
        if m == n:
            continue
        offsets = xp.floor((xp.arange(n, dtype="float32") + 0.5) * m / n).astype("int64")
        x = gather.take(x, offsets, axis=d)
    return x


def separable_resample(x: Tensor, axes: tuple, sizes: tuple, method: str, antialias: bool,
                       scales: tuple | None = None, translations: tuple | None = None) -> Tensor:
    """Resamples float ``x`` along ``axes`` to ``sizes`` with ``method``'s kernel (Keras's
    ``scale_and_translate``; ``scales`` default to ``size_out / size_in``, translations to 0;
    given ones are floats or 0-d float64 device arrays)."""
    xp = xp_of(x)
    kernel = KERNELS[method]
    for i, (d, n) in enumerate(zip(axes, sizes)):
        m = x.shape[d]
        scale = n / m if scales is None else scales[i]
        shift = 0.0 if translations is None else translations[i]
        if scales is None and m == n:
            continue
        w = weight_matrix(xp, m, n, scale, shift, kernel, antialias).astype(x.dtype)
        x = gather.moveaxis(tensordot(x, w, axes=([d], [0])), -1, d)
    return x


def _aspect_crop(x: Tensor, h_ax: int, w_ax: int, th: int, tw: int) -> Tensor:
    height, width = x.shape[h_ax], x.shape[w_ax]
    crop_h = max(min(height, int(float(width * th) / tw)), 1)
    crop_w = max(min(width, int(float(height * tw) / th)), 1)
    top, left = int(float(height - crop_h) / 2), int(float(width - crop_w) / 2)
    key = [slice(None)] * x.ndim
    key[h_ax], key[w_ax] = slice(top, top + crop_h), slice(left, left + crop_w)
    return shape_ops.getitem(x, tuple(key))


def _aspect_pad(x: Tensor, h_ax: int, w_ax: int, th: int, tw: int, fill_value: Any) -> Tensor:
    height, width = x.shape[h_ax], x.shape[w_ax]
    top = int(float(max(height, int(float(width * th) / tw)) - height) / 2)
    left = int(float(max(width, int(float(height * tw) / th)) - width) / 2)
    pad = [(0, 0)] * x.ndim
    if top > 0:
        pad[h_ax] = (top, top)
    elif left > 0:
        pad[w_ax] = (left, left)
    else:
        return x
    return misc.pad(x, pad, constant_values=fill_value)


@symbolic("image.resize")
def resize(images: Any, size: Any, interpolation: str = "bilinear", antialias: bool = False,
           crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
           fill_mode: str = "constant", fill_value: float = 0.0,
           data_format: str | None = None) -> Tensor:
    """Resizes images to `size` using the specified interpolation method.

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        size: Size of output image in `(height, width)` format.
        interpolation: `"bilinear"` (default), `"nearest"`, `"bicubic"`, `"lanczos3"` or
            `"lanczos5"`.
        antialias: Whether to widen the filter when downsampling (an antialiasing filter).
            Defaults to `False`.
        crop_to_aspect_ratio: If `True`, resize without aspect ratio distortion: the largest
            centred window of the target aspect ratio is cropped first.
        pad_to_aspect_ratio: If `True`, pad the short side evenly with `fill_value` to the
            target aspect ratio first.
        fill_mode: Only `"constant"` (padding with `fill_value`).
        fill_value: Float. Padding value used when `pad_to_aspect_ratio=True`.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        Resized image or batch of images, in the input dtype (integers rounded and clipped
        to their range).

    Example:

    >>> x = np.random.random((2, 4, 4, 3))
    >>> ops.image.resize(x, (2, 2)).shape
    (2, 2, 2, 3)
    """
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size}")
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"`size` must have positive height and width. Received: size={size}")
    images = as_image_tensor(images)
    check_image_rank(images)
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` "
                         "can be `True`.")
    df = standardize_data_format(data_format)
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{RESIZE_INTERPOLATIONS}. Received: interpolation={interpolation}")
    if fill_mode != "constant":
        raise ValueError("Invalid value for argument `fill_mode`. Only `'constant'` "
                         f"is supported. Received: fill_mode={fill_mode}")
    th, tw = int(size[0]), int(size[1])
    h_ax, w_ax = hw_axes(images.ndim, df)
    x = images
    if crop_to_aspect_ratio:
        x = _aspect_crop(x, h_ax, w_ax, th, tw)
    elif pad_to_aspect_ratio:
        x = _aspect_pad(x, h_ax, w_ax, th, tw, fill_value)
    if interpolation == "nearest":
        return _nearest(x, (h_ax, w_ax), (th, tw))
    dtype = x.dtype
    if dtype.kind != "f":
        x = math.cast(x, "float32")
    y = separable_resample(x, (h_ax, w_ax), (th, tw), interpolation, bool(antialias))
    if dtype.kind in "iu":  # Keras: rounded, then cast saturating to the integer range
        info = np.iinfo(dtype)
        y = math.cast(math.clip(elementwise.round(y), info.min, info.max), dtype)
    elif dtype.kind != "f":
        y = math.cast(y, dtype)
    return y
