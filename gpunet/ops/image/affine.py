"""``keras.ops.image.affine_transform``: each output pixel ``(x, y)`` sampled at the input
point ``(a0 x + a1 y + a2, b0 x + b1 y + b2)`` of its image's transform, nearest or bilinear,
with the fill modes of ``map_coordinates`` (Keras 3's JAX definition)."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.ops import gather, shape_ops
from gpunet.ops._utils import xp_of
from gpunet.ops._wrap import raw, symbolic
from gpunet.ops.image._common import as_image_tensor, standardize_data_format
from gpunet.ops.image.sampling import sample

__all__ = ["affine_transform"]

INTERPOLATIONS = {"nearest": 0, "bilinear": 1}
FILL_MODES = {"constant", "nearest", "wrap", "mirror", "reflect"}


@symbolic("image.affine_transform")
def affine_transform(images: Any, transform: Any, interpolation: str = "bilinear",
                     fill_mode: str = "constant", fill_value: float = 0,
                     data_format: str | None = None) -> Tensor:
    """Applies the given transform(s) to the image(s).

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        transform: Projective transform matrix/matrices: a vector of length 8 or a tensor of
            size N x 8 (one row per image, or one row for all). A row
            `[a0, a1, a2, b0, b1, b2, c0, c1]` maps the output point `(x, y)` to the input
            point `(a0 x + a1 y + a2, b0 x + b1 y + b2)` (the inverse of the map from input
            to output points). As on Keras's JAX, NumPy and PyTorch backends, `c0` and `c1`
            are taken as `0`, and no gradient flows into `transform`.
        interpolation: `"nearest"` or `"bilinear"` (default).
        fill_mode: How points outside the image are filled: `"constant"` (default,
            `fill_value`), `"nearest"`, `"wrap"`, `"mirror"` or `"reflect"`.
        fill_value: Value used outside the image when `fill_mode="constant"`. Defaults to 0.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        Applied affine transform image or batch of images (differentiable in `images`).

    Example:

    >>> x = np.random.random((2, 64, 80, 3))
    >>> transform = np.array([[1.5, 0, -20, 0, 1.5, -16, 0, 0],   # zoom
    ...                       [1, 0, -20, 0, 1, -16, 0, 0]])      # translation
    >>> ops.image.affine_transform(x, transform).shape
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
    xp = xp_of(x)
    t = xp.asarray(raw(transform))
    if x.ndim not in (3, 4):
        raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 "
                         f"(batch of images). Received input with shape: "
                         f"images.shape={tuple(x.shape)}")
    if t.ndim not in (1, 2):
        raise ValueError("Invalid transform rank: expected rank 1 (single transform) or rank 2 "
                         "(batch of transforms). Received input with shape: "
                         f"transform.shape={tuple(t.shape)}")
    unbatched = x.ndim == 3
    if unbatched:
        x = shape_ops.expand_dims(x, 0)
    if df == "channels_first":
        x = gather.moveaxis(x, 1, -1)
    b, h, w, c = x.shape
    t = t.reshape(-1, t.shape[-1])
    if t.shape[-1] != 8 or t.shape[0] not in (1, b):
        raise ValueError(f"affine_transform: `transform` must have 8 entries per row and one "
                         f"row, or one per image ({b}). Received: transform.shape="
                         f"{tuple(raw(transform).shape)}")
    dt = x.dtype if x.dtype.kind == "f" else "float32"
    t = t.astype(dt)
    row = xp.arange(h, dtype=dt)[None, :, None, None]
    col = xp.arange(w, dtype=dt)[None, None, :, None]

    def p(i):
        return t[:, i].reshape(-1, 1, 1, 1)

    rows = p(3) * col + p(4) * row + p(5)
    cols = p(0) * col + p(1) * row + p(2)
    batch = xp.arange(b).reshape(b, 1, 1, 1)
    chan = xp.arange(c).reshape(1, 1, 1, c)
    y = sample(x, [batch, rows, cols, chan], INTERPOLATIONS[interpolation], fill_mode,
               fill_value, exact=(True, False, False, True))
    if df == "channels_first":
        y = gather.moveaxis(y, -1, 1)
    return shape_ops.squeeze(y, 0) if unbatched else y
