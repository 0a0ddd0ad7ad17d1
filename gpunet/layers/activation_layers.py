"""Advanced activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax, ThresholdedReLU.

They reuse the differentiable activations of ``gpunet.ops`` (one node each); PReLU's learned
slope goes through ``ops.where``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from gpunet import constraints, initializers, ops, regularizers
from gpunet.autograd.tensor import Tensor
from gpunet.layers.layer import Layer, shape_str
from gpunet.registry import register


def _real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


class _Elementwise(Layer):
    supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@register("layer")
class ReLU(_Elementwise):
    """Rectified linear unit with optional cap, slope and threshold.

    ``f(x) = max_value`` for ``x >= max_value``, ``x`` for ``threshold < x < max_value``,
    ``negative_slope * (x - threshold)`` otherwise.

    Args:
        max_value: the cap (``None``: none); must be >= 0.
        negative_slope: slope below the threshold (>= 0, default 0).
        threshold: the threshold (>= 0, default 0).

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> ReLU(max_value=6.0)(np.array([[-1.0, 3.0, 9.0]], "float32")).numpy()
    array([[0., 3., 6.]], dtype=float32)
    """

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_value is not None and (not _real(max_value) or max_value < 0):
            raise ValueError("max_value of a ReLU layer cannot be a negative value. "
                             f"Received: max_value={max_value!r}")
        if not _real(negative_slope) or negative_slope < 0:
            raise ValueError("negative_slope of a ReLU layer cannot be a negative value. "
                             f"Received: negative_slope={negative_slope!r}")
        if not _real(threshold) or threshold < 0:
            raise ValueError("threshold of a ReLU layer cannot be a negative value. "
                             f"Received: threshold={threshold!r}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, inputs, training=None):
        return ops.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


@register("layer")
class LeakyReLU(_Elementwise):
    """Leaky ReLU: ``x`` for ``x >= 0``, ``negative_slope * x`` otherwise.

    Args:
        negative_slope: slope for negative inputs (>= 0, default 0.3). The Keras 2 name
            ``alpha`` is accepted too.

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> LeakyReLU(negative_slope=0.1)(np.array([[-2.0, 3.0]], "float32")).numpy()
    array([[-0.2,  3. ]], dtype=float32)
    """

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:  # Keras 2 spelling
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if not _real(negative_slope) or negative_slope < 0:
            raise ValueError("The negative_slope value of a LeakyReLU layer cannot be None or "
                             f"negative. Expected a float >= 0. Received: "
                             f"negative_slope={negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs, training=None):
        return ops.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register("layer")
class PReLU(_Elementwise):
    """Parametric ReLU: ``x`` for ``x > 0``, ``alpha * x`` otherwise, with a learned ``alpha``.

    Args:
        alpha_initializer: initializer of ``alpha`` (default ``"zeros"``).
        alpha_regularizer: optional penalty on ``alpha``.
        alpha_constraint: optional constraint on ``alpha``.
        shared_axes: axes (1-indexed, batch excluded) along which ``alpha`` is shared, e.g.
            ``[1, 2]`` for one slope per channel of ``(batch, height, width, channels)``.

    Input shape:
        Arbitrary. Output shape: same as the input.

    Weights:
        ``alpha``, shaped like the input without the batch axis, with 1 on ``shared_axes``.

    Example:

    >>> PReLU(shared_axes=[1, 2])     # after a Conv2D: one slope per channel
    """

    def __init__(self, alpha_initializer: Any = "zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: int | Sequence[int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        if shared_axes is not None and not all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) and a >= 1
                for a in shared_axes):
            raise ValueError("PReLU: expected `shared_axes` to hold axis indices >= 1 (the "
                             f"batch axis is 0). Received: shared_axes={shared_axes!r}")
        self.shared_axes = None if shared_axes is None else [int(a) for a in shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if a > len(shape):
                raise ValueError(f"Layer '{self.name}': shared axis {a} is out of range for "
                                 f"input shape {shape_str(tuple(input_shape))}.")
            shape[a - 1] = 1
        if any(s is None for s in shape):
            raise ValueError(f"Layer '{self.name}': every non-shared axis of the input must have "
                             f"a known size. Received input shape {shape_str(tuple(input_shape))}"
                             f" with shared_axes={self.shared_axes}.")
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        self.built = True

    def _check_input(self, x):
        want = self.alpha.shape
        got = tuple(x.shape[1:])
        if len(got) != len(want) or any(w != 1 and w != g for w, g in zip(want, got)):
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected input shape compatible with alpha of shape "
                             f"{shape_str((None,) + tuple(want))}, but received input with "
                             f"shape {shape_str((None,) + got)}")

    def call(self, inputs, training=None):
        cond = inputs.data > 0
        return ops.where(cond, inputs, ops.multiply(inputs, self.alpha))

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}


@register("layer")
class ELU(_Elementwise):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: scale of the negative part (default 1.0).

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> ELU(alpha=0.5)(x)
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not _real(alpha):
            raise ValueError(f"ELU: expected `alpha` to be a float. Received: alpha={alpha!r}")
        self.alpha = float(alpha)

    def call(self, inputs, training=None):
        return ops.elu(inputs, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register("layer")
class Softmax(_Elementwise):
    """Softmax over ``axis``, optionally ignoring masked positions.

    Args:
        axis: the axis (or tuple of axes) the softmax normalizes over (default ``-1``).

    Call arguments:
        mask: optional boolean array broadcastable to the input (trailing axes are added as
            needed), True where the entry takes part. Masked entries get a large negative
            logit (-1e9) and an output of exactly 0.

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> Softmax()(np.array([[1.0, 2.0, 1.0]], "float32"), mask=np.array([[1, 1, 0]], bool))
    """

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        ok = isinstance(axis, numbers.Integral) and not isinstance(axis, bool)
        if isinstance(axis, (list, tuple)) and axis:
            ok = all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis)
            axis = [int(a) for a in axis] if ok else axis
        if not ok:
            raise TypeError("Softmax: expected `axis` to be an int or a list of ints. "
                            f"Received: axis={axis!r}")
        self.axis = axis if isinstance(axis, list) else int(axis)

    def call(self, inputs, training=None, mask=None):
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        if mask is None:
            return ops.softmax(inputs, axis)
        b = inputs.backend
        m = b.asarray(mask.data if isinstance(mask, Tensor) else mask)
        m = m.reshape(m.shape + (1,) * (inputs.ndim - m.ndim)).astype(inputs.dtype)
        big = -3e4 if inputs.dtype == "float16" else -1e9
        y = ops.softmax(ops.add(inputs, (1.0 - m) * big), axis)
        return ops.multiply(y, m)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register("layer")
class ThresholdedReLU(_Elementwise):
    """Thresholded ReLU (Keras 2): ``x`` for ``x > theta``, 0 otherwise.

    Args:
        theta: the threshold (>= 0, default 1.0).

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> ThresholdedReLU(theta=1.0)(np.array([[0.5, 2.0]], "float32")).numpy()
    array([[0., 2.]], dtype=float32)
    """

    def __init__(self, theta: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not _real(theta) or theta < 0:
            raise ValueError("theta of a ThresholdedReLU layer cannot be None or a negative "
                             f"value. Received: theta={theta!r}")
        self.theta = float(theta)

    def call(self, inputs, training=None):
        return ops.relu(inputs, threshold=self.theta)

    def get_config(self):
        return {**super().get_config(), "theta": self.theta}
