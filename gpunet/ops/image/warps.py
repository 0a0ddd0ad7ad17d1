"""``keras.ops.image.perspective_transform`` (the homography taking four end points to four
start points, sampled as ``map_coordinates`` does) and ``scale_and_translate``
(``jax.image.scale_and_translate``: separable resampling with a scale and a shift per axis)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.ops import gather, math, shape_ops
from gpunet.ops._utils import xp_of
from gpunet.ops._wrap import raw, symbolic
from gpunet.ops.image._common import as_image_tensor, check_image_rank, standardize_data_format
from gpunet.ops.image.affine import INTERPOLATIONS
from gpunet.ops.image.resize import KERNELS, separable_resample
from gpunet.ops.image.sampling import sample

__all__ = ["perspective_transform", "scale_and_translate"]


def homography(xp: Any, start: Any, end: Any) -> Any:
    """The ``(N, 8)`` coefficients mapping each ``end`` point to its ``start`` point
    (float64, one 8x8 solve per row)."""
    sx, sy, ex, ey = start[..., 0], start[..., 1], end[..., 0], end[..., 1]
    zeros, ones = xp.zeros_like(ex), xp.ones_like(ex)
    x_rows = xp.stack([ex, ey, ones, zeros, zeros, zeros, -sx * ex, -sx * ey], axis=-1)
    y_rows = xp.stack([zeros, zeros, zeros, ex, ey, ones, -sy * ex, -sy * ey], axis=-1)
    a = xp.concatenate([x_rows, y_rows], axis=1)
    b = xp.concatenate([sx, sy], axis=-1)[..., None]
    return xp.linalg.solve(a, b)[..., 0]


def _points(xp: Any, points: Any, name: str) -> Any:
    p = xp.asarray(raw(points), dtype="float64")
    if p.shape[-2:] != (4, 2) or p.ndim not in (2, 3):
        raise ValueError(f"Invalid {name} shape: expected (4,2) for a single image or (N,4,2) "
                         f"for a batch. Received shape: {tuple(p.shape)}")
    return p


@symbolic("image.perspective_transform")
def perspective_transform(images: Any, start_points: Any, end_points: Any,
                          interpolation: str = "bilinear", fill_value: float = 0,
                          data_format: str | None = None) -> Tensor:
    """Applies a perspective transformation to the image(s).

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        start_points: `(4, 2)` or `(N, 4, 2)`: the four source points `(x, y)` in the
            original image.
        end_points: The four points they are mapped to, same shape as `start_points`.
        interpolation: `"nearest"` or `"bilinear"` (default).
        fill_value: Value for the points that map outside the image. Defaults to 0.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        Applied perspective transform image or batch of images (differentiable in
        `images`; no gradient flows into the points).

    Example:

    >>> x = np.random.random((2, 64, 80, 3))
    >>> start = np.array([[[0, 0], [0, 64], [80, 0], [80, 64]]] * 2)
    >>> end = np.array([[[0, 0], [5, 60], [75, 2], [80, 64]]] * 2)
    >>> ops.image.perspective_transform(x, start, end).shape
    (2, 64, 80, 3)
    """
    df = standardize_data_format(data_format)
    if interpolation not in INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{set(INTERPOLATIONS)}. Received: interpolation={interpolation}")
    x = as_image_tensor(images)
    check_image_rank(x)
    xp = xp_of(x)
    start, end = _points(xp, start_points, "start_points"), _points(xp, end_points, "end_points")
    if start.shape != end.shape:
        raise ValueError("start_points and end_points must have the same shape. Received "
                         f"start_points.shape={tuple(start.shape)}, "
                         f"end_points.shape={tuple(end.shape)}")
    unbatched = x.ndim == 3
    if unbatched:
        x = shape_ops.expand_dims(x, 0)
    if df == "channels_first":
        x = gather.moveaxis(x, 1, -1)
    b, h, w, c = x.shape
    t = homography(xp, start.reshape(-1, 4, 2), end.reshape(-1, 4, 2))
    if t.shape[0] not in (1, b):
        raise ValueError(f"perspective_transform: one set of points, or one per image ({b}), "
                         f"is expected. Received: start_points.shape={tuple(start.shape)}")
    col = xp.arange(w, dtype="float64")[None, None, :, None]
    row = xp.arange(h, dtype="float64")[None, :, None, None]

    def p(i):
        return t[:, i].reshape(-1, 1, 1, 1)

    denom = p(6) * col + p(7) * row + 1.0
    dt = x.dtype if x.dtype.kind == "f" else "float32"
    cols = ((p(0) * col + p(1) * row + p(2)) / denom).astype(dt)
    rows = ((p(3) * col + p(4) * row + p(5)) / denom).astype(dt)
    y = sample(x, [xp.arange(b).reshape(b, 1, 1, 1), rows, cols,
                   xp.arange(c).reshape(1, 1, 1, c)], INTERPOLATIONS[interpolation],
               "constant", fill_value, exact=(True, False, False, True))
    if df == "channels_first":
        y = gather.moveaxis(y, -1, 1)
    return shape_ops.squeeze(y, 0) if unbatched else y


@symbolic("image.scale_and_translate")
def scale_and_translate(images: Any, output_shape: Any, scale: Any, translation: Any,
                        spatial_dims: Any, method: str, antialias: bool = True) -> Tensor:
    """Applies a scale and translation to the images.

    A location `(x, y)` of the input maps to `(x * scale[1] + translation[1],
    y * scale[0] + translation[0])` in the output (the inverse warp generates the sample
    locations; pixel centres at half-integers). Output locations sampling outside the
    input are zero.

    Args:
        images: The input array.
        output_shape: The output shape, a sequence of integers with length equal to the
            number of dimensions of `images`; the entries outside `spatial_dims` must equal
            the input's sizes or be `None` (a batch size unknown in a functional model).
        scale: A `[K]` array: the scale of each spatial dimension.
        translation: A `[K]` array: the translation of each spatial dimension.
        spatial_dims: A length `K` tuple: the dimensions `scale` and `translation` apply to.
        method: `"linear"`, `"bilinear"`, `"trilinear"`, `"cubic"`, `"bicubic"`,
            `"tricubic"`, `"lanczos3"` or `"lanczos5"`.
        antialias: Whether to widen the filter when downsampling. Defaults to `True`.

    Returns:
        The scaled and translated images (a float dtype; float32 for integer input).
        Differentiable in `images`; no gradient flows into `scale` or `translation`.

    Example:

    >>> images = np.arange(9, dtype="float32").reshape((3, 3))
    >>> scale = np.array([2.0, 2.0], "float32")
    >>> ops.image.scale_and_translate(images, (5, 5), scale, -(scale / 2.0 - 0.5), (0, 1),
    ...                               "linear")[0]      # [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    if method not in KERNELS:
        raise ValueError("Invalid value for argument `method`. Expected of one "
                         f"{set(KERNELS)}. Received: method={method}")
    x = as_image_tensor(images)
    xp = xp_of(x)
    if x.dtype.kind != "f":
        x = math.cast(x, "float32")
    dims = tuple(int(d) % x.ndim for d in spatial_dims)
    out_shape = tuple(None if n is None else int(n) for n in output_shape)
    if len(out_shape) != x.ndim:
        raise ValueError(f"scale_and_translate: `output_shape` must have one entry per "
                         f"dimension of `images` ({x.ndim}). Received: "
                         f"output_shape={output_shape}")
    kept = [i for i in range(x.ndim)
            if i not in dims and out_shape[i] not in (None, x.shape[i])]
    if kept:
        raise ValueError(f"scale_and_translate: `output_shape` may differ from the shape of "
                         f"`images` only in `spatial_dims` {tuple(spatial_dims)}. Received: "
                         f"output_shape={output_shape}, images.shape={tuple(x.shape)}")
    s = xp.asarray(raw(scale), dtype="float64").reshape(-1)
    t = xp.asarray(raw(translation), dtype="float64").reshape(-1)
    if s.shape[0] != len(dims) or t.shape[0] != len(dims):
        raise ValueError(f"scale_and_translate: `scale` and `translation` need one entry per "
                         f"spatial dimension ({len(dims)}). Received: scale={scale}, "
                         f"translation={translation}")
    return separable_resample(x, dims, tuple(out_shape[d] for d in dims), method,
                              bool(antialias), scales=s, translations=t)
