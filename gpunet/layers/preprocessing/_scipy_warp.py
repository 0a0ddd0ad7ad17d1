"""Affine warps that give `scipy.ndimage.affine_transform`'s numbers, in NumPy (no SciPy needed).

Keras's legacy `ImageDataGenerator` and `apply_affine_transform` warp every channel with
`scipy.ndimage.affine_transform`; this module reproduces that computation for a whole batch at
once (one vectorised gather per bilinear corner), so seeded augmentations agree with Keras's.

Keras's matrix (`keras_affine_matrix`) acts on `(x=col, y=row, 1)` and maps an output pixel to
the input position it reads. Keras centres it with `transform_matrix_offset_center(m, h, w)`,
i.e. at `x = (h - 1) / 2` and `y = (w - 1) / 2`, *before* swapping the axes for SciPy: on a
non-square image the rotation, shear and zoom centre is therefore `(col=(h-1)/2, row=(w-1)/2)`,
not the image centre. gpunet uses the same matrix, so the numbers agree.

Boundary handling (SciPy's, which Keras 3 inherits), for a row `a b c d` of length `n`: a sample
position `p` outside `[0, n - 1]` is first mapped back in coordinate space, then interpolated:

- `"constant"`: `p < 0` or `p > n - 1` (no tolerance) reads `cval`; nothing is blended.
- `"nearest"`: `p` is clipped to `[0, n - 1]`.
- `"reflect"`: half-sample symmetric, `d c b a | a b c d | d c b a`.
- `"wrap"`: SciPy's `"wrap"`, periodic with period `n - 1` (`b c d | a b c d | a b c`): the
  first and last pixels overlap, unlike the `abcd|abcd` picture in Keras's docstring.

Orders 0 (nearest neighbour, ties rounded up) and 1 (bilinear) are computed here; orders 2 to 5
(spline interpolation) are handed to SciPy, which must then be installed.
"""

from __future__ import annotations

import numpy as np

SCIPY_FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def keras_affine_matrix(theta: float = 0, tx: float = 0, ty: float = 0, shear: float = 0,
                        zx: float = 1, zy: float = 1, *, height: int,
                        width: int) -> np.ndarray | None:
    """Keras 3.15's centred output-to-input matrix for one image, or `None` for the identity.

    Built exactly as Keras builds it (the same products in the same order, so the same
    floating-point values): `rotation @ shift @ shear @ zoom` with only the factors whose
    parameter is not neutral, centred at `(x=(height-1)/2, y=(width-1)/2)`.

    Args:
        theta: rotation in degrees.
        tx: shift along `x` (columns), in pixels.
        ty: shift along `y` (rows), in pixels.
        shear: shear angle in degrees.
        zx: zoom along `x` (columns); zy: zoom along `y` (rows).
        height: number of rows `h`; width: number of columns `w`.

    Returns:
        A float64 `(3, 3)` matrix acting on `(col, row, 1)`, or `None` when every parameter is
        neutral (Keras then returns the image untouched).
    """
    m = None
    if theta != 0:
        t = np.deg2rad(theta)
        m = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    if tx != 0 or ty != 0:
        s = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
        m = s if m is None else np.dot(m, s)
    if shear != 0:
        a = np.deg2rad(shear)
        s = np.array([[1, -np.sin(a), 0], [0, np.cos(a), 0], [0, 0, 1]])
        m = s if m is None else np.dot(m, s)
    if zx != 1 or zy != 1:
        s = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
        m = s if m is None else np.dot(m, s)
    if m is None:
        return None
    o_x, o_y = float(height) / 2 - 0.5, float(width) / 2 - 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return np.asarray(np.dot(np.dot(offset, m), reset), dtype=np.float64)


def map_coordinates(p: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Maps sample positions along an axis of length `n` into it, as SciPy does.

    For `"constant"` the positions are only clipped (the caller masks the outside ones).
    """
    if mode in ("nearest", "constant") or n <= 1:
        return np.clip(p, 0, n - 1)
    p = p.copy()
    if mode == "wrap":
        sz = n - 1
        lo, hi = p < 0, p > n - 1
        p[lo] += sz * (np.floor(-p[lo] / sz) + 1)
        p[hi] -= sz * np.floor(p[hi] / sz)
        return p
    sz2 = 2 * n  # reflect
    lo = p < 0
    q = p[lo]
    far = q < -sz2
    q[far] += sz2 * np.floor(-q[far] / sz2)
    p[lo] = np.where(q < -n, q + sz2, -q - 1)
    hi = p > n - 1
    q = p[hi] - sz2 * np.floor(p[hi] / sz2)
    p[hi] = np.where(q >= n, sz2 - q - 1, q)
    return p


def _fold(index: np.ndarray, n: int, mode: str, upper_only: bool = False) -> np.ndarray:
    """Integer neighbour indices (at most one step outside after mapping) back into `[0, n)`.

    Other modes than `"reflect"` map positions into `[0, n - 1]`, so only the upper bilinear
    neighbour (`upper_only`) can step out, by one, with a zero weight.
    """
    if mode == "reflect":
        index = np.where(index < 0, -index - 1, index)
        return np.where(index >= n, 2 * n - 1 - index, index)
    return np.minimum(index, n - 1) if upper_only else index


def sample_like_scipy(images: np.ndarray, rows: np.ndarray, cols: np.ndarray, mode: str,
                      cval: float, order: int) -> np.ndarray:
    """Samples `(n, h, w, c)` images at `(n, p)` fractional positions; returns `(n, p, c)`."""
    n, h, w, c = images.shape
    dtype = images.dtype if np.issubdtype(images.dtype, np.floating) else np.dtype(np.float32)
    flat = images.reshape(n * h * w, c)
    base = (np.arange(n, dtype=np.intp) * (h * w))[:, None]
    r, q = map_coordinates(rows, h, mode), map_coordinates(cols, w, mode)
    if order == 0:
        ri = _fold(np.floor(r + 0.5).astype(np.intp), h, mode)
        ci = _fold(np.floor(q + 0.5).astype(np.intp), w, mode)
        out = np.take(flat, base + ri * w + ci, axis=0).astype(dtype, copy=False)
    else:
        r0f, c0f = np.floor(r), np.floor(q)
        wr = (r - r0f).astype(dtype)[..., None]  # weights in the image dtype: SciPy's double
        wc = (q - c0f).astype(dtype)[..., None]  # sums agree to float32 round-off
        r0, c0 = r0f.astype(np.intp), c0f.astype(np.intp)
        r_lo = _fold(r0, h, mode) * w + base
        r_hi = _fold(r0 + 1, h, mode, upper_only=True) * w + base
        c_lo, c_hi = _fold(c0, w, mode), _fold(c0 + 1, w, mode, upper_only=True)

        def corner(r_idx, c_idx):
            return np.take(flat, r_idx + c_idx, axis=0).astype(dtype, copy=False)

        top = corner(r_lo, c_lo)
        top += (corner(r_lo, c_hi) - top) * wc
        bottom = corner(r_hi, c_lo)
        bottom += (corner(r_hi, c_hi) - bottom) * wc
        out = top + (bottom - top) * wr
    if mode == "constant":
        out[(rows < 0) | (rows > h - 1) | (cols < 0) | (cols > w - 1)] = cval
    return out


def _scipy_warp(images: np.ndarray, m: np.ndarray, mode: str, cval: float,
                order: int) -> np.ndarray:
    try:
        from scipy import ndimage
    except ImportError as err:
        raise ImportError(
            f"`interpolation_order={order}` (spline interpolation) needs SciPy "
            "(`pip install scipy`); orders 0 and 1 work without it."
        ) from err
    out = np.empty(images.shape, dtype=images.dtype)
    for i, img in enumerate(images):
        swapped = m[i][[1, 0, 2]][:, [1, 0, 2]]  # (col, row) -> SciPy's (row, col)
        for k in range(img.shape[-1]):
            out[i, ..., k] = ndimage.affine_transform(
                img[..., k], swapped[:2, :2], swapped[:2, 2], order=order, mode=mode, cval=cval)
    return out


def warp_like_scipy(images: np.ndarray, matrices: np.ndarray, fill_mode: str = "nearest",
                    cval: float = 0.0, order: int = 1) -> np.ndarray:
    """Warps channels-last images as `scipy.ndimage.affine_transform` does, channel by channel.

    Args:
        images: `(n, h, w, c)` batch.
        matrices: `(n, 3, 3)` output-to-input matrices acting on `(col, row, 1)`.
        fill_mode: `"constant"`, `"nearest"`, `"reflect"` or `"wrap"` (SciPy's meanings).
        cval: value outside the image for `"constant"`.
        order: spline order, 0 to 5 (2 to 5 need SciPy).

    Returns:
        The warped batch, same shape and dtype as a float input (float32 for integers).
    """
    n, h, w, c = images.shape
    m = np.asarray(matrices, dtype=np.float64).reshape(n, 3, 3)
    if order > 1:
        return _scipy_warp(images, m, fill_mode, cval, order)
    if order == 1 and np.all(m[:, :2, :2] == np.eye(2)) and \
            np.all(m[:, :2, 2] == np.rint(m[:, :2, 2])):
        order = 0  # whole-pixel shifts: every bilinear weight is 0, one gather gives the same
    grid_r, grid_c = np.indices((h, w), dtype=np.float64).reshape(2, 1, h * w)
    # SciPy's order of operations (offset, then row term, then column term): the same
    # rounding, so positions that land on a pixel edge fall on the same side as in Keras.
    cols = (m[:, 0, 2, None] + grid_r * m[:, 0, 1, None]) + grid_c * m[:, 0, 0, None]
    rows = (m[:, 1, 2, None] + grid_r * m[:, 1, 1, None]) + grid_c * m[:, 1, 0, None]
    return sample_like_scipy(images, rows, cols, fill_mode, cval, order).reshape(n, h, w, c)


def check_spline_order(order: int) -> None:
    """Raises a ValueError unless `order` is a spline order SciPy accepts (0 to 5)."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= order <= 5:
        raise ValueError(
            "`interpolation_order` (spline order) must be an integer from 0 to 5; received "
            f"{order!r}."
        )
