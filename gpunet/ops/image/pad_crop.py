"""``keras.ops.image.pad_images`` / ``crop_images``: zero padding and cropping of the height
and width axes, from two of (start, end, target size) per axis, with Keras 3's checks."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.ops import misc, shape_ops
from gpunet.ops._wrap import symbolic
from gpunet.ops.image._common import (
    as_image_tensor,
    check_image_rank,
    hw_axes,
    standardize_data_format,
)

__all__ = ["crop_images", "pad_images"]


def _check_two(names: tuple, values: tuple) -> None:
    if list(values).count(None) != 1:
        got = ", ".join(f"{n}={v}" for n, v in zip(names, values))
        raise ValueError(f"Must specify exactly two of {', '.join(names)}. Received: {got}")


def _non_negative(**values: Any) -> None:
    for name, value in values.items():
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={value}")


def _validate(kind: str, top, left, bottom, right, target_height, target_width) -> None:
    _check_two((f"top_{kind}", f"bottom_{kind}", "target_height"),
               (top, bottom, target_height))
    _check_two((f"left_{kind}", f"right_{kind}", "target_width"),
               (left, right, target_width))
    _non_negative(**{f"top_{kind}": top, f"bottom_{kind}": bottom,
                     "target_height": target_height, f"left_{kind}": left,
                     f"right_{kind}": right, "target_width": target_width})


def _prepare(images: Any, data_format: Any) -> tuple:
    images = as_image_tensor(images)
    check_image_rank(images, "Received: ")
    h_ax, w_ax = hw_axes(images.ndim, standardize_data_format(data_format))
    return images, h_ax, w_ax


@symbolic("image.pad_images")
def pad_images(images: Any, top_padding: int | None = None, left_padding: int | None = None,
               bottom_padding: int | None = None, right_padding: int | None = None,
               target_height: int | None = None, target_width: int | None = None,
               data_format: str | None = None) -> Tensor:
    """Pads `images` with zeros to the specified `height` and `width`.

    Per axis give exactly two of: the padding before, the padding after, the target size.

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        top_padding: Number of rows of zeros to add on top.
        left_padding: Number of columns of zeros to add on the left.
        bottom_padding: Number of rows of zeros to add at the bottom.
        right_padding: Number of columns of zeros to add on the right.
        target_height: Height of output images.
        target_width: Width of output images.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        Padded image or batch of images.

    Example:

    >>> images = np.random.random((15, 25, 3))
    >>> ops.image.pad_images(images, 2, 3, target_height=20, target_width=30).shape
    (20, 30, 3)
    """
    images, h_ax, w_ax = _prepare(images, data_format)
    _validate("padding", top_padding, left_padding, bottom_padding, right_padding,
              target_height, target_width)
    height, width = images.shape[h_ax], images.shape[w_ax]
    if top_padding is None:
        top_padding = target_height - bottom_padding - height
    if bottom_padding is None:
        bottom_padding = target_height - top_padding - height
    if left_padding is None:
        left_padding = target_width - right_padding - width
    if right_padding is None:
        right_padding = target_width - left_padding - width
    _non_negative(top_padding=top_padding, left_padding=left_padding,
                  right_padding=right_padding, bottom_padding=bottom_padding)
    pad = [(0, 0)] * images.ndim
    pad[h_ax], pad[w_ax] = (top_padding, bottom_padding), (left_padding, right_padding)
    return misc.pad(images, pad)


@symbolic("image.crop_images")
def crop_images(images: Any, top_cropping: int | None = None, left_cropping: int | None = None,
                bottom_cropping: int | None = None, right_cropping: int | None = None,
                target_height: int | None = None, target_width: int | None = None,
                data_format: str | None = None) -> Tensor:
    """Crops `images` to a specified `height` and `width`.

    Per axis give exactly two of: the cropping at the start, at the end, the target size.

    Args:
        images: Input image or batch of images. Must be 3D or 4D.
        top_cropping: Number of rows to crop from the top.
        left_cropping: Number of columns to crop from the left.
        bottom_cropping: Number of rows to crop from the bottom.
        right_cropping: Number of columns to crop from the right.
        target_height: Height of the output images.
        target_width: Width of the output images.
        data_format: `"channels_last"` or `"channels_first"` (default:
            `gpunet.config.image_data_format()`).

    Returns:
        Cropped image or batch of images.

    Example:

    >>> images = np.reshape(np.arange(1, 28, dtype="float32"), [3, 3, 3])
    >>> ops.image.crop_images(images, 0, 0, 2, 2)[:, :, 0]
    array([[ 1.,  4.],
           [10., 13.]], dtype=float32)
    """
    images, h_ax, w_ax = _prepare(images, data_format)
    _validate("cropping", top_cropping, left_cropping, bottom_cropping, right_cropping,
              target_height, target_width)
    height, width = images.shape[h_ax], images.shape[w_ax]
    if top_cropping is None:
        top_cropping = height - target_height - bottom_cropping
    if target_height is None:
        target_height = height - bottom_cropping - top_cropping
    if left_cropping is None:
        left_cropping = width - target_width - right_cropping
    if target_width is None:
        target_width = width - right_cropping - left_cropping
    _non_negative(top_cropping=top_cropping, target_height=target_height,
                  left_cropping=left_cropping, target_width=target_width)
    for name, start, size, n in (("height", top_cropping, target_height, height),
                                 ("width", left_cropping, target_width, width)):
        if start + size > n:
            raise ValueError(f"crop_images: the crop of {name} {size} starting at {start} "
                             f"does not fit in images of {name} {n}. Received: "
                             f"images.shape={tuple(images.shape)}")
    key = [slice(None)] * images.ndim
    key[h_ax] = slice(top_cropping, top_cropping + target_height)
    key[w_ax] = slice(left_cropping, left_cropping + target_width)
    return shape_ops.getitem(images, tuple(key))
