"""Random image augmentation layers, active in training and when called directly.

As Keras 3's image layers (``call(data, training=True)``), ``training`` defaults to True: a
direct call ``layer(images)`` (or ``augment(images)`` with ``augment`` a ``Sequential`` of
these layers, as in a ``Dataset.map``) augments, ``fit`` passes True, and ``predict``,
``evaluate`` and ``training=False`` return the images unchanged.

Each layer draws its random parameters on the host, one set per image, from its own
generator when given a ``seed`` (the same draws run after run) and from the host generator
seeded by ``gpunet.utils.set_random_seed`` otherwise. ``RandomFlip``, ``RandomContrast`` and
``RandomBrightness`` then run on the backend (``xp``); ``RandomTranslation``,
``RandomRotation`` and ``RandomZoom`` warp on the host with
``gpunet.layers.preprocessing._affine.warp_affine`` (one vectorised gather per batch) and copy the
result back. Gradients do not cross these layers: put them at the start of a model.

The random streams are not TensorFlow's, so the draws differ from Keras's; the
distributions and geometric conventions are Keras's.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from gpunet.autograd.tensor import Tensor
from gpunet.backend import image_data_format
from gpunet.layers.layer import shape_str
from gpunet.layers.preprocessing._affine import FILL_MODES, transform_matrices, warp_affine
from gpunet.layers.preprocessing._base import (
    PreprocessingLayer,
    RandomStream,
    check_choice,
    host,
    raw,
)
from gpunet.registry import register


def factor_range(layer: str, name: str, factor: Any, lo_bound: float | None = -1.0,
                 hi_bound: float | None = 1.0) -> tuple:
    """``f`` → ``(-f, f)``; ``(a, b)`` kept; both checked against the bounds."""
    if isinstance(factor, (tuple, list)) and len(factor) == 2:
        lo, hi = float(factor[0]), float(factor[1])
    elif isinstance(factor, numbers.Real) and not isinstance(factor, bool):
        lo, hi = -abs(float(factor)), abs(float(factor))
    else:
        raise ValueError(f"{layer}: `{name}` must be a float or a tuple of two floats. "
                         f"Received: {name}={factor!r}")
    if lo > hi or (lo_bound is not None and lo < lo_bound) or (
            hi_bound is not None and hi > hi_bound):
        raise ValueError(f"{layer}: `{name}` must lie in [{lo_bound}, {hi_bound}] with lower "
                         f"<= upper. Received: {name}={factor!r}")
    return lo, hi


class _RandomImageLayer(PreprocessingLayer):
    """Shared: seed, data format, rank-3/4 handling, identity with ``training=False``."""

    def __init__(self, seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self._stream = RandomStream(seed)
        self.data_format = check_choice(type(self).__name__, "data_format",
                                        data_format or image_data_format(),
                                        ("channels_last", "channels_first"))

    def call(self, inputs, training=None):
        if training is None:
            training = True  # Keras's image layers: call(data, training=True)
        if not training:
            return inputs
        x = raw(inputs)
        if x.ndim not in (3, 4):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects images of "
                             f"rank 3 or 4; received input with shape "
                             f"{shape_str(tuple(x.shape))}.")
        single = x.ndim == 3
        x = x[None] if single else x
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)
        if x.dtype != np.dtype(self.dtype):
            x = x.astype(self.dtype)
        y = self._augment(inputs.backend, x)
        if self.data_format == "channels_first":
            y = y.transpose(0, 3, 1, 2)
        return Tensor(y[0] if single else y)

    def _augment(self, b: Any, x: Any) -> Any:
        raise NotImplementedError

    def _per_image(self, b: Any, values: np.ndarray) -> Any:
        return b.asarray(values.reshape(-1, 1, 1, 1).astype(self.dtype))

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


@register("layer")
class RandomFlip(_RandomImageLayer):
    """Flips each image left-right and/or top-bottom, each with probability 1/2.

    Args:
        mode: ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"`` (default;
            two independent draws).
        seed: optional int seed of the layer's own random stream.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same.

    Example:

    >>> RandomFlip("horizontal", seed=0)(images, training=True)  # doctest: +SKIP
    """

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(seed, data_format, **kwargs)
        self.mode = check_choice("RandomFlip", "mode", mode,
                                 ("horizontal", "vertical", "horizontal_and_vertical"))

    def _augment(self, b, x):
        xp, n = b.xp, x.shape[0]
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            flip = b.asarray(self._stream.uniform(0.0, 1.0, n) < 0.5).reshape(-1, 1, 1, 1)
            x = xp.where(flip, x[:, :, ::-1], x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            flip = b.asarray(self._stream.uniform(0.0, 1.0, n) < 0.5).reshape(-1, 1, 1, 1)
            x = xp.where(flip, x[:, ::-1], x)
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _AffineLayer(_RandomImageLayer):
    """Random affine warps on the host (``_affine.warp_affine``)."""

    def __init__(self, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(seed, data_format, **kwargs)
        cls = type(self).__name__
        self.fill_mode = check_choice(cls, "fill_mode", fill_mode, FILL_MODES)
        self.interpolation = check_choice(cls, "interpolation", interpolation,
                                          ("bilinear", "nearest"))
        self.fill_value = float(fill_value)

    def _augment(self, b, x):
        images = host(x)
        n, h, w = images.shape[:3]
        m = self._matrices(n, h, w)
        out = warp_affine(images, m, self.fill_mode, self.fill_value,
                          1 if self.interpolation == "bilinear" else 0)
        return b.asarray(out)

    def _matrices(self, n: int, h: int, w: int) -> np.ndarray:
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


@register("layer")
class RandomTranslation(_AffineLayer):
    """Shifts each image by a random fraction of its height and width.

    Args:
        height_factor: float ``f`` (shift in ``[-f, f]`` of the height) or ``(lower,
            upper)``, in ``[-1, 1]``; positive values shift the content down.
        width_factor: the same for the width; positive values shift the content right.
        fill_mode: ``"reflect"`` (default), ``"wrap"``, ``"constant"`` or ``"nearest"``.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        seed: optional int seed.
        fill_value: value outside the image with ``fill_mode="constant"``.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same.
    """

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._h = factor_range("RandomTranslation", "height_factor", height_factor)
        self._w = factor_range("RandomTranslation", "width_factor", width_factor)
        self.height_factor, self.width_factor = _plain(height_factor), _plain(width_factor)

    def _matrices(self, n, h, w):
        dy = self._stream.uniform(*self._h, n) * h
        dx = self._stream.uniform(*self._w, n) * w
        return transform_matrices(tx=-dx, ty=-dy, height=h, width=w)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


@register("layer")
class RandomRotation(_AffineLayer):
    """Rotates each image by a random angle about its centre.

    Args:
        factor: float ``f`` or ``(lower, upper)``, as a fraction of a full turn: the angle is
            drawn in ``[lower * 2pi, upper * 2pi]``; positive angles turn counter-clockwise.
        fill_mode, interpolation, seed, fill_value: as in ``RandomTranslation``.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same.
    """

    def __init__(self, factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._f = factor_range("RandomRotation", "factor", factor, None, None)
        self.factor = _plain(factor)

    def _matrices(self, n, h, w):
        theta = self._stream.uniform(*self._f, n) * 360.0
        return transform_matrices(theta=theta, height=h, width=w)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@register("layer")
class RandomZoom(_AffineLayer):
    """Zooms each image in or out by a random factor about its centre.

    Args:
        height_factor: float ``f`` or ``(lower, upper)``; the vertical zoom is ``1 + u`` with
            ``u`` drawn in that range: positive values zoom **out**, negative values zoom in.
        width_factor: the same for the width; ``None`` (default) reuses the vertical zoom,
            keeping the aspect ratio.
        fill_mode, interpolation, seed, fill_value: as in ``RandomTranslation``.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same.
    """

    def __init__(self, height_factor: Any, width_factor: Any = None,
                 fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._h = factor_range("RandomZoom", "height_factor", height_factor, -1.0, None)
        self._w = None if width_factor is None else factor_range(
            "RandomZoom", "width_factor", width_factor, -1.0, None)
        self.height_factor, self.width_factor = _plain(height_factor), _plain(width_factor)

    def _matrices(self, n, h, w):
        zy = 1.0 + self._stream.uniform(*self._h, n)
        zx = zy if self._w is None else 1.0 + self._stream.uniform(*self._w, n)
        return transform_matrices(zx=zx, zy=zy, height=h, width=w)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class _ValueRangeLayer(_RandomImageLayer):
    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(seed, **kwargs)
        cls = type(self).__name__
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 \
                or value_range[0] >= value_range[1]:
            raise ValueError(f"{cls}: `value_range` must be a pair (low, high) with low < "
                             f"high. Received: value_range={value_range!r}")
        self.value_range = [float(value_range[0]), float(value_range[1])]
        self.factor = _plain(factor)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


@register("layer")
class RandomContrast(_ValueRangeLayer):
    """Scales each image's contrast by a random factor, per channel about its mean.

    ``out = clip((x - mean) * c + mean, *value_range)`` with ``mean`` the channel mean over
    the image and ``c`` drawn in ``[1 - lower, 1 + upper]``.

    Args:
        factor: ``(lower, upper)`` (sorted; ``c`` in ``[1 - lower, 1 + upper]``) or a float
            ``f``, each in ``[0, 1]``. A float gives ``(0, f)``: ``c`` in ``[1, 1 + f]``, as
            Keras 3.15 draws it (its code clips the lower bound ``-f`` at 0, although its
            docstring speaks of ``[1 - f, 1 + f]``; Keras 2 drew there).
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        seed: optional int seed.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same.
    """

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(factor, value_range, seed, **kwargs)
        bad = ValueError("The `factor` argument should be a number (or a list of two numbers) "
                         f"in the range [0, 1]. Received: factor={factor}")
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or factor[0] > 1 or factor[1] < 0:
                raise bad
            lo, hi = sorted(factor)
        elif isinstance(factor, numbers.Real) and not isinstance(factor, bool):
            if not 0 <= factor <= 1:
                raise bad
            lo, hi = max(-factor, 0), factor  # Keras's (lower, upper), as its config shows
        else:
            raise bad
        self.factor = (lo, hi)
        self._range = (1.0 - lo, 1.0 + hi)

    def _augment(self, b, x):
        c = self._per_image(b, self._stream.uniform(*self._range, x.shape[0]))
        mean = x.mean(axis=(1, 2), keepdims=True)
        return b.xp.clip((x - mean) * c + mean, *self.value_range).astype(self.dtype)


@register("layer")
class RandomBrightness(_ValueRangeLayer):
    """Adds a random brightness offset to each image: ``clip(x + d * (high - low), low,
    high)`` with ``d`` drawn in the factor range.

    Args:
        factor: float ``f`` (``d`` in ``[-f, f]``) or ``(lower, upper)``, within ``[-1, 1]``.
        value_range: ``(low, high)`` range of the pixel values (default ``(0, 255)``).
        seed: optional int seed.

    Input shape:
        ``(batch, h, w, c)`` or ``(h, w, c)``. Output shape: the same.
    """

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(factor, value_range, seed, **kwargs)
        self._range = factor_range("RandomBrightness", "factor", factor)

    def _augment(self, b, x):
        span = self.value_range[1] - self.value_range[0]
        d = self._per_image(b, self._stream.uniform(*self._range, x.shape[0]) * span)
        return b.xp.clip(x + d, *self.value_range).astype(self.dtype)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v
