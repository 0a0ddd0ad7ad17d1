"""RandomErasing (Keras 3.15): fills a random rectangle of some images with noise or a constant
(see ``_image_base`` for the shared ``call``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.layers.preprocessing._image_base import (
    BaseImageAugmentation,
    batch_size_of,
    check_value_range,
    is_number,
    set_factor,
)
from gpunet.registry import register

FILL_ERROR = "The `fill_value` argument should be a number (or a list of three numbers) "


def box_masks(xp: Any, shape: tuple, axes: tuple, x0: Any, x1: Any, y0: Any, y1: Any,
              dtype: Any) -> Any:
    """Boolean masks of ``shape`` (a batch), true where ``x0 <= col < x1`` and ``y0 <= row <
    y1`` (bounds per image, floats), repeated over the channels; ``axes`` = (h, w, c)."""
    h_ax, w_ax, _ = axes
    bshape = [1, 1, 1, 1]
    bshape[h_ax] = shape[h_ax]
    rows = xp.arange(shape[h_ax], dtype=dtype).reshape(bshape)
    bshape = [1, 1, 1, 1]
    bshape[w_ax] = shape[w_ax]
    cols = xp.arange(shape[w_ax], dtype=dtype).reshape(bshape)
    x0, x1, y0, y1 = (v.reshape(-1, 1, 1, 1) for v in (x0, x1, y0, y1))
    mask = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)
    return xp.broadcast_to(mask, shape)


def crop_bounds(rng: np.random.Generator, n: int, length: int, ratio: np.ndarray) -> tuple:
    """Start and end (floats) of a window ``ratio * length`` long at a uniform position."""
    crop = (ratio * np.float32(length)).astype(np.float32)
    start = rng.uniform(0.0, 1.0, n).astype(np.float32) * (np.float32(length) - crop)
    return start, start + crop


@register("layer")
class RandomErasing(BaseImageAugmentation):
    """Erases a random rectangle in each selected image (random erasing / cutout).

    For each image a probability ``p`` is drawn in the factor range and the image is erased
    when a uniform draw falls below it. The rectangle's width and height are
    ``sqrt(s_w) * width`` and ``sqrt(s_h) * height`` with ``s_w``, ``s_h`` drawn in
    ``scale``, at a uniform position inside the image. Erased pixels take ``fill_value``, or
    with ``fill_value=None`` Gaussian noise ``N(0, 1) * value_range[1]``, clipped to
    ``value_range``.

    Args:
        factor: float ``f`` in ``[0, 1]`` (``p`` drawn in ``[0, f]``) or a pair; default 1.0.
        scale: float or pair in ``[0, 1]``, the range of the erased area fraction per axis
            before the square root (default ``(0.02, 0.33)``).
        fill_value: ``None`` (noise, the default), a number, or three numbers (one per
            channel, channels_last).
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        seed: optional int seed.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same, in the layer's dtype.

    Returns:
        The images with erased rectangles; transformation ``{"apply_erasing": bool (batch,),
        "batch_masks": bool (like the images), "fill_value": (like the images)}``.

    Example:

    >>> RandomErasing(factor=0.5, fill_value=0.0)(images)  # doctest: +SKIP
    """

    def __init__(self, factor: Any = 1.0, scale: Any = (0.02, 0.33), fill_value: Any = None,
                 value_range: Any = (0, 255), seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(data_format, seed, **kwargs)
        self.factor = set_factor(factor, (0, 1))
        self.scale = set_factor(scale, (0, 1), "scale")
        if fill_value is not None:
            ok = is_number(fill_value) or (
                isinstance(fill_value, (tuple, list)) and len(fill_value) == 3
                and all(is_number(v) for v in fill_value))
            if not ok:
                raise ValueError(FILL_ERROR + f"Received: fill_value={fill_value}")
        self.fill_value = fill_value
        self.value_range = check_value_range(value_range, keep=True)

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        if not training:
            return None
        images = self._images_of(data)
        n = batch_size_of(self, images)
        shape = tuple(images.shape) if len(images.shape) == 4 else (1,) + tuple(images.shape)
        b, dt = self._backend_for(images), self.compute_dtype
        h_ax, w_ax, c_ax = self._hwc_axes()
        rng = self._rng(seed)
        weight = np.sqrt(rng.uniform(self.scale[0], self.scale[1], (n, 2)).astype(np.float32))
        x0, x1 = crop_bounds(rng, n, shape[w_ax], weight[:, 0])
        y0, y1 = crop_bounds(rng, n, shape[h_ax], weight[:, 1])
        masks = box_masks(b.xp, shape, (h_ax, w_ax, c_ax),
                          *(b.asarray(v) for v in (x0, x1, y0, y1)), np.float32)
        p = rng.uniform(self.factor[0], self.factor[1], n).astype(np.float32)
        apply = rng.uniform(0.0, 1.0, n).astype(np.float32) < p
        if self.fill_value is None:
            fill = rng.standard_normal(shape).astype(dt) * np.asarray(self.value_range[1], dt)
            fill = b.asarray(fill)
        else:
            value = b.xp.asarray(self.fill_value, dtype=dt)
            if value.ndim == 1 and c_ax == 1:
                value = value.reshape(-1, 1, 1)  # one value per channel, channels first
            fill = b.xp.broadcast_to(value, shape)
        fill = b.xp.clip(fill, self.value_range[0], self.value_range[1]).astype(dt, copy=False)
        if len(images.shape) == 3:
            fill = fill[0]  # Keras's shapes for a single image: masks (1, ...), fill (h, w, c)
        return {"apply_erasing": b.asarray(apply), "batch_masks": masks, "fill_value": fill}

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, images = self._prepare(images)
        dt, xp = self.compute_dtype, b.xp
        images = images.astype(dt, copy=False)
        if not training:
            return images
        t = transformation
        erased = xp.where(b.asarray(t["batch_masks"]), b.asarray(t["fill_value"]).astype(dt),
                          images)
        apply = b.asarray(t["apply_erasing"]).reshape(-1, 1, 1, 1)
        return xp.where(apply, erased, images).astype(dt, copy=False)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "fill_value": self.fill_value, "value_range": self.value_range,
                "seed": self.seed}
