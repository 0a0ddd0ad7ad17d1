"""Image files <-> NumPy arrays through Pillow, imported lazily (Pillow is optional)."""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

import numpy as np

_DATA_FORMATS = ("channels_last", "channels_first")
_COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil_image():
    """Returns `PIL.Image`, or raises an ImportError that says how to install it."""
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Loading, saving or converting image files needs Pillow, which is not installed: "
            "pip install Pillow"
        ) from err
    return Image


def _check_data_format(data_format: str | None) -> str:
    data_format = data_format or "channels_last"
    if data_format not in _DATA_FORMATS:
        raise ValueError(
            f"`data_format` must be one of {_DATA_FORMATS}; received {data_format!r}."
        )
    return data_format


def check_color_mode(color_mode: str) -> int:
    """Returns the number of channels of `color_mode`, or raises a ValueError."""
    if color_mode not in _COLOR_MODES:
        raise ValueError(
            f"`color_mode` must be one of {tuple(_COLOR_MODES)}; received {color_mode!r}."
        )
    return _COLOR_MODES[color_mode]


def _resample_filter(image_module, interpolation: str):
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"`interpolation` must be one of {_INTERPOLATIONS}; received {interpolation!r}."
        )
    resampling = getattr(image_module, "Resampling", image_module)
    return getattr(resampling, interpolation.upper())


def load_img(
    path: str | os.PathLike,
    grayscale: bool = False,
    color_mode: str = "rgb",
    target_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
) -> Any:
    """Loads an image file into a PIL image.

    Args:
        path: path of the image file.
        grayscale: deprecated, same as `color_mode="grayscale"`.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"`.
        target_size: `None` (keep the size) or `(height, width)`.
        interpolation: resampling filter when resizing: `"nearest"`, `"bilinear"`,
            `"bicubic"`, `"hamming"`, `"box"` or `"lanczos"`.
        keep_aspect_ratio: crop the centre to the target aspect ratio before resizing.

    Returns:
        A `PIL.Image.Image`.

    Example:

    >>> img = load_img("cat.png", target_size=(64, 64))  # doctest: +SKIP
    >>> img_to_array(img).shape  # doctest: +SKIP
    (64, 64, 3)
    """
    image_module = _pil_image()
    if grayscale:
        warnings.warn("`grayscale` is deprecated; use `color_mode='grayscale'`.", stacklevel=2)
        color_mode = "grayscale"
    check_color_mode(color_mode)
    with open(os.fspath(path), "rb") as f:
        img = image_module.open(io.BytesIO(f.read()))
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    if target_size is not None:
        size_wh = (int(target_size[1]), int(target_size[0]))
        if img.size != size_wh:
            resample = _resample_filter(image_module, interpolation)
            if keep_aspect_ratio:
                width, height = img.size
                crop_h = min(height, (width * size_wh[1]) // size_wh[0])
                crop_w = min(width, (height * size_wh[0]) // size_wh[1])
                top, left = (height - crop_h) // 2, (width - crop_w) // 2
                box = (left, top, left + crop_w, top + crop_h)
                img = img.resize(size_wh, resample, box=box)
            else:
                img = img.resize(size_wh, resample)
    return img


def img_to_array(img: Any, data_format: str | None = None, dtype: str = "float32") -> np.ndarray:
    """Converts a PIL image (or anything `np.asarray` accepts) to a rank-3 array.

    Args:
        img: PIL image.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        dtype: dtype of the result.

    Returns:
        `(h, w, c)` (or `(c, h, w)`) array; grayscale images get a channel axis of size 1.

    Example:

    >>> img_to_array(np.zeros((2, 3))).shape
    (2, 3, 1)
    """
    data_format = _check_data_format(data_format)
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        x = x.reshape((1,) + x.shape) if data_format == "channels_first" else x[..., None]
    else:
        raise ValueError(f"Unsupported image shape: expected rank 2 or 3, received {x.shape}.")
    return x


def array_to_img(
    x: np.ndarray, data_format: str | None = None, scale: bool = True, dtype: str = "float32"
) -> Any:
    """Converts a rank-3 array to a PIL image.

    Args:
        x: `(h, w, c)` (or `(c, h, w)`) array with 1, 3 or 4 channels.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        scale: rescale the values to `[0, 255]` (min to 0, max to 255) first.
        dtype: working dtype.

    Returns:
        A PIL image (mode `"L"`, `"I"`, `"RGB"` or `"RGBA"`).
    """
    image_module = _pil_image()
    data_format = _check_data_format(data_format)
    x = np.array(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(
            f"Expected an image array of rank 3 (single image); received shape {x.shape}."
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return image_module.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return image_module.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return image_module.fromarray(x[:, :, 0].astype("int32"), "I")
        return image_module.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: expected 1, 3 or 4, received {channels}.")


def save_img(
    path: str | os.PathLike,
    x: np.ndarray,
    data_format: str | None = None,
    file_format: str | None = None,
    scale: bool = True,
    **kwargs: Any,
) -> None:
    """Saves a rank-3 array as an image file.

    Args:
        path: destination path.
        x: rank-3 image array.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        file_format: e.g. `"png"`; inferred from the extension when `None`.
        scale: rescale the values to `[0, 255]` first.
        **kwargs: passed to `PIL.Image.Image.save`.
    """
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and (file_format == "jpg" or file_format == "jpeg"):
        warnings.warn("JPEG does not support an alpha channel; the image is saved as RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(os.fspath(path), format=file_format, **kwargs)
