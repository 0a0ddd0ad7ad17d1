"""``keras.ops.image.elastic_transform`` (smoothed random displacement fields, sampled as
``map_coordinates`` does) and ``ssim`` (Wang et al.'s structural similarity with an 11x11
Gaussian window, as Keras 3 computes it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops import gather, math, shape_ops
from gpunet.ops._utils import xp_of
from gpunet.ops._wrap import symbolic
from gpunet.ops.image._common import as_image_tensor, check_image_rank, standardize_data_format
from gpunet.ops.image.affine import FILL_MODES, INTERPOLATIONS
from gpunet.ops.image.filters import gaussian_blur
from gpunet.ops.nn_keras import depthwise_conv

__all__ = ["elastic_transform", "ssim"]


def _generator(xp_array: Any, seed: Any) -> Any:
    """The device generator of one draw, by Keras's seed rules (None, an int, or a
    ``gpunet.random.SeedGenerator``, which advances)."""
    b = backend_of(xp_array)
    if seed is None:
        return b.generator()
    if hasattr(seed, "next") and hasattr(seed, "get_config"):
        return b.generator(seed.next())
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return b.generator((int(seed),))
    raise ValueError("elastic_transform: `seed` must be an int, a gpunet.random.SeedGenerator "
                     f"or None. Received: seed={seed!r}")


def elastic_warp(x: Tensor, dx: Any, dy: Any, alpha: float, interpolation: str,
                 fill_mode: str, fill_value: float) -> Tensor:
    """Samples channels-last ``x`` ``(B, H, W, C)`` at ``(row + alpha * dy, col + alpha * dx)``
    (``dx``, ``dy``: smoothed ``(B, H, W)`` displacement fields)."""
    from gpunet.ops.image.sampling import sample

    xp = xp_of(x)
    b, h, w, c = x.shape
    dt = x.dtype if x.dtype.kind == "f" else np.dtype("float32")
    rows = xp.arange(h, dtype=dt)[None, :, None] + dt.type(alpha) * dy.astype(dt)
    cols = xp.arange(w, dtype=dt)[None, None, :] + dt.type(alpha) * dx.astype(dt)
    return sample(x, [xp.arange(b).reshape(b, 1, 1, 1), rows[..., None], cols[..., None],
                      xp.arange(c).reshape(1, 1, 1, c)], INTERPOLATIONS[interpolation],
                  fill_mode, fill_value, exact=(True, False, False, True))


def smooth_field(noise: Any, sigma: float) -> Any:
    """``noise`` ``(B, H, W)`` blurred by a Gaussian of ``sigma`` over an
    ``int(6 sigma) | 1`` window (Keras's displacement smoothing)."""
    k = int(6 * sigma) | 1
    return gaussian_blur(noise[..., None], (k, k), (sigma, sigma),
                         data_format="channels_last").data[..., 0]


@symbolic("image.elastic_transform")
def elastic_transform(images: Any, alpha: float = 20.0, sigma: float = 5.0,
                      interpolation: str = "bilinear", fill_mode: str = "reflect",
                      fill_value: float = 0.0, seed: Any = None,
                      data_format: str | None = None) -> Tensor:
    """Applies elastic deformation to the image(s).

    Each pixel is displaced by `alpha` times a random field: independent standard normal
    noise per pixel (times `sigma`) for the horizontal and the vertical displacement, each
    smoothed by a Gaussian of standard deviation `sigma` over an `int(6 * sigma) | 1` window.

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        alpha: Scaling factor that controls the intensity of the deformation.
        sigma: Standard deviation of the Gaussian filter smoothing the displacement fields.
        interpolation: `"nearest"` or `"bilinear"` (default).
        fill_mode: How points outside the image are filled: `"constant"`, `"nearest"`,
            `"wrap"`, `"mirror"` or `"reflect"` (default).
        fill_value: Value used outside the image when `fill_mode="constant"`. Defaults to 0.
        seed: An int, a `gpunet.random.SeedGenerator` or None (gpunet's random stream).
            gpunet draws its own numbers: a seed does not reproduce Keras's fields.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        Transformed image or batch of images with elastic deformation (differentiable in
        `images`).

    Example:

    >>> x = np.random.random((2, 64, 80, 3))
    >>> ops.image.elastic_transform(x, seed=1).shape
    (2, 64, 80, 3)
    """
    df = standardize_data_format(data_format)
    if interpolation not in INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{set(INTERPOLATIONS)}. Received: interpolation={interpolation}")
    if fill_mode not in FILL_MODES:
        raise ValueError("Invalid value for argument `fill_mode`. Expected of one "
                         f"{FILL_MODES}. Received: fill_mode={fill_mode}")
    x = as_image_tensor(images)
    check_image_rank(x)
    if float(sigma) <= 0:
        raise ValueError(f"elastic_transform: `sigma` must be positive. Received: sigma={sigma}")
    unbatched = x.ndim == 3
    if unbatched:
        x = shape_ops.expand_dims(x, 0)
    if df == "channels_first":
        x = gather.moveaxis(x, 1, -1)
    b, h, w, _ = x.shape
    g = _generator(x.data, seed)
    dt = x.dtype if x.dtype.kind == "f" else np.dtype("float32")
    dx = smooth_field((g.normal((b, h, w)) * float(sigma)).astype(dt), float(sigma))
    dy = smooth_field((g.normal((b, h, w)) * float(sigma)).astype(dt), float(sigma))
    y = elastic_warp(x, dx, dy, float(alpha), interpolation, fill_mode, fill_value)
    if df == "channels_first":
        y = gather.moveaxis(y, -1, 1)
    return shape_ops.squeeze(y, 0) if unbatched else y


@symbolic("image.ssim")
def ssim(image1: Any, image2: Any, max_val: float = 1.0, filter_size: int = 11,
         filter_sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
         data_format: str | None = None) -> Tensor:
    """Computes the Structural Similarity Index (SSIM) between two images.

    Luminance, contrast and structure compared over Gaussian windows ("valid" positions
    only), averaged over the image and the channels (Wang, Bovik, Sheikh & Simoncelli,
    2004); 1 for identical images.

    Args:
        image1: First image or batch of images. Must be 3D or 4D.
        image2: Second image or batch of images, the shape of `image1`.
        max_val: The maximum possible pixel value (`1.0` default; `255.0` for 8-bit values).
        filter_size: Size of the Gaussian filter. Defaults to `11`.
        filter_sigma: Standard deviation of the Gaussian filter. Defaults to `1.5`.
        k1: First stabilization constant. Defaults to `0.01`.
        k2: Second stabilization constant. Defaults to `0.03`.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        One SSIM value per image pair (a scalar for single images), in `image1`'s dtype;
        differentiable in both images.

    Example:

    >>> image = np.random.random((32, 32, 3)).astype("float32")
    >>> float(ops.image.ssim(image, image)) > 0.99
    True
    """
    df = standardize_data_format(data_format)
    a, b = as_image_tensor(image1), as_image_tensor(image2)
    dtype = a.dtype
    cdt = dtype if dtype.kind == "f" else np.dtype("float32")
    for name, t in (("image1", a), ("image2", b)):
        if t.ndim not in (3, 4):
            raise ValueError(f"Invalid {name} rank: expected rank 3 (single image) or rank 4 "
                             f"(batch of images). Received input with shape: "
                             f"{name}.shape={tuple(t.shape)}")
    if a.shape != b.shape:
        raise ValueError(f"ssim: `image2` must have the shape of `image1`. Received: "
                         f"image1.shape={tuple(a.shape)}, image2.shape={tuple(b.shape)}")
    a, b = math.cast(a, cdt), math.cast(b, cdt)
    unbatched = a.ndim == 3
    if unbatched:
        a, b = shape_ops.expand_dims(a, 0), shape_ops.expand_dims(b, 0)
    if df == "channels_first":
        a, b = gather.moveaxis(a, 1, -1), gather.moveaxis(b, 1, -1)
    c = a.shape[-1]
    xp = xp_of(a)
    g = xp.arange(filter_size, dtype=cdt) - cdt.type((filter_size - 1) / 2.0)
    g = xp.exp(-(g ** 2) / cdt.type(2.0 * filter_sigma ** 2))
    g = g / g.sum()
    kernel = Tensor(xp.ascontiguousarray(xp.broadcast_to(
        xp.outer(g, g)[:, :, None, None], (filter_size, filter_size, c, 1))))

    def blur(t):
        return depthwise_conv(t, kernel, 1, "valid", "channels_last")

    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mu1, mu2 = blur(a), blur(b)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1, s2, s12 = blur(a * a) - mu1_sq, blur(b * b) - mu2_sq, blur(a * b) - mu12
    ssim_map = ((mu12 * 2.0 + c1) * (s12 * 2.0 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    value = math.mean(ssim_map, axis=(1, 2, 3))
    if unbatched:
        value = shape_ops.squeeze(value, 0)
    return math.cast(value, dtype)
