"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
UnitNormalization. Each normalization is one fused node from ``gpunet.ops.normalization_ops``."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from gpunet import constraints, initializers, ops, regularizers
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.layer import Layer, shape_str
from gpunet.ops import normalization_ops as norm
from gpunet.registry import register

# Keras 2 BatchNormalization config keys that carry no meaning here (accepted when loading).
_K2_BN_KEYS = ("fused", "renorm_clipping", "renorm_momentum", "adjustment")


def _check_axis(layer: str, axis: Any) -> int | list[int]:
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
        return [int(a) for a in axis]
    raise TypeError(f"{layer}: expected `axis` to be an int or a non-empty list/tuple of ints. "
                    f"Received: axis={axis!r}")


def _resolve_axes(layer: Layer, axis: int | list[int], input_shape: tuple,
                  known: bool = True) -> tuple:
    """Non-negative, sorted, checked axes (with known sizes when ``known``)."""
    ndim = len(input_shape)
    axes = [axis] if isinstance(axis, int) else list(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"Layer '{layer.name}': axis {a} is out of range for an input of "
                             f"rank {ndim}. Received input shape {shape_str(input_shape)}.")
    out = sorted(a % ndim for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"Layer '{layer.name}': duplicate axis in axis={axis!r} for an input "
                         f"of rank {ndim}.")
    for a in out:
        if known and input_shape[a] is None:
            raise ValueError(f"Layer '{layer.name}': axis {a} of the input should have a defined "
                             f"dimension, but the layer received an input with shape "
                             f"{shape_str(input_shape)}.")
    return tuple(out)


def _input_spec(layer: Layer) -> InputSpec:
    """The rank and the normalised axes' sizes the layer was built for."""
    return InputSpec(ndim=layer._ndim, axes=dict(zip(layer._axes, layer._param_shape)))


class _AffineNorm(Layer):
    """Shared argument handling of the layers with a ``gamma`` scale and a ``beta`` offset."""

    supports_masking = True
    _float32_internal = True  # under a mixed policy: float32 inside, as Keras 3

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.axis = _check_axis(cls, axis)
        if not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"{cls}: expected `epsilon` to be a float > 0. "
                             f"Received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def _add_affine(self, shape: tuple, gamma: bool, beta: bool) -> None:
        if gamma:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if beta:
            self.beta = self.add_weight("beta", shape, self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def _float(self, inputs):
        """Integer inputs (e.g. raw ``uint8`` pixels) are computed in the layer's dtype."""
        return inputs if inputs.dtype.kind == "f" else ops.cast(inputs, self.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}


@register("layer")
class BatchNormalization(_AffineNorm):
    """Normalizes with the batch statistics in training and the moving ones at inference.

    In training (``training=True`` and ``layer.trainable``), the output is
    ``gamma * (x - mean_B) / sqrt(var_B + epsilon) + beta`` with the batch mean and biased
    variance over every axis but ``axis``, and the moving statistics are updated in place:
    ``moving = moving * momentum + batch * (1 - momentum)``. Otherwise (inference, or a
    frozen layer, as in Keras 3) the moving statistics replace the batch ones.

    Args:
        axis: the feature axis (``-1``; ``1`` for channels_first), or a list of axes (then
            the weights have the input's rank with 1 on the other axes, as in Keras 2).
        momentum: weight of the old value in the moving average (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center: whether to add the offset ``beta``.
        scale: whether to multiply by ``gamma``.
        beta_initializer, gamma_initializer: default ``"zeros"`` / ``"ones"``.
        moving_mean_initializer, moving_variance_initializer: default ``"zeros"`` / ``"ones"``.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: as in Dense.
        synchronized: accepted for Keras compatibility and ignored (one device per model).

    Input shape:
        Arbitrary. Output shape: same as the input.

    Weights:
        ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance``
        (non-trainable), each shaped like the ``axis`` dimensions.

    Example:

    >>> model = Sequential([Input((16,)), Dense(32), BatchNormalization(), Activation("relu")])
    """

    def __init__(self, axis: int | Sequence[int] = -1, momentum: float = 0.99,
                 epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False,
                 **kwargs: Any) -> None:
        for key in _K2_BN_KEYS:
            kwargs.pop(key, None)
        if kwargs.pop("renorm", False):
            raise ValueError("BatchNormalization: `renorm=True` (batch renormalization) is not "
                             "supported. Received: renorm=True")
        vbs = kwargs.pop("virtual_batch_size", None)
        if vbs is not None:
            raise ValueError("BatchNormalization: `virtual_batch_size` is not supported. "
                             f"Received: virtual_batch_size={vbs!r}")
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        if not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError("BatchNormalization: expected `momentum` to be a float in [0, 1]. "
                             f"Received: momentum={momentum!r}")
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.synchronized = bool(synchronized)

    def build(self, input_shape):
        self._axes = _resolve_axes(self, self.axis, input_shape)
        self._ndim = len(input_shape)
        self._param_shape = tuple(input_shape[a] for a in self._axes)
        self.input_spec = _input_spec(self)
        shape = self._param_shape
        if len(self._axes) > 1:  # Keras 2's layout for several axes: full rank, 1 elsewhere
            shape = tuple(s if i in self._axes else 1 for i, s in enumerate(input_shape))
        self._add_affine(shape, self.scale, self.center)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               self.moving_variance_initializer,
                                               trainable=False)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        inputs = self._float(inputs)
        if training and self.trainable:
            y, mean, var = norm.batch_normalization(
                inputs, self.gamma, self.beta, axis=self._axes, epsilon=self.epsilon,
                mask=mask)
            m = self.momentum
            for v, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
                data = v.data  # a view into the model's state buffer: update in place
                data *= m
                data += (1.0 - m) * batch.astype(data.dtype, copy=False).reshape(data.shape)
            return y
        y, _, _ = norm.batch_normalization(
            inputs, self.gamma, self.beta, axis=self._axes, epsilon=self.epsilon,
            mean=self.moving_mean.data, variance=self.moving_variance.data)
        return y

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"momentum": self.momentum,
                    "moving_mean_initializer": initializers.serialize(
                        self.moving_mean_initializer),
                    "moving_variance_initializer": initializers.serialize(
                        self.moving_variance_initializer),
                    "synchronized": self.synchronized})
        return cfg


@register("layer")
class LayerNormalization(_AffineNorm):
    """Normalizes each sample over ``axis``: ``gamma * (x - mean) / sqrt(var + eps) + beta``.

    Args:
        axis: the axis or axes to normalize over (default ``-1``); ``gamma`` and ``beta`` are
            shaped like these dimensions.
        epsilon: added to the variance (default 1e-3).
        center: whether to add ``beta``.
        scale: whether to multiply by ``gamma``.
        rms_scaling: divide by the root mean square ``sqrt(mean(x**2) + epsilon)`` instead
            (no centring; ``center`` and ``scale`` are ignored and only ``gamma`` is made).
        beta_initializer, gamma_initializer, regularizers and constraints: as in
            BatchNormalization.

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> LayerNormalization()(np.ones((2, 4), "float32")).shape
    (2, 4)
    """

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, rms_scaling: bool = False,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None,
                 beta_constraint: Any = None, gamma_constraint: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        self.rms_scaling = bool(rms_scaling)
        self.autocast = False  # Keras 3: inputs not cast to a mixed compute dtype first

    def build(self, input_shape):
        self._axes = _resolve_axes(self, self.axis, input_shape)
        self._ndim = len(input_shape)
        self._param_shape = tuple(input_shape[a] for a in self._axes)
        self.input_spec = _input_spec(self)
        self._add_affine(self._param_shape, self.scale or self.rms_scaling,
                         self.center and not self.rms_scaling)
        self.built = True

    def call(self, inputs, training=None):
        return norm.layer_normalization(self._float(inputs), self.gamma, self.beta,
                                        axis=self._axes, epsilon=self.epsilon,
                                        rms_scaling=self.rms_scaling)

    def get_config(self):
        return {**super().get_config(), "rms_scaling": self.rms_scaling}


@register("layer")
class GroupNormalization(_AffineNorm):
    """Splits the channels into ``groups`` and normalizes each group of each sample.

    Args:
        groups: number of groups (default 32); the channel count must be a multiple of it.
            ``-1`` makes one group per channel (instance normalization).
        axis: the channel axis (default ``-1``).
        epsilon, center, scale, initializers, regularizers, constraints: as in
            LayerNormalization; ``gamma`` and ``beta`` hold one value per channel.

    Input shape:
        Arbitrary, at least rank 2. Output shape: same as the input.

    Example:

    >>> GroupNormalization(groups=2)(np.ones((2, 5, 4), "float32")).shape
    (2, 5, 4)
    """

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        self.autocast = False  # Keras 3: inputs not cast to a mixed compute dtype first
        if not isinstance(self.axis, int):
            raise TypeError(f"GroupNormalization: expected `axis` to be an int. "
                            f"Received: axis={axis!r}")
        if not isinstance(groups, numbers.Integral) or groups == 0 or groups < -1:
            raise ValueError("GroupNormalization: expected `groups` to be a positive integer "
                             f"or -1. Received: groups={groups!r}")
        self.groups = int(groups)

    def build(self, input_shape):
        (a,) = _resolve_axes(self, self.axis, input_shape)
        if a == 0:
            raise ValueError(f"Layer '{self.name}': `axis` cannot be the batch axis. "
                             f"Received: axis={self.axis}")
        dim = input_shape[a]
        groups = dim if self.groups == -1 else self.groups
        if dim < groups:
            raise ValueError(f"Layer '{self.name}': number of groups ({groups}) cannot be more "
                             f"than the number of channels ({dim}).")
        if dim % groups:
            raise ValueError(f"Layer '{self.name}': the number of channels ({dim}) must be a "
                             f"multiple of the number of groups ({groups}).")
        self._axes, self._ndim, self._groups = (a,), len(input_shape), groups
        self._param_shape = (dim,)
        self.input_spec = _input_spec(self)
        self._add_affine((dim,), self.scale, self.center)
        self.built = True

    def call(self, inputs, training=None):
        return norm.group_normalization(self._float(inputs), self.gamma, self.beta,
                                        groups=self._groups, axis=self._axes[0],
                                        epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@register("layer")
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis``: ``x / sqrt(max(sum(x**2), 1e-12))``.

    Args:
        axis: the axis or axes the norm is taken over (default ``-1``).

    Input shape:
        Arbitrary. Output shape: same as the input.

    Example:

    >>> UnitNormalization()(np.array([[3.0, 4.0]], "float32")).numpy()
    array([[0.6, 0.8]], dtype=float32)
    """

    supports_masking = True

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _check_axis("UnitNormalization", axis)

    def build(self, input_shape):
        self._axes = _resolve_axes(self, self.axis, input_shape, known=False)
        self.built = True

    def call(self, inputs, training=None):
        if inputs.dtype.kind != "f":
            inputs = ops.cast(inputs, self.dtype)
        sq = ops.sum(ops.square(inputs), axis=self._axes, keepdims=True)
        return ops.divide(inputs, ops.sqrt(ops.maximum(sq, 1e-12)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
