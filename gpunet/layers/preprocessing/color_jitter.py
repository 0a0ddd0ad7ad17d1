"""RandomColorJitter: Keras 3.15's brightness, contrast, saturation and hue changes in one
layer, applied in that order with the semantics of Keras's own RandomBrightness,
RandomContrast, RandomSaturation and RandomHue (see ``_image_base`` for the shared ``call``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.layers.preprocessing._image_base import (
    BaseImageAugmentation,
    batch_size_of,
    check_value_range,
    set_factor,
)
from gpunet.layers.preprocessing.color_hsv import (
    hue_apply,
    hue_draw,
    saturation_apply,
    saturation_draw,
)
from gpunet.registry import register

PARTS = ("brightness", "contrast", "saturation", "hue")
BOUNDS = {"brightness": (-1, 1), "contrast": (0, 1), "saturation": (-1, 1), "hue": (0, 1)}


@register("layer")
class RandomColorJitter(BaseImageAugmentation):
    """Randomly changes brightness, contrast, saturation and hue, each image its own draw.

    Each part runs only when its factor is given, in the order brightness, contrast,
    saturation, hue, exactly as Keras 3.15's layers of those names do it:

    - brightness: ``clip(x + d * (high - low), low, high)``, ``d`` drawn in the factor range
      (a float ``f`` in ``[-1, 1]`` gives ``[-|f|, |f|]``);
    - contrast: ``clip((x - mean) * c + mean, low, high)`` per channel, ``c`` drawn in
      ``[1 - lower, 1 + upper]``; as in Keras 3.15 a float ``f`` gives ``(lower, upper) =
      (0, f)``, so ``c`` in ``[1, 1 + f]``;
    - saturation: the HSV saturation scaled by ``s / (1 - s)``, ``s`` drawn in the range;
    - hue: the hue turned by ``+-h / 2`` of a full turn, ``h`` drawn in ``[0, f]``.

    Args:
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        brightness_factor: float or pair, or ``None`` (default: no brightness change).
        contrast_factor: float or pair in ``[0, 1]``, or ``None``.
        saturation_factor: float or pair, or ``None``.
        hue_factor: float or pair in ``[0, 1]``, or ``None``.
        seed: optional int seed.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch, h, w, 3)`` or ``(h, w, 3)``. Output shape: the same, in the layer's dtype.

    Returns:
        The jittered images. The transformation is a dict with a sub-dict per active part,
        holding Keras's keys for that layer: ``{"brightness": {"rgb_delta"}, "contrast":
        {"contrast_factor"}, "saturation": {"factor"}, "hue": {"factor"}}``.
        ``transform_images(images, None)`` draws them itself, as Keras does.

    Example:

    >>> RandomColorJitter(brightness_factor=0.2, hue_factor=0.1)(images)  # doctest: +SKIP
    """

    def __init__(self, value_range: Any = (0, 255), brightness_factor: Any = None,
                 contrast_factor: Any = None, saturation_factor: Any = None,
                 hue_factor: Any = None, seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(data_format, seed, **kwargs)
        self.value_range = check_value_range(value_range, keep=True)
        self.brightness_factor = brightness_factor
        self.contrast_factor = contrast_factor
        self.saturation_factor = saturation_factor
        self.hue_factor = hue_factor
        given = dict(zip(PARTS, (brightness_factor, contrast_factor, saturation_factor,
                                 hue_factor)))
        self._factors = {p: set_factor(f, BOUNDS[p], f"{p}_factor")
                         for p, f in given.items() if f is not None}
        self._sorted_range = sorted(self.value_range)

    def _draw(self, part: str, images: Any, rng: np.random.Generator) -> dict:
        factor = self._factors[part]
        if part == "saturation":
            return saturation_draw(self, images, rng, factor)
        if part == "hue":
            return hue_draw(self, images, rng, factor)
        n = batch_size_of(self, images)
        shape = (n, 1, 1, 1) if len(images.shape) == 4 else (1, 1, 1)
        b = self._backend_for(images)
        if part == "brightness":
            d = rng.uniform(factor[0], factor[1], shape).astype(np.float32)
            span = self._sorted_range[1] - self._sorted_range[0]
            return {"rgb_delta": b.asarray(d * np.float32(span))}
        c = rng.uniform(1.0 - factor[0], 1.0 + factor[1], shape)
        return {"contrast_factor": b.asarray(c.astype(self.compute_dtype))}

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        if not training:
            return None
        images = self._images_of(data)
        rng = self._rng(seed)
        return {p: self._draw(p, images, rng) for p in PARTS if p in self._factors}

    def _apply(self, part: str, b: Any, images: Any, t: dict) -> Any:
        xp = b.xp
        if part == "brightness":
            lo, hi = self._sorted_range
            return xp.clip(images + b.asarray(t["rgb_delta"]).astype(images.dtype), lo, hi)
        if part == "contrast":
            h, w, _ = self._hwc_axes()
            mean = images.mean(axis=h, keepdims=True).mean(axis=w, keepdims=True)
            c = b.asarray(t["contrast_factor"]).astype(images.dtype)
            return xp.clip((images - mean) * c + mean, self.value_range[0], self.value_range[1])
        if part == "saturation":
            return saturation_apply(self, b, images, t, self._sorted_range)
        return hue_apply(self, b, images, t, self.value_range)

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, images = self._prepare(images)
        if not training:
            return images
        dt = self.compute_dtype
        images = images.astype(dt, copy=False)
        rng = None
        for part in PARTS:
            if part not in self._factors:
                continue
            t = (transformation or {}).get(part)
            if t is None:  # Keras draws inside transform_images
                rng = self._rng() if rng is None else rng
                t = self._draw(part, images, rng)
            images = self._apply(part, b, images, t).astype(dt, copy=False)
        return images

    def get_config(self) -> dict:
        return {**super().get_config(), "value_range": self.value_range,
                "brightness_factor": self.brightness_factor,
                "contrast_factor": self.contrast_factor,
                "saturation_factor": self.saturation_factor, "hue_factor": self.hue_factor,
                "seed": self.seed}
