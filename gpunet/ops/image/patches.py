"""``keras.ops.image.extract_patches`` / ``extract_patches_3d``: every sliding window of an
image (volume) flattened into the channel axis, in Keras's order (window row, column, channel),
as Keras computes it with an identity-kernel convolution. Here it is one gather (a strided
window view of the padded input), differentiable through ``gather_apply``."""

from __future__ import annotations

import math
from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.ops._wrap import symbolic
from gpunet.ops.gather import gather_apply
from gpunet.ops.image._common import as_image_tensor, standardize_data_format

__all__ = ["extract_patches", "extract_patches_3d"]


def _tuple(v: Any, n: int, name: str) -> tuple:
    t = (int(v),) * n if isinstance(v, int) else tuple(int(a) for a in v)
    if len(t) != n:
        raise ValueError(f"Invalid `{name}` argument. Expected an int or a tuple of length "
                         f"{n}. Received: {name}={v}")
    return t


def _windows(xp: Any, a: Any, fill: Any, k: tuple, s: tuple, d: tuple, pads: list,
             outs: tuple) -> Any:
    """``a`` channels-last ``(N, *spatial, C)`` -> ``(N, *outs, prod(k) * C)``."""
    n_sp = len(k)
    a = xp.pad(a, [(0, 0)] + pads + [(0, 0)],
               constant_values=fill if isinstance(fill, int) else 0)
    eff = tuple((ki - 1) * di + 1 for ki, di in zip(k, d))
    view = xp.lib.stride_tricks.sliding_window_view(a, eff, axis=tuple(range(1, n_sp + 1)))
    key = ((slice(None),) + tuple(slice(0, (o - 1) * si + 1, si) for o, si in zip(outs, s))
           + (slice(None),) + tuple(slice(None, None, di) for di in d))
    view = view[key]  # (N, *outs, C, *k)
    perm = (0,) + tuple(range(1, n_sp + 1)) + tuple(range(n_sp + 2, 2 * n_sp + 2)) + (n_sp + 1,)
    return xp.ascontiguousarray(view.transpose(perm)).reshape(view.shape[:n_sp + 1] + (-1,))


def _patches(images: Any, k: tuple, strides: Any, dilation_rate: Any, padding: str,
             data_format: Any, batch_rank: int) -> Tensor:
    n_sp = len(k)
    x = as_image_tensor(images)
    df = standardize_data_format(data_format)
    what = "images" if n_sp == 2 else "volumes"
    if x.ndim not in (batch_rank - 1, batch_rank):
        raise ValueError(f"Invalid {what} rank: expected rank {batch_rank - 1} (unbatched) or "
                         f"rank {batch_rank} (batched). Received: {what}.shape="
                         f"{tuple(x.shape)}")
    s = _tuple(strides, n_sp, "strides")
    d = _tuple(dilation_rate, n_sp, "dilation_rate")
    if str(padding).lower() not in ("valid", "same"):
        raise ValueError("Invalid `padding` argument. Expected 'valid' or 'same'. "
                         f"Received: padding={padding}")
    if min(k + s + d) < 1:
        raise ValueError(f"`size`, `strides` and `dilation_rate` must be positive. Received: "
                         f"size={k}, strides={s}, dilation_rate={d}")
    unbatched = x.ndim == batch_rank - 1
    ch_last = df == "channels_last"
    first = 0 if unbatched else 1
    spatial = x.shape[first:first + n_sp] if ch_last else x.shape[first + 1:first + 1 + n_sp]
    eff = tuple((ki - 1) * di + 1 for ki, di in zip(k, d))
    if str(padding).lower() == "same":
        outs = tuple(-(-n // si) for n, si in zip(spatial, s))
        totals = [max((o - 1) * si + e - n, 0) for o, si, e, n in zip(outs, s, eff, spatial)]
        pads = [(t // 2, t - t // 2) for t in totals]
    else:
        outs = tuple(max((n - e) // si + 1, 0) for n, si, e in zip(spatial, s, eff))
        pads = [(0, 0)] * n_sp

    def f(xp, a, fill):
        if unbatched:
            a = a[None]
        if not ch_last:
            a = xp.moveaxis(a, 1, -1)
        if min(outs) == 0:  # the window does not fit: no patches
            y = xp.zeros((a.shape[0],) + outs + (math.prod(k) * a.shape[-1],), a.dtype)
        else:
            y = _windows(xp, a, fill, k, s, d, pads, outs)
        if not ch_last:
            y = xp.moveaxis(y, -1, 1)
        return y[0] if unbatched else y

    return gather_apply(x, f)


@symbolic("image.extract_patches")
def extract_patches(images: Any, size: Any, strides: Any = None, dilation_rate: Any = 1,
                    padding: str = "valid", data_format: str | None = None) -> Tensor:
    """Extracts patches from the image(s) (a 3-tuple `size` extracts 3D patches of volumes).

    Args:
        images: Input image or batch of images (3D or 4D); for 3D patches, a volume or batch
            of volumes (4D or 5D).
        size: Patch size: an int or `(patch_height, patch_width)`, or
            `(patch_depth, patch_height, patch_width)` for 3D patches.
        strides: Strides for patch extraction. If not specified, defaults to `size`
            (non-overlapping patches).
        dilation_rate: Dilation rate for patch extraction (the step between the sampled
            pixels of one patch).
        padding: `"valid"` or `"same"` (zeros around the image, as a convolution pads).
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        The patches, each flattened in (row, column, channel) order into the channel axis:
        `(batch, out_h, out_w, size_h * size_w * channels)` for channels_last batches.

    Example:

    >>> image = np.random.random((2, 20, 20, 3)).astype("float32")
    >>> ops.image.extract_patches(image, (5, 5)).shape
    (2, 4, 4, 75)
    """
    if not isinstance(size, int):
        if not isinstance(size, (tuple, list)):
            raise TypeError("Invalid `size` argument. Expected an int or a tuple. "
                            f"Received: size={size} of type {type(size).__name__}")
        if len(size) not in (2, 3):
            raise ValueError("Invalid `size` argument. Expected a tuple of length 2 or 3. "
                             f"Received: size={size} with length {len(size)}")
        if len(size) == 3:
            return extract_patches_3d(images, size, strides, dilation_rate, padding,
                                      data_format)
    k = _tuple(size, 2, "size")
    return _patches(images, k, strides or size, dilation_rate, padding, data_format, 4)


@symbolic("image.extract_patches_3d")
def extract_patches_3d(volumes: Any, size: Any, strides: Any = None, dilation_rate: Any = 1,
                       padding: str = "valid", data_format: str | None = None) -> Tensor:
    """Extracts 3D patches from the volume(s).

    Args:
        volumes: Input volume or batch of volumes. Must be 4D or 5D.
        size: Patch size: an int or `(patch_depth, patch_height, patch_width)`.
        strides: Strides along depth, height and width. If not specified, or `None`,
            defaults to `size`.
        dilation_rate: The step between the sampled voxels of one patch.
        padding: `"valid"` or `"same"`.
        data_format: `"channels_last"` (`(batch, depth, height, width, channels)`) or
            `"channels_first"` (`(batch, channels, depth, height, width)`); default
            `gpunet.config.image_data_format()`.

    Returns:
        Extracted patches, 4D (unbatched) or 5D (batched).

    Example:

    >>> volumes = np.random.random((2, 10, 10, 10, 3)).astype("float32")
    >>> ops.image.extract_patches_3d(volumes, (3, 3, 3)).shape
    (2, 3, 3, 3, 81)
    """
    if not isinstance(size, int) and len(size) != 3:
        raise TypeError("Invalid `size` argument. Expected an int or a tuple of length 3. "
                        f"Received: size={size}")
    k = _tuple(size, 3, "size")
    if strides is None:
        strides = size
    if not isinstance(strides, int) and len(strides) != 3:
        raise ValueError(f"Invalid `strides` argument. Got: {strides}")
    return _patches(volumes, k, strides, dilation_rate, padding, data_format, 5)
