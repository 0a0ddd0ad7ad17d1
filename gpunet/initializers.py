"""Keras weight initializers. Values are drawn on the host (NumPy) and then moved to the device.

With ``seed=None`` an initializer draws from the host generator that
``gpunet.utils.set_random_seed`` seeds (so layers differ, and runs are reproducible); with a
seed it returns the same values on every call, as in Keras 3.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpunet.backend import floatx
from gpunet.backend.random import host_rng
from gpunet.registry import deserialize, register, snake_case

_KIND = "initializer"


def compute_fans(shape: tuple, input_axes: Any = None,
                 output_axes: Any = None) -> tuple[float, float]:
    """Keras's ``(fan_in, fan_out)`` of a weight shape (conv: receptive field × channels);
    with both ``input_axes`` and ``output_axes`` (Keras 3.15), the products of those axes."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return (math.prod(shape[a] for a in input_axes),
                math.prod(shape[a] for a in output_axes))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    rf = math.prod(shape[:-2])
    return shape[-2] * rf, shape[-1] * rf


class Initializer:
    """Base class: ``init(shape, dtype=None)`` returns a host NumPy array."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def _rng(self) -> np.random.Generator:
        return host_rng() if self.seed is None else np.random.default_rng(self.seed)

    def __call__(self, shape: tuple, dtype: Any = None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)


def _reg(cls, *aliases):
    register(_KIND, snake_case(cls.__name__), *aliases)(cls)
    return cls


class Zeros(Initializer):
    """All zeros."""

    def __init__(self) -> None:
        super().__init__(None)

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype or floatx())

    def get_config(self):
        return {}


class Ones(Zeros):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype or floatx())


class Constant(Initializer):
    """Every value equal to ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        super().__init__(None)
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype or floatx())

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Normal draws with ``mean`` and ``stddev`` (default 0.05)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        v = self._rng().standard_normal(shape) * self.stddev + self.mean
        return v.astype(dtype or floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform draws in ``[minval, maxval)`` (default ±0.05)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, shape).astype(dtype or floatx())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated(rng: np.random.Generator, shape: tuple, stddev: float) -> np.ndarray:
    v = rng.standard_normal(shape)
    bad = np.abs(v) > 2
    while bad.any():
        v[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(v) > 2
    return v * stddev


class TruncatedNormal(RandomNormal):
    """Normal draws, re-drawn when more than two standard deviations from the mean."""

    def __call__(self, shape, dtype=None):
        v = _truncated(self._rng(), shape, self.stddev) + self.mean
        return v.astype(dtype or floatx())


class VarianceScaling(Initializer):
    """Scale ``scale / fan`` with ``mode`` fan_in/fan_out/fan_avg and a distribution.

    Args:
        scale: positive scaling factor.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"``, ``"untruncated_normal"`` or ``"uniform"``.
        seed: optional int seed.
        input_axes, output_axes: optional axes whose sizes multiply into the fans (Keras
            3.15; both or neither).
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None,
                 input_axes: Any = None, output_axes: Any = None) -> None:
        super().__init__(seed)
        self.input_axes = None if input_axes is None else [int(a) for a in input_axes]
        self.output_axes = None if output_axes is None else [int(a) for a in output_axes]
        if scale <= 0:
            raise ValueError(f"Argument `scale` must be positive. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode!r} "
                             "(expected 'fan_in', 'fan_out' or 'fan_avg').")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"Invalid `distribution` argument: {distribution!r}.")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        s = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            v = _truncated(rng, shape, math.sqrt(s) / 0.87962566103423978)
        elif self.distribution == "untruncated_normal":
            v = rng.standard_normal(shape) * math.sqrt(s)
        else:
            lim = math.sqrt(3.0 * s)
            v = rng.uniform(-lim, lim, shape)
        return v.astype(dtype or floatx())

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, **self._axes_config()}

    def _axes_config(self) -> dict:
        """The Keras 3.15 axes, written only when set (older Keras versions reject them)."""
        if self.input_axes is None and self.output_axes is None:
            return {}
        return {"input_axes": self.input_axes, "output_axes": self.output_axes}


def _vs(name: str, scale: float, mode: str, dist: str):
    def __init__(self, seed: int | None = None, input_axes: Any = None,
                 output_axes: Any = None) -> None:
        VarianceScaling.__init__(self, scale, mode, dist, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, **self._axes_config()}

    doc = f"Variance scaling with scale={scale}, mode={mode!r}, distribution={dist!r}."
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc})


GlorotUniform = _vs("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _vs("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _vs("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _vs("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _vs("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _vs("LecunUniform", 1.0, "fan_in", "uniform")


class Orthogonal(Initializer):
    """An orthogonal matrix of the flattened shape ``[prod(shape[:-1]), shape[-1]]`` × gain."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"The Orthogonal initializer needs a shape of rank >= 2. "
                             f"Received: shape={tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype or floatx())

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """The (possibly rectangular) identity matrix × ``gain``; 2-D shapes only."""

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__(None)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"The Identity initializer needs a 2-D shape. "
                             f"Received: shape={tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(dtype or floatx())

    def get_config(self):
        return {"gain": self.gain}


_reg(Zeros, "zeros", "zero")
_reg(Ones, "ones", "one")
_reg(Constant)
_reg(RandomNormal, "normal", "random_normal")
_reg(RandomUniform, "uniform", "random_uniform")
_reg(TruncatedNormal)
_reg(VarianceScaling)
_reg(GlorotUniform)
_reg(GlorotNormal)
_reg(HeNormal)
_reg(HeUniform)
_reg(LecunNormal)
_reg(LecunUniform)
_reg(Orthogonal, "orthogonal")
_reg(Identity, "identity")

zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_normal, he_uniform = HeNormal, HeUniform
lecun_normal, lecun_uniform, orthogonal, identity = LecunNormal, LecunUniform, Orthogonal, Identity
variance_scaling = VarianceScaling


def get(identifier: Any) -> Initializer:
    """Returns an initializer for a name (``"glorot_uniform"``), a config dict or an instance."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(_KIND, identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret initializer identifier: {identifier!r}")


def serialize(init: Any) -> dict | None:
    """``{"class_name": ..., "config": ...}`` for an initializer."""
    if init is None:
        return None
    return {"class_name": type(init).__name__, "config": init.get_config()}
