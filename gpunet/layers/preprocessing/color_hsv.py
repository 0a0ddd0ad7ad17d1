"""Keras 3.15's per-image colour augmentations: RandomColorDegeneration, RandomSaturation,
RandomHue, RandomSharpness and RandomColorJitter (brightness, contrast, saturation and hue in
that order, as Keras composes them). See ``_image_base`` for the shared ``call``."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.layers.preprocessing._color_ops import (
    hsv_to_rgb,
    rgb_to_grayscale,
    rgb_to_hsv,
    smooth3x3,
)
from gpunet.layers.preprocessing._image_base import (
    BaseImageAugmentation,
    batch_size_of,
    check_value_range,
    set_factor,
    to_range,
)
from gpunet.registry import register

EPSILON = np.float32(1e-7)  # keras.config.epsilon()


def uniform_per_image(layer: Any, images: Any, rng: np.random.Generator, factor: tuple,
                      shape_tail: tuple = ()) -> np.ndarray:
    """float32 draws in ``[factor[0], factor[1])``, one per image (shape ``(n,) + tail``)."""
    n = batch_size_of(layer, images)
    return rng.uniform(factor[0], factor[1], (n,) + shape_tail).astype(np.float32)


class _FactorLayer(BaseImageAugmentation):
    """``factor`` and ``value_range`` checked as Keras does, one uniform draw per image."""

    _BOUNDS = (-1, 1)
    _KEEP_RANGE = False  # True: the config keeps value_range as given (Keras does not sort it)

    def __init__(self, factor: Any, value_range: Any = (0, 255),
                 data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_format, seed, **kwargs)
        self.factor = set_factor(factor, self._BOUNDS)
        self.value_range = check_value_range(value_range, keep=self._KEEP_RANGE)

    def _uniform(self, images: Any, seed: Any, shape_tail: tuple = ()) -> np.ndarray:
        return uniform_per_image(self, images, self._rng(seed), self.factor, shape_tail)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range,
                "seed": self.seed}


def _degenerate(self: Any, images: Any, factor: Any, xp: Any) -> Any:
    gray = rgb_to_grayscale(xp, images, self._hwc_axes()[2], type(self).__name__)
    return images + factor * (gray - images)


@register("layer")
class RandomColorDegeneration(_FactorLayer):
    """Blends each image towards its grayscale version: ``x + f * (gray(x) - x)``, clipped to
    ``value_range``, with ``f`` drawn per image in the factor range (``f = 1``: grayscale,
    ``f < 0``: more colourful).

    Args:
        factor: float ``f`` in ``[-1, 1]`` (range ``[-|f|, |f|]``) or a pair.
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed.

    Input shape:
        ``(batch, h, w, 3)`` or ``(h, w, 3)``. Output shape: the same.

    Returns:
        The blended images; transformation ``{"factor": (batch, 1, 1, 1)}``.

    Example:

    >>> RandomColorDegeneration(0.5)(images)  # doctest: +SKIP
    """

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        images = self._images_of(data)
        f = self._uniform(images, seed, (1, 1, 1))
        return {"factor": self._backend_for(images).asarray(f)}

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, images = self._prepare(images)
        if not training:
            return images
        dt = self.compute_dtype
        images = images.astype(dt, copy=False)
        f = b.asarray(transformation["factor"]).astype(dt)
        out = _degenerate(self, images, f, b.xp)
        return b.xp.clip(out, self.value_range[0], self.value_range[1]).astype(dt, copy=False)


def saturation_draw(layer: Any, images: Any, rng: np.random.Generator, factor: tuple) -> dict:
    f = uniform_per_image(layer, images, rng, factor)
    return {"factor": layer._backend_for(images).asarray(f / (1 - f + EPSILON))}


def saturation_apply(layer: Any, b: Any, images: Any, transformation: dict,
                     value_range: Any) -> Any:
    xp, axis, name = b.xp, layer._hwc_axes()[2], type(layer).__name__
    f = b.asarray(transformation["factor"]).astype(layer.compute_dtype).reshape(-1, 1, 1)
    hsv = rgb_to_hsv(xp, images, axis, name)
    h, s, v = (xp.take(hsv, i, axis=axis) for i in range(3))
    s = xp.clip(s * f, value_range[0], value_range[1])
    return hsv_to_rgb(xp, xp.stack([h, s, v], axis=axis), axis, name)


@register("layer")
class RandomSaturation(_FactorLayer):
    """Scales each image's saturation (HSV) by ``f / (1 - f)``, with ``f`` drawn per image
    in the factor range: ``f = 0.5`` keeps the image, ``f = 0`` gives grayscale, ``f -> 1``
    full saturation. As in Keras 3.15 the scaled saturation is clipped to ``value_range``.

    Args:
        factor: float ``f`` in ``[-1, 1]`` (range ``[-|f|, |f|]``) or a pair.
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed.

    Input shape:
        ``(batch, h, w, 3)`` or ``(h, w, 3)``, floating point. Output shape: the same.

    Returns:
        The re-saturated images; transformation ``{"factor": (batch,)}`` (the scale
        ``f / (1 - f + 1e-7)``).

    Example:

    >>> RandomSaturation((0.5, 0.9))(images)  # doctest: +SKIP
    """

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        return saturation_draw(self, self._images_of(data), self._rng(seed), self.factor)

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, images = self._prepare(images)
        if not training:
            return images
        return saturation_apply(self, b, images, transformation, self.value_range)


def hue_draw(layer: Any, images: Any, rng: np.random.Generator, factor: tuple) -> dict:
    n = batch_size_of(layer, images)
    sign = np.where(rng.uniform(0.0, 1.0, n).astype(np.float32) > 0.5, -1.0, 1.0)
    f = rng.uniform(factor[0], factor[1], n).astype(np.float32)
    return {"factor": layer._backend_for(images).asarray((sign * f * 0.5).astype(np.float32))}


def hue_apply(layer: Any, b: Any, images: Any, transformation: dict, value_range: Any) -> Any:
    xp, dt = b.xp, layer.compute_dtype
    axis, name = layer._hwc_axes()[2], type(layer).__name__
    x = to_range(xp, images.astype(dt, copy=False), value_range, (0, 1), "float32")
    f = b.asarray(transformation["factor"]).astype(x.dtype).reshape(-1, 1, 1)
    hsv = rgb_to_hsv(xp, x, axis, name)
    h, s, v = (xp.take(hsv, i, axis=axis) for i in range(3))
    h = h + f
    h = xp.where(h > 1.0, h - 1.0, h)
    h = xp.where(h < 0.0, h + 1.0, h)
    rgb = xp.clip(hsv_to_rgb(xp, xp.stack([h, s, v], axis=axis), axis, name), 0, 1)
    return to_range(xp, rgb, (0, 1), value_range, "float32").astype(dt, copy=False)


@register("layer")
class RandomHue(_FactorLayer):
    """Rotates each image's hue by a random amount: ``+-f / 2`` of a full turn, with ``f``
    drawn in the factor range and the sign at random (``factor=1`` can reach the opposite
    colour).

    Args:
        factor: float ``f`` in ``[0, 1]`` (range ``[0, f]``) or a pair.
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed.

    Input shape:
        ``(batch, h, w, 3)`` or ``(h, w, 3)``. Output shape: the same.

    Returns:
        The hue-shifted images; transformation ``{"factor": (batch,)}`` (the signed shift,
        as a fraction of a turn).

    Example:

    >>> RandomHue(0.2, value_range=(0, 1))(images)  # doctest: +SKIP
    """

    _BOUNDS = (0, 1)
    _KEEP_RANGE = True

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        return hue_draw(self, self._images_of(data), self._rng(seed), self.factor)

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, images = self._prepare(images)
        if not training:
            return images
        return hue_apply(self, b, images, transformation, self.value_range)


@register("layer")
class RandomSharpness(_FactorLayer):
    """Sharpens or blurs each image: ``x + (1 - 2f) * (smooth(x) - x)``, clipped to
    ``value_range``, where ``smooth`` is the 3x3 filter ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]]
    / 13`` (zeros outside the image) and ``f`` is drawn per image in the factor range
    (``f = 0``: the smoothed image, ``f = 0.5``: unchanged, ``f = 1``: sharpened).

    Args:
        factor: float ``f`` in ``[0, 1]`` (range ``[0, f]``) or a pair.
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same, in the layer's dtype.

    Returns:
        The sharpened images; transformation ``{"factor": (batch,)}``.

    Example:

    >>> RandomSharpness(0.5)(images)  # doctest: +SKIP
    """

    _BOUNDS = (0, 1)

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        images = self._images_of(data)
        return {"factor": self._backend_for(images).asarray(self._uniform(images, seed))}

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, images = self._prepare(images)
        dt = self.compute_dtype
        images = images.astype(dt, copy=False)
        if not training:
            return images
        f = (b.asarray(transformation["factor"]) * 2).astype(dt).reshape(-1, 1, 1, 1)
        h, w, _ = self._hwc_axes()
        smoothed = smooth3x3(b.xp, images, (h, w))
        out = images + (1.0 - f) * (smoothed - images)
        return b.xp.clip(out, self.value_range[0], self.value_range[1]).astype(dt, copy=False)
