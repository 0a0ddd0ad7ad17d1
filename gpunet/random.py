"""``gpunet.random``: Keras 3's ``keras.random`` on the backend's generators.

``seed`` works as in Keras 3:

* an int: the draw is a pure function of the seed (the same call gives the same numbers);
* a ``SeedGenerator``: each call advances the generator's counter, so successive calls
  differ and the sequence is reproducible from the generator's seed;
* ``None``: the backend's global generator (reseeded by ``gpunet.utils.set_random_seed``).

Numbers are drawn on the device of the default backend (NumPy's ``Generator`` on the CPU,
CuPy's ``RandomState`` on a GPU), so a GPU draw makes no host copy; for the same seed the
two devices give different streams, as Keras's backends do.

Example:

>>> gen = gpunet.random.SeedGenerator(42)
>>> a = gpunet.random.normal((2, 3), seed=gen)
>>> b = gpunet.random.uniform((2, 3), seed=1337)   # the same every time
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.backend import floatx, get_backend
from gpunet.backend.random import host_rng
from gpunet.ops._utils import as_tensor

__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal",
           "randint", "shuffle", "truncated_normal", "uniform"]


class SeedGenerator:
    """A seeded random stream: every draw that uses it advances its counter.

    Args:
        seed: the initial seed (an int); ``None`` draws one from gpunet's host generator
            (so ``set_random_seed`` makes it reproducible).
        name: an optional name.

    Example:

    >>> gen = SeedGenerator(1)
    >>> x = gpunet.random.uniform((3,), seed=gen)
    >>> y = gpunet.random.uniform((3,), seed=gen)   # differs from x
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        if seed is not None and (not isinstance(seed, (int, np.integer)) or
                                 isinstance(seed, bool)):
            raise ValueError(f"SeedGenerator: `seed` must be an int or None. Received: "
                             f"seed={seed!r}")
        self._initial_seed = int(host_rng().integers(0, 2**31 - 1)) if seed is None else int(seed)
        self.name = name or "seed_generator"
        self.counter = 0

    @property
    def state(self) -> Tensor:
        """``[seed, counter]`` as an int64 Tensor (Keras keeps a state variable)."""
        return Tensor(np.array([self._initial_seed, self.counter], "int64"))

    def next(self, ordered: bool = True) -> tuple:
        """Returns the key of the next draw and advances the counter."""
        key = (self._initial_seed, self.counter)
        self.counter += 1
        return key

    def get_config(self) -> dict:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> SeedGenerator:
        return cls(**config)


def _generator(seed: Any):
    """A generator for one draw on the default backend, following Keras's seed rules."""
    b = get_backend()
    if seed is None:
        return b, b.generator()
    if isinstance(seed, SeedGenerator):
        key = seed.next()
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        key = (int(seed),)
    else:
        raise ValueError("`seed` must be an int, a gpunet.random.SeedGenerator or None. "
                         f"Received: seed={seed!r}")
    return b, b.generator(key)


def _shape(shape: Any) -> tuple:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _dtype(dtype: Any) -> str:
    return np.dtype(dtype or floatx()).name


def _on(b, fn):
    with b.activate():  # arrays made by fn land on b's device
        return fn()


def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None,
            seed: Any = None) -> Tensor:
    """Uniform samples in ``[minval, maxval)`` (``floatx()`` unless ``dtype``)."""
    b, g = _generator(seed)
    dt = _dtype(dtype)
    if np.dtype(dt).kind != "f":
        raise ValueError(f"uniform: `dtype` must be a float type; use randint for integers. "
                         f"Received: dtype={dtype!r}")
    u = g.uniform(_shape(shape))
    return Tensor((u * (maxval - minval) + minval).astype(dt))


def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
           seed: Any = None) -> Tensor:
    """Normal samples with ``mean`` and ``stddev``."""
    b, g = _generator(seed)
    z = g.normal(_shape(shape))
    return Tensor((z * stddev + mean).astype(_dtype(dtype)))


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
                     seed: Any = None) -> Tensor:
    """Normal samples redrawn until within two standard deviations of the mean (Keras's
    truncation)."""
    b, g = _generator(seed)

    def draw():
        z = g.normal(_shape(shape))
        bad = b.xp.abs(z) > 2
        while bool(bad.any()):
            z[bad] = g.normal(int(bad.sum()))
            bad = b.xp.abs(z) > 2
        return z

    return Tensor((_on(b, draw) * stddev + mean).astype(_dtype(dtype)))


def randint(shape: Any, minval: int, maxval: int, dtype: str = "int32",
            seed: Any = None) -> Tensor:
    """Integers uniform in ``[minval, maxval)``."""
    b, g = _generator(seed)
    return Tensor(g.integers(int(minval), int(maxval), _shape(shape)).astype(dtype))


def categorical(logits: Any, num_samples: int, dtype: str = "int32", seed: Any = None) -> Tensor:
    """Class ids drawn from the rows of ``logits`` (``(batch, classes)`` unnormalised
    log-probabilities); returns ``(batch, num_samples)``."""
    lg = as_tensor(logits)
    if lg.ndim != 2:
        raise ValueError(f"categorical: `logits` must be 2-D (batch, classes). Received shape "
                         f"{tuple(lg.shape)}.")
    u = uniform((lg.shape[0], int(num_samples), lg.shape[1]), 1e-20, 1.0, "float64", seed)
    xp = u.backend.xp
    gumbel = -xp.log(-xp.log(u.data))
    return Tensor(xp.argmax(lg.data[:, None, :] + gumbel, axis=-1).astype(dtype))


def gamma(shape: Any, alpha: float, dtype: Any = None, seed: Any = None) -> Tensor:
    """Gamma samples with shape ``alpha`` and scale 1."""
    b, g = _generator(seed)
    return Tensor(g.gamma(alpha, _shape(shape)).astype(_dtype(dtype)))


def binomial(shape: Any, counts: Any, probabilities: Any, dtype: Any = None,
             seed: Any = None) -> Tensor:
    """Binomial samples: successes in ``counts`` trials of probability ``probabilities``."""
    b, g = _generator(seed)
    n, p = ops.convert_to_numpy(counts), ops.convert_to_numpy(probabilities)
    out = g.binomial(b.asarray(n).astype("int64"), b.asarray(p), _shape(shape))
    return Tensor(out.astype(_dtype(dtype)))


def beta(shape: Any, alpha: Any, beta: Any, dtype: Any = None, seed: Any = None) -> Tensor:
    """Beta samples with parameters ``alpha`` and ``beta``."""
    b, g = _generator(seed)
    a_, b_ = ops.convert_to_numpy(alpha), ops.convert_to_numpy(beta)
    out = g.beta(b.asarray(a_), b.asarray(b_), _shape(shape))
    return Tensor(out.astype(_dtype(dtype)))


class _Draw:
    """A one-shot stream for ``ops.dropout``: the uniform mask source of one call."""

    def __init__(self, seed: Any) -> None:
        self.seed = seed

    def uniform(self, b, shape, dtype):
        with_default = b is get_backend()
        if not with_default:
            from gpunet.backend import device

            with device(b):
                return uniform(shape, dtype=np.dtype(dtype).name, seed=self.seed).data
        return uniform(shape, dtype=np.dtype(dtype).name, seed=self.seed).data


def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> Tensor:
    """Zeroes each element with probability ``rate`` and scales the rest by
    ``1 / (1 - rate)`` (differentiable in ``inputs``)."""
    if not 0 <= rate <= 1:
        raise ValueError(f"dropout: `rate` must be in [0, 1]. Received: rate={rate}")
    x = as_tensor(inputs)
    ns = None if noise_shape is None else tuple(x.shape[i] if s is None else int(s)
                                                for i, s in enumerate(noise_shape))
    return ops.dropout(x, rate, ns, _Draw(seed))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> Tensor:
    """``x`` with its slices along ``axis`` in a random order (differentiable in ``x``)."""
    x = as_tensor(x)
    n = x.shape[axis]
    b, g = _generator(seed)
    perm = g.permutation(n)
    return ops.take(x, Tensor(perm), axis=axis)
