"""``SpectralNormalization``: a wrapper that divides a layer's kernel by its spectral norm
(Miyato et al., 2018), as Keras 3.15 builds it."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from gpunet import initializers, ops, registry
from gpunet.autograd.engine import no_grad
from gpunet.deserialization import deserialize_layer
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.layer import Layer
from gpunet.layers.rnn_wrappers import Wrapper
from gpunet.registry import register

_EPSILON = 1e-7  # Keras's backend.epsilon(), the floor of the norms in ops.normalize


def _normalize(xp: Any, x: Any) -> Any:
    """Keras's ``ops.normalize(x, axis=None)``: ``x * min(rsqrt(sum(x²)), 1/epsilon)``."""
    return x * (1.0 / xp.maximum(xp.sqrt((x * x).sum()), _EPSILON))


@register("layer")
class SpectralNormalization(Wrapper):
    """Performs spectral normalization on the kernel of the wrapped layer.

    In training, ``power_iterations`` steps of the power method refine the estimate ``u`` of
    the kernel's first right singular vector (the kernel seen as a matrix
    ``(-1, kernel.shape[-1])``), ``sigma = v W uᵀ`` estimates its spectral norm, and the kernel
    variable is replaced by ``kernel / sigma`` before the wrapped layer runs, as Keras's layer
    assigns it (an all-zero kernel is left as it is). The gradient reaches the kernel through
    the wrapped layer; ``u`` is a non-trainable weight updated by these calls (so by ``fit``).
    Outside training the wrapped layer runs with the kernel as stored.

    Keras's JAX trainer keeps the kernel assignment only within the step (it differentiates
    through ``sigma`` and steps the stored, unnormalized kernel); gpunet keeps the assignment,
    as Keras's layer code, its TensorFlow and PyTorch backends, and a direct call on any
    backend do.

    Args:
        layer: the layer to wrap: one with a ``kernel`` (``Dense``, ``Conv2D``, ...) or an
            ``embeddings`` weight (``Embedding``).
        power_iterations: positive int, power-method steps per training call (default 1).
        **kwargs: base layer arguments (``name``, ``dtype``, ``trainable``).

    Input shape:
        As the wrapped layer's.

    Output shape:
        As the wrapped layer's (cast to the input's dtype, as Keras does).

    Returns:
        The wrapped layer's output.

    Weights (``get_weights`` order, as Keras): the wrapped layer's kernel, ``vector_u``
    ``(1, kernel.shape[-1])`` (non-trainable, ``TruncatedNormal(stddev=0.02)``), then the
    wrapped layer's other weights.

    Example:

    >>> x = np.random.rand(1, 10, 10, 1).astype("float32")
    >>> conv2d = SpectralNormalization(Conv2D(2, 2))
    >>> conv2d(x).shape
    (1, 9, 9, 2)
    """

    # tracked as any layer holding sublayers (its own ``kernel`` and ``vector_u``, the wrapped
    # layer under ``layer``): the order Keras lists the weights in and the paths it saves
    _sublayers = Layer._sublayers
    # under a mixed policy the variables stay variables in ``call`` (they are assigned) and
    # the wrapped layer casts for itself, reading the kernel after the assignment
    _float32_internal = True
    weights = Layer.weights
    trainable_weights = Layer.trainable_weights
    non_trainable_weights = Layer.non_trainable_weights
    variables = Layer.weights
    trainable_variables = Layer.trainable_weights
    non_trainable_variables = Layer.non_trainable_weights
    losses = Layer.losses
    _backend = Layer._backend
    count_params = Layer.count_params

    def __init__(self, layer: Layer, power_iterations: int = 1, **kwargs: Any) -> None:
        if isinstance(layer, dict):
            layer = deserialize_layer(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer type. "
                             "Please ensure wrapped layer is a valid Keras layer.")
        super().__init__(**kwargs)
        if isinstance(power_iterations, bool) or not isinstance(
                power_iterations, (int, np.integer)) or power_iterations <= 0:
            raise ValueError("`power_iterations` should be greater than zero. Received: "
                             f"`power_iterations={power_iterations}` (layer '{self.name}')")
        self.layer = layer
        self.power_iterations = int(power_iterations)

    def build(self, input_shape: Any = None) -> None:
        if not self.layer.built:
            self.layer.build(tuple(input_shape))
            self.layer.built = True
            self.layer.input_shape_ = tuple(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        if getattr(self.layer, "kernel", None) is not None:
            self.kernel = self.layer.kernel
        elif getattr(self.layer, "embeddings", None) is not None:
            self.kernel = self.layer.embeddings
        else:
            raise ValueError(f"{type(self.layer).__name__} object has no attribute 'kernel' "
                             f"nor 'embeddings' (layer '{self.name}' wraps "
                             f"'{self.layer.name}').")
        self.kernel_shape = tuple(self.kernel.shape)
        self.vector_u = self.add_weight(
            name="vector_u", shape=(1, self.kernel_shape[-1]),
            initializer=initializers.TruncatedNormal(stddev=0.02), trainable=False,
            dtype=self.kernel.dtype)
        done = self.__dict__.setdefault("_prefixed", set())
        for w in self.layer.weights:  # Keras's paths: "<wrapper>/<layer>/<name>"
            if id(w) not in done:
                done.add(id(w))
                w.path = f"{self.name}/{w.path}"
        self.built = True

    def normalized_weights(self) -> tuple:
        """The refined ``u`` and ``kernel / sigma`` as raw arrays (Keras's method of the name;
        the kernel is left as it is when it is all zeros)."""
        kernel, u = self.kernel.data, self.vector_u.data
        xp = self._backend().xp
        w = kernel.reshape(-1, self.kernel_shape[-1])
        v = None
        for _ in range(self.power_iterations):
            v = _normalize(xp, u @ w.T)
            u = _normalize(xp, v @ w)
        sigma = (v @ w) @ u.T  # (1, 1)
        zero = ~xp.any(kernel != 0)  # on the device: no host read per step
        sigma = xp.where(zero, xp.ones_like(sigma), sigma)
        new_u = xp.where(zero, self.vector_u.data, u).astype(self.vector_u.dtype)
        return new_u, (kernel / sigma.reshape((1,) * kernel.ndim)).astype(kernel.dtype)

    def call(self, inputs: Any, training: bool | None = False) -> Any:
        if training:
            with no_grad():
                new_u, new_kernel = self.normalized_weights()
                self.vector_u.assign(new_u)
                self.kernel.assign(new_kernel)
        out = self.layer(inputs)
        return out if out.dtype == inputs.dtype else ops.cast(out, inputs.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.layer.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": registry.serialize_nested_layer(self.layer),
                "power_iterations": self.power_iterations}

    @classmethod
    def from_config(cls, config: dict) -> SpectralNormalization:
        config = copy.deepcopy(config)
        config["layer"] = deserialize_layer(config["layer"])
        return cls(**config)
