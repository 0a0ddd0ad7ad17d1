"""Keras activations by name: ``get("relu")``, ``serialize(fn)``, and the functions themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpunet import ops
from gpunet.extra_activations import (
    celu,
    glu,
    hard_shrink,
    hard_tanh,
    log_sigmoid,
    soft_shrink,
    sparse_plus,
    sparse_sigmoid,
    sparsemax,
    squareplus,
    tanh_shrink,
    threshold,
)
from gpunet.registry import lookup, register

_KIND = "activation"


def _reg(fn: Callable, *names: str) -> Callable:
    register(_KIND, *names)(fn)
    return fn


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """``max(x, 0)``, with Keras's optional ``negative_slope``, ``max_value`` and ``threshold``."""
    return ops.relu(x, negative_slope, max_value, threshold)


def sigmoid(x):
    """``1 / (1 + exp(-x))``."""
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over ``axis``."""
    return ops.softmax(x, axis)


def log_softmax(x, axis=-1):
    """``log(softmax(x))`` computed stably."""
    return ops.log_softmax(x, axis)


def softplus(x):
    """``log(1 + exp(x))`` computed stably."""
    return ops.softplus(x)


def softsign(x):
    """``x / (1 + |x|)``."""
    return ops.softsign(x)


def selu(x):
    """Scaled exponential linear unit."""
    return ops.selu(x)


def elu(x, alpha=1.0):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return ops.elu(x, alpha)


def exponential(x):
    """``exp(x)``."""
    return ops.exponential(x)


def hard_sigmoid(x):
    """Keras 3's ``relu6(x + 3) / 6`` = ``clip(x / 6 + 0.5, 0, 1)``."""
    return ops.hard_sigmoid(x)


def linear(x):
    """The identity."""
    return ops.linear(x)


def silu(x):
    """``x * sigmoid(x)`` (also known as swish)."""
    return ops.silu(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit (exact erf form unless ``approximate``)."""
    return ops.gelu(x, approximate)


def leaky_relu(x, negative_slope=0.2):
    """``x`` if ``x >= 0`` else ``negative_slope * x``."""
    return ops.leaky_relu(x, negative_slope)


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return ops.relu6(x)


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also known as hard_swish)."""
    return ops.hard_silu(x)


def mish(x):
    """``x * tanh(softplus(x))``."""
    return ops.mish(x)


for _f, _alias in [(relu, ()), (sigmoid, ()), (tanh, ()), (softmax, ()), (log_softmax, ()),
                   (softplus, ()), (softsign, ()), (selu, ()), (elu, ()), (exponential, ()),
                   (hard_sigmoid, ()), (linear, ()), (silu, ("swish",)), (gelu, ()),
                   (leaky_relu, ()), (relu6, ()), (hard_silu, ("hard_swish",)), (mish, ()),
                   (celu, ()), (glu, ()), (hard_tanh, ()), (hard_shrink, ()), (soft_shrink, ()),
                   (tanh_shrink, ()), (squareplus, ()), (sparse_plus, ()), (sparse_sigmoid, ()),
                   (sparsemax, ()), (threshold, ()), (log_sigmoid, ())]:
    _reg(_f, *_alias)
swish = silu
hard_swish = hard_silu


def get(identifier: Any) -> Callable:
    """Returns the activation function for a name, a config dict, a callable or ``None``.

    Raises:
        ValueError: for an unknown name, with the closest known names.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return lookup(_KIND, identifier)
    if isinstance(identifier, dict):
        fn = lookup(_KIND, identifier.get("class_name", ""))
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(
        f"Could not interpret activation identifier: {identifier!r} "
        "(expected a string, a callable or None)."
    )


def serialize(fn: Callable) -> str | dict:
    """The name under which ``fn`` is saved (``"relu"``), or its config for a callable object."""
    if hasattr(fn, "get_config"):
        return {"class_name": type(fn).__name__, "config": fn.get_config()}
    return fn.__name__
