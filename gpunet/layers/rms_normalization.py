"""RMSNormalization: scales inputs by the inverse root mean square over an axis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpunet import ops
from gpunet.layers.layer import Layer, shape_str
from gpunet.registry import register


@register("layer")
class RMSNormalization(Layer):
    """Root Mean Square normalization (Zhang & Sennrich, 2019), as Keras 3.

    ``outputs = inputs * rsqrt(mean(square(inputs), axis) + epsilon) * scale``, computed in at
    least float32, with a learnable ``scale`` (initialized to ones) over the normalized axes.

    Args:
        axis: int or list of ints, the axis or axes to normalize over (default ``-1``).
        epsilon: small float added to the mean square (default ``1e-6``).
        **kwargs: base layer arguments (``name``, ``dtype``, ``trainable``).

    Input shape:
        Any; the normalized axes must have known sizes.

    Output shape:
        The same as the input.

    Returns:
        The normalized tensor.

    Example:

    >>> layer = RMSNormalization()
    >>> layer.build((5, 20, 30, 10))
    >>> layer.scale.shape
    (10,)
    """

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-6,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        ok = isinstance(axis, int) and not isinstance(axis, bool) or (
            isinstance(axis, (list, tuple)) and axis
            and all(isinstance(a, int) and not isinstance(a, bool) for a in axis))
        if not ok:
            raise TypeError(f"RMSNormalization: `axis` must be an int or a list of ints. "
                            f"Received: axis={axis!r}")
        self.axis = list(axis) if isinstance(axis, tuple) else axis
        self.epsilon = float(epsilon)

    def _check_axes(self, input_shape: tuple) -> None:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if a >= len(input_shape) or a < -len(input_shape):
                raise ValueError(f"Axis {a} is out of bounds for input shape "
                                 f"{shape_str(tuple(input_shape))}. Received: axis={self.axis}")

    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        self._check_axes(input_shape)
        if isinstance(self.axis, list):
            self.axis = sorted(self.axis)
            shape = tuple(input_shape[d] for d in self.axis)
        else:
            shape = (input_shape[self.axis],)
            self.axis = [self.axis]
        if any(s is None for s in shape):
            raise ValueError(f"Layer '{self.name}' (RMSNormalization) needs known sizes on "
                             f"axes {self.axis}; received input shape "
                             f"{shape_str(input_shape)}.")
        self.scale = self.add_weight("scale", shape, "ones")
        self.built = True

    def call(self, inputs: Any) -> Any:
        x = inputs
        axes = [a % x.ndim for a in self.axis]
        scale = self.scale
        if len(axes) > 1 or axes[0] != x.ndim - 1:  # broadcast the scale onto its axes
            full = [1] * x.ndim
            for a, s in zip(axes, self.scale.shape):
                full[a] = s
            scale = ops.reshape(self.scale, tuple(full))
        src = x.dtype
        if src not in ("float32", "float64"):
            x = ops.cast(x, "float32")
            scale = ops.cast(scale, "float32")
        y = ops.rms_normalization(x, scale=scale, axis=tuple(axes), epsilon=self.epsilon)
        return y if y.dtype == src else ops.cast(y, src)

    def compute_output_shape(self, input_shape: Any) -> Any:
        self._check_axes(tuple(input_shape))
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
