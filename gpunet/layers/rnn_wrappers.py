"""Layer wrappers for sequences: Bidirectional and TimeDistributed."""

from __future__ import annotations

import copy
from typing import Any

from gpunet import ops, registry
from gpunet.autograd.tensor import Tensor
from gpunet.deserialization import deserialize_layer
from gpunet.layers.layer import Layer, shape_str
from gpunet.registry import register

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _rebuild(layer_or_config: Any, **overrides: Any) -> Layer:
    """A fresh layer from a layer's (or a serialized) config, with some keys replaced."""
    if isinstance(layer_or_config, Layer):
        cfg = {"class_name": type(layer_or_config).__name__,
               "config": copy.deepcopy(layer_or_config.get_config())}
    else:
        cfg = copy.deepcopy(layer_or_config)
    cfg["config"].update(overrides)
    return registry.deserialize("layer", cfg)


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


class Wrapper(Layer):
    """Base of layers that wrap other layers: their weights are the wrapped layers' weights."""

    def _sublayers(self) -> list[Layer]:
        raise NotImplementedError

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for sub in self._sublayers() for w in sub.trainable_weights]

    @property
    def non_trainable_weights(self):
        sub = [w for s in self._sublayers() for w in s.non_trainable_weights]
        if not self.trainable:
            sub = [w for s in self._sublayers() for w in s.weights]
        return sub

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def losses(self):
        return [t for s in self._sublayers() for t in s.losses] + self._activity_losses

    def _backend(self):
        for s in self._sublayers():
            if s._weights:
                return s._backend()
        return super()._backend()

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the "
                             "layer isn't built. Build it first (call it on data or give an "
                             "input shape).")
        return int(sum(w.data.size for s in self._sublayers() for w in s._weights))

    def _prefix_paths(self) -> None:
        for s in self._sublayers():
            for w in s._weights:
                if not w.path.startswith(self.name + "/"):
                    w.path = f"{self.name}/{w.path}"


@register("layer")
class Bidirectional(Wrapper):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the outputs.

    Args:
        layer: an ``LSTM``/``GRU``/``SimpleRNN`` (it is re-created from its config as the
            forward layer, named ``forward_<name>``, so its own weights are not reused).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or ``None`` for
            a list ``[forward, backward]``.
        backward_layer: optional layer for the backward direction (default: a copy of
            ``layer`` with ``go_backwards`` flipped, named ``backward_<name>``).

    With ``return_sequences`` both layers emit zeros at masked steps, and the backward
    sequence is flipped back to the input's time order before merging.

    Input shape:
        ``(batch, timesteps, features)``.

    Output shape:
        The wrapped layer's output with the last axis doubled for ``"concat"``; with
        ``return_state``: ``[output, *forward_states, *backward_states]``.

    Example:

    >>> model = Sequential([Input((5, 10)), Bidirectional(LSTM(10, return_sequences=True)),
    ...                     Bidirectional(LSTM(10)), Dense(5, activation="softmax")])
    """

    supports_masking = True

    def __init__(self, layer: Layer, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: Layer | None = None, **kwargs: Any) -> None:
        if isinstance(layer, dict):
            layer = registry.deserialize("layer", layer)
        if isinstance(backward_layer, dict):
            backward_layer = registry.deserialize("layer", backward_layer)
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `Bidirectional` layer with a `Layer` "
                             f"instance. Received: {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError("`backward_layer` needs to be a `Layer` instance. Received: "
                             f"{backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should "
                             "be one of {'sum', 'mul', 'ave', 'concat', None}")
        for attr in ("go_backwards", "return_sequences", "return_state"):
            if not hasattr(layer, attr):
                raise ValueError(f"Bidirectional needs a recurrent layer (with `{attr}`); "
                                 f"received {type(layer).__name__} '{layer.name}'.")
        super().__init__(**kwargs)
        self.forward_layer = _rebuild(layer, name="forward_" + _strip(layer.name, "forward_"))
        self._custom_backward = backward_layer is not None
        if backward_layer is None:
            self.backward_layer = _rebuild(
                layer, go_backwards=not layer.go_backwards,
                name="backward_" + _strip(layer.name, "backward_"))
        else:
            self.backward_layer = backward_layer
        f, b = self.forward_layer, self.backward_layer
        if f.go_backwards == b.go_backwards:
            raise ValueError("Forward layer and backward layer should have different "
                             f"`go_backwards` values. Received: forward {f.go_backwards}, "
                             f"backward {b.go_backwards}.")
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(f, attr) != getattr(b, attr):
                raise ValueError(f"Forward layer and backward layer are expected to have the "
                                 f"same value for attribute '{attr}', got {getattr(f, attr)} "
                                 f"and {getattr(b, attr)}.")
        for sub in (f, b):  # Keras forces zeros at masked steps of both sequences
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.stateful = f.stateful
        self.return_sequences = f.return_sequences
        self.return_state = f.return_state
        self._initial_weights = weights

    def _sublayers(self):
        return [self.forward_layer, self.backward_layer]

    def build(self, input_shape):
        for sub in self._sublayers():
            if not sub.built:
                sub.build(tuple(input_shape))
                sub.built = True
                sub.input_shape_ = tuple(input_shape)
        self._prefix_paths()
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, training=None, mask=None, initial_state=None):
        kw: dict = {}
        if mask is not None:
            kw["mask"] = mask
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(inputs, training=training, initial_state=fwd_state, **kw)
        y_rev = self.backward_layer(inputs, training=training, initial_state=bwd_state, **kw)
        states: list = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.getitem(y_rev, (slice(None), slice(None, None, -1)))
        mode = self.merge_mode
        if mode == "concat":
            out: Any = ops.concatenate([y, y_rev], axis=-1)
        elif mode == "sum":
            out = y + y_rev
        elif mode == "ave":
            out = (y + y_rev) * 0.5
        elif mode == "mul":
            out = y * y_rev
        else:
            out = [y, y_rev]
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + states
        return out

    def compute_mask(self, inputs, mask=None):
        if mask is None or not self.return_sequences or self.merge_mode is None:
            return None
        return mask.data if isinstance(mask, Tensor) else mask

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], list(shape[1:])
        shape = tuple(shape)
        if self.merge_mode == "concat":
            out: Any = shape[:-1] + (None if shape[-1] is None else shape[-1] * 2,)
        elif self.merge_mode is None:
            out = [shape, shape]
        else:
            out = shape
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + states + states
        return out

    def reset_states(self, states: Any = None) -> None:
        """Clears (or sets: forward states then backward states) the kept states."""
        if not self.stateful:
            raise AttributeError(f"Layer '{self.name}' must be stateful.")
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        half = len(states) // 2
        self.forward_layer.reset_states(states[:half])
        self.backward_layer.reset_states(states[half:])

    reset_state = reset_states

    def get_config(self):
        cfg = {**super().get_config(), "merge_mode": self.merge_mode,
               "layer": registry.serialize_nested_layer(self.forward_layer)}
        if self._custom_backward:
            cfg["backward_layer"] = registry.serialize_nested_layer(self.backward_layer)
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> Bidirectional:
        config = copy.deepcopy(config)
        config["layer"] = _deserialize_layer(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _deserialize_layer(config["backward_layer"])
        return super().from_config(config)


@register("layer")
class TimeDistributed(Wrapper):
    """Applies a layer to every time step (time is folded into the batch axis: one call).

    Args:
        layer: any layer taking ``(batch, ...)`` inputs.

    Input shape:
        ``(batch, timesteps, ...)``.

    Output shape:
        ``(batch, timesteps) + layer output shape[1:]``.

    Example:

    >>> td = TimeDistributed(Dense(8))
    >>> td(np.zeros((32, 10, 16), "float32")).shape
    (32, 10, 8)
    """

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if isinstance(layer, dict):
            layer = registry.deserialize("layer", layer)
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `TimeDistributed` layer with a `Layer` "
                             f"instance. Received: {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def _sublayers(self):
        return [self.layer]

    @staticmethod
    def _inner_shape(input_shape):
        if len(input_shape) < 3:
            raise ValueError("`TimeDistributed` requires inputs of rank >= 3 (batch, time, "
                             f"...). Received input shape {shape_str(input_shape)}.")
        n, t = input_shape[0], input_shape[1]
        return (None if n is None or t is None else n * t,) + tuple(input_shape[2:])

    def build(self, input_shape):
        inner = self._inner_shape(tuple(input_shape))
        if not self.layer.built:
            self.layer.build(inner)
            self.layer.built = True
            self.layer.input_shape_ = inner
        self.built = True

    def call(self, inputs, training=None, mask=None):
        n, t = inputs.shape[0], inputs.shape[1]
        x = ops.reshape(inputs, (n * t,) + tuple(inputs.shape[2:]))
        kw = {}
        m = mask.data if isinstance(mask, Tensor) else mask
        if m is not None and m.ndim > 2 and getattr(self.layer, "supports_masking", False):
            kw["mask"] = m.reshape((n * t,) + tuple(m.shape[2:]))
        y = self.layer(x, training=training, **kw)
        return ops.reshape(y, (n, t) + tuple(y.shape[1:]))

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else (mask.data if isinstance(mask, Tensor) else mask)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape(self._inner_shape(tuple(input_shape)))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def get_config(self):
        return {**super().get_config(), "layer": registry.serialize_nested_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict) -> TimeDistributed:
        config = copy.deepcopy(config)
        config["layer"] = _deserialize_layer(config["layer"])
        return super().from_config(config)


def _deserialize_layer(config):
    """A nested layer config, cleaned of Keras 3's extra keys like a top-level one."""
    return deserialize_layer(config)
