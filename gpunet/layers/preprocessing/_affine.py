"""Affine warps and pixel-value augmentations (host-side NumPy, SciPy not needed).

Two geometric conventions live side by side:

- `transform_matrices` / `warp_affine` / `sample_images` serve the Keras 3 augmentation layers
  (`RandomRotation`, `RandomTranslation`, `RandomZoom`): matrices on `(x=col, y=row, 1)` mapping
  an *output* pixel to the *input* location it reads, composed `rotation @ shift @ shear @
  zoom` about the true image centre `((w - 1) / 2, (h - 1) / 2)`; `"wrap"` is periodic with
  period n (`abcd|abcd`), and `"constant"` has a 1e-6 pixel tolerance for round-off.
- The legacy Keras API (`apply_affine_transform`, the `random_*` helpers and
  `ImageDataGenerator`) gives Keras 3.15's numbers through `_scipy_warp`: Keras's matrix, its
  centre on non-square images and SciPy's fill modes (see that module).

Everything works on whole batches at once: no Python loop over pixels or channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gpunet.layers.preprocessing._scipy_warp import (
    check_spline_order,
    keras_affine_matrix,
    warp_like_scipy,
)

FILL_MODES = ("constant", "nearest", "reflect", "wrap")
_EDGE_TOLERANCE = 1e-6


def _check_fill_mode(fill_mode: str) -> None:
    if fill_mode not in FILL_MODES:
        raise ValueError(
            f"`fill_mode` must be one of {FILL_MODES}; received fill_mode={fill_mode!r}."
        )


def _check_order(order: int) -> None:
    if order not in (0, 1):
        raise ValueError(
            "`interpolation_order` (spline order) must be 0 (nearest neighbour) or 1 "
            f"(bilinear); received {order!r}."
        )


def _stack3(a00, a01, a02, a10, a11, a12) -> np.ndarray:
    """Builds `(n, 3, 3)` homogeneous matrices from six length-n rows."""
    n = a00.shape[0]
    out = np.zeros((n, 3, 3), dtype=np.float64)
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = a00, a01, a02
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = a10, a11, a12
    out[:, 2, 2] = 1.0
    return out


def transform_matrices(
    theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0, *, height: int, width: int
) -> np.ndarray:
    """Builds output-to-input affine matrices, one per image, about the image centre.

    Args:
        theta: rotation angle(s) in degrees (scalar or one per image).
        tx: horizontal shift(s) in pixels (columns).
        ty: vertical shift(s) in pixels (rows).
        shear: shear angle(s) in degrees.
        zx: zoom factor(s) along columns (`< 1` magnifies).
        zy: zoom factor(s) along rows.
        height: image height `h`.
        width: image width `w`.

    Returns:
        A float64 array of shape `(n, 3, 3)` acting on `(x=col, y=row, 1)`.

    Example:

    >>> m = transform_matrices(theta=90, height=3, width=3)
    >>> np.round(m[0] @ [0, 0, 1]).tolist()  # output (col 0, row 0) reads input col 2, row 0
    [2.0, 0.0, 1.0]
    """
    params = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64))
                                   for v in (theta, tx, ty, shear, zx, zy)))
    theta, tx, ty, shear, zx, zy = (p.ravel() for p in params)
    zeros, ones = np.zeros_like(theta), np.ones_like(theta)
    t, s = np.deg2rad(theta), np.deg2rad(shear)
    rotation = _stack3(np.cos(t), -np.sin(t), zeros, np.sin(t), np.cos(t), zeros)
    shift = _stack3(ones, zeros, tx, zeros, ones, ty)
    shearing = _stack3(ones, -np.sin(s), zeros, zeros, np.cos(s), zeros)
    zoom = _stack3(zx, zeros, zeros, zeros, zy, zeros)
    m = rotation @ shift @ shearing @ zoom
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    to_centre = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    from_centre = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    return to_centre @ m @ from_centre


def _fold(index: np.ndarray, n: int, fill_mode: str) -> np.ndarray:
    """Maps integer sample positions (possibly outside `[0, n)`) to valid indices."""
    if fill_mode == "wrap":
        return np.mod(index, n)
    if fill_mode == "reflect":
        index = np.mod(index, 2 * n)
        return np.where(index >= n, 2 * n - 1 - index, index)
    return np.clip(index, 0, n - 1)  # nearest; constant is masked afterwards


def sample_images(
    images: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    order: int = 1,
) -> np.ndarray:
    """Samples every image of a batch at fractional positions, all images in one gather.

    Args:
        images: `(n, h, w, c)` array (channels last).
        rows: `(n, p)` row coordinates to read, one row of `p` positions per image.
        cols: `(n, p)` column coordinates.
        fill_mode: one of `"constant"`, `"nearest"`, `"reflect"`, `"wrap"`.
        cval: value outside the image for `fill_mode="constant"`.
        order: 0 for nearest neighbour, 1 for bilinear.

    Returns:
        `(n, p, c)` samples, floating point (the input's float dtype, float32 for integers).
    """
    _check_fill_mode(fill_mode)
    _check_order(order)
    n, h, w, c = images.shape
    dtype = images.dtype if np.issubdtype(images.dtype, np.floating) else np.dtype(np.float32)
    flat = images.reshape(n * h * w, c)
    base = (np.arange(n, dtype=np.intp) * (h * w))[:, None]
    if order == 0:
        r = _fold(np.floor(rows + 0.5).astype(np.intp), h, fill_mode)
        q = _fold(np.floor(cols + 0.5).astype(np.intp), w, fill_mode)
        out = np.take(flat, base + r * w + q, axis=0).astype(dtype, copy=False)
    else:
        r0f, c0f = np.floor(rows), np.floor(cols)
        wr = (rows - r0f).astype(dtype)[..., None]
        wc = (cols - c0f).astype(dtype)[..., None]
        r0, c0 = r0f.astype(np.intp), c0f.astype(np.intp)
        r_lo, r_hi = _fold(r0, h, fill_mode) * w + base, _fold(r0 + 1, h, fill_mode) * w + base
        c_lo, c_hi = _fold(c0, w, fill_mode), _fold(c0 + 1, w, fill_mode)

        def corner(r_idx, c_idx):
            return np.take(flat, r_idx + c_idx, axis=0).astype(dtype, copy=False)

        top = corner(r_lo, c_lo)
        top += (corner(r_lo, c_hi) - top) * wc
        bottom = corner(r_hi, c_lo)
        bottom += (corner(r_hi, c_hi) - bottom) * wc
        out = top + (bottom - top) * wr
    if fill_mode == "constant":
        tol = _EDGE_TOLERANCE
        outside = ((rows < -tol) | (rows > h - 1 + tol) | (cols < -tol) | (cols > w - 1 + tol))
        out[outside] = cval
    return out


def _integer_translations(m: np.ndarray) -> bool:
    """True when every matrix only shifts by whole pixels (the common ``shift_range=int``)."""
    return bool(np.all(m[:, :2, :2] == np.eye(2)) and np.all(m[:, :2, 2] == np.rint(m[:, :2, 2])))


def warp_affine(
    images: np.ndarray,
    matrices: np.ndarray,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    order: int = 1,
) -> np.ndarray:
    """Warps a batch of channels-last images, each by its own output-to-input affine matrix.

    Args:
        images: `(n, h, w, c)` array.
        matrices: `(n, 3, 3)` (or one `(3, 3)` for all) matrices acting on `(col, row, 1)`.
        fill_mode: one of `"constant"`, `"nearest"`, `"reflect"`, `"wrap"`.
        cval: fill value for `"constant"`.
        order: 0 (nearest) or 1 (bilinear).

    Returns:
        The warped batch, same shape; integer inputs are rounded back to their dtype.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"`images` must have rank 4 (n, h, w, c); received shape {images.shape}.")
    n, h, w, c = images.shape
    m = np.broadcast_to(np.asarray(matrices, dtype=np.float64), (n, 3, 3))
    if order == 1 and _integer_translations(m):
        order = 0  # every sample lands on a pixel: bilinear weights are 0, one gather suffices
    grid_r, grid_c = np.indices((h, w), dtype=np.float64).reshape(2, 1, h * w)
    cols = m[:, 0, 0, None] * grid_c + m[:, 0, 1, None] * grid_r + m[:, 0, 2, None]
    rows = m[:, 1, 0, None] * grid_c + m[:, 1, 1, None] * grid_r + m[:, 1, 2, None]
    out = sample_images(images, rows, cols, fill_mode, cval, order).reshape(n, h, w, c)
    if not np.issubdtype(images.dtype, np.floating):
        out = np.rint(out).astype(images.dtype)
    return out


def apply_affine_transform(
    x: np.ndarray,
    theta: float = 0,
    tx: float = 0,
    ty: float = 0,
    shear: float = 0,
    zx: float = 1,
    zy: float = 1,
    row_axis: int = 1,
    col_axis: int = 2,
    channel_axis: int = 0,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    order: int = 1,
) -> np.ndarray:
    """Applies one affine transformation to a single rank-3 image, as Keras 3.15 does.

    The numbers are those of Keras's `apply_affine_transform` (SciPy's `affine_transform`
    channel by channel), computed in NumPy: see `gpunet.layers.preprocessing._scipy_warp` for the
    centre Keras uses on non-square images and for the fill modes.

    Args:
        x: rank-3 image.
        theta: rotation angle in degrees.
        tx: shift along the columns in pixels (content moves by `-tx` columns).
        ty: shift along the rows in pixels (content moves by `-ty` rows).
        shear: shear angle in degrees.
        zx: zoom along columns; zy: zoom along rows (`< 1` magnifies).
        row_axis, col_axis, channel_axis: axes of `x` (Keras's defaults are channels first);
            the channel axis must be 0 or 2.
        fill_mode: one of `"constant"`, `"nearest"`, `"reflect"`, `"wrap"` (SciPy's).
        cval: fill value for `"constant"`.
        order: spline order: 0 (nearest), 1 (bilinear) or 2 to 5 (needs SciPy).

    Returns:
        The transformed image, same shape as `x` (`x` itself when nothing moves).

    Example:

    >>> img = np.arange(9.0).reshape(1, 3, 3)
    >>> bool(np.allclose(apply_affine_transform(img, theta=90)[0], np.rot90(img[0])))
    True
    """
    x = np.asarray(x)
    if sorted((row_axis, col_axis, channel_axis)) != [0, 1, 2]:
        raise ValueError(
            "`row_axis`, `col_axis` and `channel_axis` must be 0, 1 and 2 in some order; "
            f"received {(row_axis, col_axis, channel_axis)}."
        )
    if x.ndim != 3:
        raise ValueError(f"`x` must be a rank-3 image; received shape {x.shape}.")
    if channel_axis not in (0, 2):
        raise ValueError(f"`channel_axis` must be 0 or 2 (first or last); received {channel_axis}.")
    _check_fill_mode(fill_mode)
    check_spline_order(order)
    m = keras_affine_matrix(theta, tx, ty, shear, zx, zy, height=x.shape[row_axis],
                            width=x.shape[col_axis])
    if m is None:
        return x
    img = np.transpose(x, (row_axis, col_axis, channel_axis))[None]
    out = warp_like_scipy(img, m[None], fill_mode, cval, order)[0]
    return np.transpose(out, np.argsort((row_axis, col_axis, channel_axis)))


def flip_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """Reverses `x` along `axis` (Keras's `flip_axis`)."""
    return np.flip(np.asarray(x), axis)


def channel_shift_batch(images: np.ndarray, intensities: np.ndarray) -> np.ndarray:
    """Adds one intensity per image, clipped to that image's own value range.

    Args:
        images: `(n, ...)` batch.
        intensities: `(n,)` shifts.

    Returns:
        `clip(x + intensity, min(x), max(x))` per image (min and max over all its channels).
    """
    axes = tuple(range(1, images.ndim))
    lo, hi = images.min(axis=axes, keepdims=True), images.max(axis=axes, keepdims=True)
    shift = np.asarray(intensities).reshape((-1,) + (1,) * (images.ndim - 1))
    return np.clip(images + shift.astype(images.dtype, copy=False), lo, hi)


def apply_channel_shift(x: np.ndarray, intensity: float, channel_axis: int = 0) -> np.ndarray:
    """Shifts every channel of one image by `intensity`, clipped to the image's range.

    Args:
        x: rank-3 image.
        intensity: value added to every pixel of every channel.
        channel_axis: kept for Keras compatibility (the shift is the same for all channels).

    Returns:
        The shifted image.
    """
    del channel_axis
    x = np.asarray(x)
    return channel_shift_batch(x[None], np.array([intensity]))[0]


def brightness_batch(images: np.ndarray, factors: np.ndarray, scale: bool = False) -> np.ndarray:
    """Keras's brightness shift for each image of a batch, in floating point.

    Keras 3.15 goes through an 8-bit PIL image (`array_to_img`, `ImageEnhance.Brightness`,
    `img_to_array`); this computes the same thing without the rounding to 8 bits:

    - `scale=True`: the image is stretched to `[0, 255]` (minimum to 0, maximum to 255), then
      multiplied and clipped to `[0, 255]`; the result stays in `[0, 255]`.
    - `scale=False`, values inside `[0, 255]`: `clip(x * factor, 0, 255)`.
    - `scale=False`, values outside `[0, 255]`: `lo + clip((x - lo) * factor, 0, hi - lo)` with
      `lo, hi` the image's minimum and maximum (Keras stretches, shifts, then un-stretches).

    Args:
        images: `(n, ...)` float batch.
        factors: `(n,)` brightness factors (1.0 keeps the image).
        scale: stretch every image to `[0, 255]` first.

    Returns:
        The brightened batch.
    """
    axes = tuple(range(1, images.ndim))
    shape = (-1,) + (1,) * (images.ndim - 1)
    f = np.asarray(factors, dtype=np.float64).reshape(shape).astype(images.dtype, copy=False)
    lo, hi = images.min(axis=axes, keepdims=True), images.max(axis=axes, keepdims=True)
    if scale:
        span = hi - lo
        stretched = (images - lo) / np.where(span == 0, 1, span) * 255
        return np.clip(stretched * f, 0, 255)
    in_8bit = (lo >= 0) & (hi <= 255)
    inside = np.clip(images * f, 0, 255)
    outside = lo + np.clip((images - lo) * f, 0, hi - lo)
    return np.where(in_8bit, inside, outside)


def apply_brightness_shift(x: np.ndarray, brightness: float, scale: bool = True) -> np.ndarray:
    """Brightness shift of one image by the factor `brightness` (1.0 keeps it).

    Keras 3.15's numbers without its rounding to 8 bits (see `brightness_batch`). One knowing
    difference: with `scale=False`, Keras truncates a float image in `[0, 1]` to the integers
    0 and 1 (so it comes back black), where gpunet returns `clip(x * brightness, 0, 255)`.

    Args:
        x: image (any rank; Keras wants rank 3 with 1, 3 or 4 channels).
        brightness: multiplicative factor.
        scale: stretch the image to `[0, 255]` first (Keras's default).

    Returns:
        The brightened image, float.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return brightness_batch(x[None], np.array([brightness]), scale)[0]


def _check_pair(name: str, value: Sequence[float]) -> None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"`{name}` must be a tuple or list of two floats; received {value!r}.")


def random_rotation(x: np.ndarray, rg: float, row_axis: int = 1, col_axis: int = 2,
                    channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
                    interpolation_order: int = 1) -> np.ndarray:
    """Rotates one image by an angle drawn from `U(-rg, rg)` degrees (global NumPy RNG)."""
    theta = np.random.uniform(-rg, rg)
    return apply_affine_transform(x, theta=theta, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_shift(x: np.ndarray, wrg: float, hrg: float, row_axis: int = 1, col_axis: int = 2,
                 channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
                 interpolation_order: int = 1) -> np.ndarray:
    """Shifts one image by fractions `U(-hrg, hrg)` of its height and `U(-wrg, wrg)` of its width.

    The vertical fraction is drawn first, as in Keras.
    """
    h, w = x.shape[row_axis], x.shape[col_axis]
    ty = np.random.uniform(-hrg, hrg) * h
    tx = np.random.uniform(-wrg, wrg) * w
    return apply_affine_transform(x, tx=tx, ty=ty, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_shear(x: np.ndarray, intensity: float, row_axis: int = 1, col_axis: int = 2,
                 channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
                 interpolation_order: int = 1) -> np.ndarray:
    """Shears one image by an angle drawn from `U(-intensity, intensity)` degrees."""
    shear = np.random.uniform(-intensity, intensity)
    return apply_affine_transform(x, shear=shear, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_zoom(x: np.ndarray, zoom_range: Sequence[float], row_axis: int = 1,
                col_axis: int = 2, channel_axis: int = 0, fill_mode: str = "nearest",
                cval: float = 0.0, interpolation_order: int = 1) -> np.ndarray:
    """Zooms one image by `zx, zy ~ U(zoom_range[0], zoom_range[1])` (two draws)."""
    _check_pair("zoom_range", zoom_range)
    if zoom_range[0] == 1 and zoom_range[1] == 1:
        zx, zy = 1.0, 1.0
    else:
        zx, zy = np.random.uniform(zoom_range[0], zoom_range[1], 2)
    return apply_affine_transform(x, zx=zx, zy=zy, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_channel_shift(x: np.ndarray, intensity_range: float,
                         channel_axis: int = 0) -> np.ndarray:
    """Channel shift by an intensity drawn from `U(-intensity_range, intensity_range)`."""
    intensity = np.random.uniform(-intensity_range, intensity_range)
    return apply_channel_shift(x, intensity, channel_axis)


def random_brightness(x: np.ndarray, brightness_range: Sequence[float],
                      scale: bool = True) -> np.ndarray:
    """Brightness shift by a factor drawn from `U(*brightness_range)` (see
    `apply_brightness_shift`)."""
    _check_pair("brightness_range", brightness_range)
    factor = np.random.uniform(brightness_range[0], brightness_range[1])
    return apply_brightness_shift(x, factor, scale)
