"""Keras 3.15's per-pixel colour augmentations: RandomGrayscale, RandomInvert, Solarization,
RandomPosterization and AutoContrast (see ``_image_base`` for the shared ``call``, the dict
inputs and where the draws and transforms run)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.layers.preprocessing._color_ops import rgb_to_grayscale
from gpunet.layers.preprocessing._image_base import (
    BaseImageAugmentation,
    batch_size_of,
    check_value_range,
    is_number,
    set_factor,
    to_range,
)
from gpunet.registry import register


@register("layer")
class RandomGrayscale(BaseImageAugmentation):
    """Converts each image to grayscale with probability ``factor``, keeping its channels
    (all of them set to the luminance ``0.2989 r + 0.587 g + 0.114 b``).

    Args:
        factor: float in ``[0, 1]``, the probability of converting an image (default 0.5).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed of the layer's own random stream.
        **kwargs: base layer arguments (``name``, ``dtype``).

    Input shape:
        ``(batch, h, w, 3)`` or ``(h, w, 3)`` (channels first: ``(..., 3, h, w)``); one
        channel passes unchanged.

    Output shape:
        Same as the input.

    Returns:
        The images, a random subset of them in grayscale. The transformation is a boolean
        array ``(batch, 1, 1, 1)``: which images are converted.

    Example:

    >>> RandomGrayscale(factor=1.0)(images)  # doctest: +SKIP
    """

    def __init__(self, factor: float = 0.5, data_format: str | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(data_format, seed, **kwargs)
        if not is_number(factor) or factor < 0 or factor > 1:
            raise ValueError(f"`factor` should be between 0 and 1. Received: factor={factor}")
        self.factor = factor

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        images = self._images_of(data)
        n = batch_size_of(self, images)
        u = self._rng(seed).uniform(0.0, 1.0, n).astype(np.float32)
        return self._backend_for(images).asarray((u < self.factor).reshape(n, 1, 1, 1))

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
        b, images = self._prepare(images)
        if not training:
            return images
        if transformation is None:
            transformation = self.get_random_transformation(images)
        gray = rgb_to_grayscale(b.xp, images, self._hwc_axes()[2], type(self).__name__)
        return b.xp.where(b.asarray(transformation), gray, images)

    def get_config(self) -> dict:
        # Keras 3.15 leaves the seed out of this layer's config; it is kept here so a seeded
        # layer reloads with its seed (Keras's from_config accepts it).
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}


@register("layer")
class RandomInvert(BaseImageAugmentation):
    """Inverts each image (``value_range[1] - x``) with a random probability.

    For each image a probability ``p`` is drawn uniformly in the factor range, then the
    image is inverted when a second uniform draw falls below ``p``.

    Args:
        factor: float ``f`` in ``[0, 1]`` (``p`` drawn in ``[0, f]``) or a pair ``(low,
            high)``; default 1.0 (an image is inverted with probability 1/2).
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        seed: optional int seed.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same.

    Returns:
        The images, some inverted; transformation ``{"apply_inversion": bool (batch,)}``.

    Example:

    >>> RandomInvert(value_range=(0, 1))(images)  # doctest: +SKIP
    """

    def __init__(self, factor: Any = 1.0, value_range: Any = (0, 255), seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(data_format, seed, **kwargs)
        self.factor = set_factor(factor, (0, 1))
        self.value_range = check_value_range(value_range, keep=True)

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        if not training:
            return None
        images = self._images_of(data)
        n = batch_size_of(self, images)
        rng = self._rng(seed)
        p = rng.uniform(self.factor[0], self.factor[1], n).astype(np.float32)
        u = rng.uniform(0.0, 1.0, n).astype(np.float32)
        return {"apply_inversion": self._backend_for(images).asarray(u < p)}

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
        b, images = self._prepare(images)
        if not training:
            return images
        images = images.astype(self.compute_dtype, copy=False)
        apply = b.asarray(transformation["apply_inversion"]).reshape(-1, 1, 1, 1)
        top = np.dtype(self.compute_dtype).type(self.value_range[1])
        return b.xp.where(apply, top - images, images)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range,
                "seed": self.seed}


def _solarization_factor(factor: Any, name: str) -> tuple:
    msg = ("The `addition_factor` and `threshold_factor` arguments should be a number (or a "
           "list of two numbers) in the range [0, 1]. ")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(is_number(f) for f in factor):
            raise ValueError(msg + f"Received: {name}={factor}")
        for f in factor:
            if f > 1.0 or f < 0:
                raise ValueError(msg + f"Received: input_number={f}")
        return tuple(sorted(factor))
    if is_number(factor):
        if factor > 1.0 or factor < 0:
            raise ValueError(msg + f"Received: input_number={factor}")
        return 0, factor
    raise ValueError(msg + f"Received: {name}={factor}")


@register("layer")
class Solarization(BaseImageAugmentation):
    """Solarizes images: ``255 - x`` for the pixels at or above a threshold, on the 0-255 scale.

    Per image, ``addition`` is drawn in ``[addition_factor[0], addition_factor[1] * 255]``
    and ``threshold`` in ``[threshold_factor[0], threshold_factor[1] * 255]`` (the lower
    ends are not scaled, as in Keras); then ``y = clip(x + addition, 0, 255)`` and the
    output is ``y`` where ``y < threshold``, else ``255 - y`` (mapped back to
    ``value_range``). With the default factors every pixel is inverted.

    Args:
        addition_factor: float ``f`` (range ``(0, f)``) or pair, within ``[0, 1]``; default 0.
        threshold_factor: float or pair, within ``[0, 1]``; default 0.
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        seed: optional int seed.
        **kwargs: base layer arguments (``name``, ``dtype``, ``data_format``).

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same, in the layer's dtype.

    Returns:
        The solarized images; transformation ``{"additions", "thresholds"}``, each
        ``(batch, 1, 1, 1)`` (``(1, 1, 1)`` for a single image).

    Example:

    >>> Solarization(value_range=(0, 255))(images)  # doctest: +SKIP
    """

    def __init__(self, addition_factor: Any = 0.0, threshold_factor: Any = 0.0,
                 value_range: Any = (0, 255), seed: int | None = None,
                 **kwargs: Any) -> None:
        data_format = kwargs.pop("data_format", None)
        super().__init__(data_format, seed, **kwargs)
        self.addition_factor = _solarization_factor(addition_factor, "addition_factor")
        self.threshold_factor = _solarization_factor(threshold_factor, "threshold_factor")
        self.value_range = check_value_range(value_range)

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        if not training:
            return None
        images = self._images_of(data)
        n = batch_size_of(self, images)
        shape = (n, 1, 1, 1) if len(images.shape) == 4 else (1, 1, 1)
        rng, dt = self._rng(seed), self.compute_dtype
        add = rng.uniform(self.addition_factor[0], self.addition_factor[1] * 255, shape)
        thr = rng.uniform(self.threshold_factor[0], self.threshold_factor[1] * 255, shape)
        b = self._backend_for(images)
        return {"additions": b.asarray(add.astype(dt)), "thresholds": b.asarray(thr.astype(dt))}

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
        b, images = self._prepare(images)
        dt, xp = self.compute_dtype, b.xp
        images = images.astype(dt, copy=False)
        if not training or transformation is None:
            return images
        x = to_range(xp, images, self.value_range, (0, 255), dt)
        y = xp.clip(x + b.asarray(transformation["additions"]).astype(dt), 0, 255)
        y = xp.where(y < b.asarray(transformation["thresholds"]).astype(dt), y, 255 - y)
        return to_range(xp, y, (0, 255), self.value_range, dt).astype(dt, copy=False)

    def get_config(self) -> dict:
        return {**super().get_config(), "value_range": self.value_range,
                "addition_factor": self.addition_factor,
                "threshold_factor": self.threshold_factor, "seed": self.seed}


@register("layer")
class RandomPosterization(BaseImageAugmentation):
    """Keeps only the top ``bits`` bits of each channel (on the 0-255 scale).

    As in Keras 3.15, an int ``factor`` ``f`` gives the range ``(1, f)`` and ``bits`` is
    drawn per image as an integer in ``[1, f)`` (exclusive of ``f``); a pair ``(a, b)``
    draws in ``[a, b)``; ``(f, f)`` keeps exactly ``f`` bits.

    Args:
        factor: int in ``[1, 8]`` or a pair of ints.
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same.

    Returns:
        The posterized images; transformation ``{"shift_factor": uint8 (batch,)}`` (the
        number of low bits cleared, ``8 - bits``).

    Example:

    >>> RandomPosterization(factor=(4, 4))(images)  # doctest: +SKIP
    """

    def __init__(self, factor: Any, value_range: Any = (0, 255),
                 data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(data_format, seed, **kwargs)
        self.factor = set_factor(factor, (1, 8))
        self.value_range = check_value_range(value_range)

    def get_random_transformation(self, data: Any, training: bool = True,
                                  seed: int | None = None) -> Any:
        images = self._images_of(data)
        n = batch_size_of(self, images)
        lo, hi = int(self.factor[0]), int(self.factor[1])
        bits = (self._rng(seed).integers(lo, hi, n) if lo != hi else np.full(n, lo))
        shift = (8 - bits).astype(np.uint8)
        return {"shift_factor": self._backend_for(images).asarray(shift)}

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
        b, images = self._prepare(images)
        if not training:
            return images
        xp, dt = b.xp, self.compute_dtype
        shift = b.asarray(transformation["shift_factor"]).astype(np.uint8).reshape(-1, 1, 1, 1)
        x = to_range(xp, images, self.value_range, (0, 255), dt).astype(np.uint8)
        x = xp.left_shift(xp.right_shift(x, shift), shift).astype(dt)
        return to_range(xp, x, (0, 255), self.value_range, dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range,
                "seed": self.seed}


@register("layer")
class AutoContrast(BaseImageAugmentation):
    """Stretches each channel of each image to the full value range: the channel's minimum
    maps to ``value_range[0]`` and its maximum to ``value_range[1]``. Not random, and, as in
    Keras 3.15, applied whether or not ``training`` is set. Channels that are constant
    (max = min) are left unchanged.

    Args:
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        **kwargs: base layer arguments (``name``, ``dtype``, ``data_format``).

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same, in the layer's dtype.

    Returns:
        The contrast-stretched images.

    Example:

    >>> AutoContrast(value_range=(0, 1))(images)  # doctest: +SKIP
    """

    def __init__(self, value_range: Any = (0, 255), **kwargs: Any) -> None:
        data_format = kwargs.pop("data_format", None)
        super().__init__(data_format, None, **kwargs)
        self.value_range = check_value_range(value_range)

    def call(self, data: Any, training: bool | None = True) -> Any:
        return super().call(data, training=True)  # Keras ignores `training` here

    def transform_images(self, images: Any, transformation: Any = None,
                         training: bool = True) -> Any:
        b, original = self._prepare(images)
        xp, dt = b.xp, self.compute_dtype
        h, w, _ = self._hwc_axes()
        x = to_range(xp, original, self.value_range, (0, 255), dt).astype(dt, copy=False)
        low = x.min(axis=(h, w), keepdims=True)
        high = x.max(axis=(h, w), keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = 255.0 / (high - low)
            y = xp.clip(x * scale + (-low * scale), 0.0, 255.0)
        y = to_range(xp, y, (0, 255), self.value_range, dt)
        return xp.where(xp.isnan(y), original.astype(dt, copy=False), y).astype(dt, copy=False)

    def get_config(self) -> dict:
        return {**super().get_config(), "value_range": self.value_range}
