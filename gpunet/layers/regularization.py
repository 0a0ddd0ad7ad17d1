"""Noise and regularization layers: GaussianNoise, GaussianDropout, AlphaDropout,
SpatialDropout1D/2D/3D, ActivityRegularization.

Every noise layer is the identity at inference and draws its noise in training from the
backend's device generator (as ``Dropout`` does), so ``gpunet.utils.set_random_seed`` makes
the draws repeatable on either device. Noise is a constant of the graph: the gradient flows
through the add / multiply ops that apply it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from gpunet import ops, regularizers
from gpunet.backend import image_data_format
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.layer import Layer
from gpunet.registry import register

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_rate(cls: str, rate: Any) -> float:
    if not isinstance(rate, numbers.Real) or isinstance(rate, bool) or not 0 <= rate <= 1:
        raise ValueError(f"{cls}: invalid value received for argument `rate`. Expected a float "
                         f"value between 0 and 1. Received: rate={rate!r}")
    return float(rate)


def random_normal(backend: Any, shape: tuple, dtype: Any) -> Any:
    """Standard normal samples on ``backend``'s device, from its uniform generator
    (Box-Muller; ``1 - u`` keeps the logarithm finite)."""
    xp = backend.xp
    u1 = backend.random_uniform(shape, dtype)
    u2 = backend.random_uniform(shape, dtype)
    z = xp.sqrt(-2.0 * xp.log1p(-u1))
    z *= xp.cos((2.0 * math.pi) * u2)
    return z


class _Noise(Layer):
    """Shared pieces: masking support, identity output shape, ``seed`` in the config."""

    supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@register("layer")
class GaussianNoise(_Noise):
    """Adds zero-centred Gaussian noise of standard deviation ``stddev`` in training.

    Args:
        stddev: standard deviation of the noise (>= 0).
        seed: optional int seed (the backend generator is used; see
            ``gpunet.utils.set_random_seed``).

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> GaussianNoise(0.1)(x, training=True)   # x + N(0, 0.1**2); x itself at inference
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(stddev, numbers.Real) or isinstance(stddev, bool) or not stddev >= 0:
            raise ValueError("GaussianNoise: invalid value received for argument `stddev`. "
                             f"Expected a float >= 0. Received: stddev={stddev!r}")
        self.stddev, self.seed = float(stddev), seed

    def call(self, inputs, training=None):
        if not training or self.stddev == 0:
            return inputs
        noise = random_normal(inputs.backend, inputs.shape, inputs.dtype)
        noise *= self.stddev
        return ops.add(inputs, noise)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@register("layer")
class GaussianDropout(_Noise):
    """Multiplies the input by Gaussian noise of mean 1 and variance ``rate / (1 - rate)``
    in training.

    Args:
        rate: drop probability of the equivalent Dropout, in ``[0, 1)``.
        seed: optional int seed.

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> GaussianDropout(0.2)(x, training=True)
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.seed = _check_rate("GaussianDropout", rate), seed
        if self.rate == 1:
            raise ValueError("GaussianDropout: `rate` must be below 1 (the noise variance "
                             "rate / (1 - rate) would be infinite). Received: rate=1.0")

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        noise = random_normal(inputs.backend, inputs.shape, inputs.dtype)
        noise *= math.sqrt(self.rate / (1.0 - self.rate))
        noise += 1.0
        return ops.multiply(inputs, noise)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@register("layer")
class AlphaDropout(_Noise):
    """Dropout that keeps the mean and variance of SELU activations.

    Dropped units are set to SELU's negative saturation ``-alpha * scale``, then an affine map
    ``a * x + b`` restores zero mean and unit variance for standardized inputs:
    ``a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5``, ``b = -a * alpha_p * rate``.

    Args:
        rate: drop probability, in ``[0, 1]`` (0 and 1 leave the input unchanged, as in
            Keras 2).
        noise_shape: shape of the keep-mask (``None`` entries take the input's size).
        seed: optional int seed.

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> model.add(Dense(64, activation="selu", kernel_initializer="lecun_normal"))
    >>> model.add(AlphaDropout(0.1))
    """

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.seed = _check_rate("AlphaDropout", rate), seed
        self.noise_shape = None if noise_shape is None else list(noise_shape)

    def call(self, inputs, training=None):
        if not training or not 0 < self.rate < 1:
            return inputs
        b = inputs.backend
        shape = inputs.shape if self.noise_shape is None else tuple(
            inputs.shape[i] if s is None else s for i, s in enumerate(self.noise_shape))
        keep = (b.random_uniform(shape, inputs.dtype) >= self.rate).astype(inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        shift = a * alpha_p * (1.0 - keep) - a * alpha_p * self.rate
        keep *= a
        return ops.add(ops.multiply(inputs, keep), shift)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class _SpatialDropout(_Noise):
    """Drops whole feature maps: one keep/drop draw per sample and channel."""

    rank = 1

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.rate, self.seed = _check_rate(cls, rate), seed
        data_format = data_format or image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{cls}: the `data_format` argument must be one of "
                             "'channels_first', 'channels_last'. "
                             f"Received: data_format={data_format!r}")
        self.data_format = data_format
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        n = inputs.shape[0]
        ones = (1,) * self.rank
        if self.data_format == "channels_first":
            noise_shape = (n, inputs.shape[1]) + ones
        else:
            noise_shape = (n,) + ones + (inputs.shape[-1],)
        return ops.dropout(inputs, self.rate, noise_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "data_format": self.data_format}


@register("layer")
class SpatialDropout1D(_SpatialDropout):
    """Dropout of entire 1-D feature maps (channels) instead of single elements.

    Args:
        rate: fraction of channels to drop, in ``[0, 1]``.
        seed: optional int seed.

    Input shape:
        ``(batch, steps, channels)``. Output shape: same as the input.

    Example:

    >>> SpatialDropout1D(0.2)(np.ones((4, 10, 8), "float32"), training=True).shape
    (4, 10, 8)
    """

    rank = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        kwargs.pop("data_format", None)
        super().__init__(rate, "channels_last", seed, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("data_format")
        return cfg


@register("layer")
class SpatialDropout2D(_SpatialDropout):
    """Dropout of entire 2-D feature maps (channels) instead of single elements.

    Args:
        rate: fraction of channels to drop, in ``[0, 1]``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed.

    Input shape:
        ``(batch, rows, cols, channels)`` (channels_last) or ``(batch, channels, rows,
        cols)``. Output shape: same as the input.

    Example:

    >>> SpatialDropout2D(0.2)(np.ones((4, 5, 5, 8), "float32"), training=True).shape
    (4, 5, 5, 8)
    """

    rank = 2


@register("layer")
class SpatialDropout3D(_SpatialDropout):
    """Dropout of entire 3-D feature maps (channels) instead of single elements.

    Args:
        rate: fraction of channels to drop, in ``[0, 1]``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int seed.

    Input shape:
        ``(batch, d1, d2, d3, channels)`` or channels first. Output shape: same as the input.

    Example:

    >>> SpatialDropout3D(0.2)(np.ones((2, 3, 3, 3, 4), "float32"), training=True).shape
    (2, 3, 3, 3, 4)
    """

    rank = 3


@register("layer")
class ActivityRegularization(Layer):
    """Identity layer that adds an L1/L2 penalty on its output to the training loss.

    The penalty ``l1 * sum(|y|) + l2 * sum(y**2)`` is divided by the batch size, as for any
    ``activity_regularizer`` in gpunet (Keras 2's rule).

    Args:
        l1: L1 factor (default 0).
        l2: L2 factor (default 0).

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> model.add(ActivityRegularization(l1=1e-4))
    """

    supports_masking = True

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any) -> None:
        kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.l1, self.l2 = self.activity_regularizer.l1, self.activity_regularizer.l2

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
