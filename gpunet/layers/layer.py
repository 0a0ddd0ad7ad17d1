"""``Layer``: the base class of every layer (build from the input shape, call, weights, config)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpunet import constraints as constraints_mod
from gpunet import initializers as initializers_mod
from gpunet import regularizers as regularizers_mod
from gpunet.autograd.engine import no_grad
from gpunet.autograd.tensor import Tensor
from gpunet.autograd.variable import Variable
from gpunet.backend import backend_of, floatx, get_backend
from gpunet.backend.session import NAME_COUNTS as _NAME_COUNTS
from gpunet.layers.node import is_symbolic, layer_io, layer_io_at, symbolic_call
from gpunet.registry import register, snake_case


def unique_name(base: str) -> str:
    """``dense``, ``dense_1``, ``dense_2``, ... per process (reset by ``clear_session``)."""
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def clear_session() -> None:
    """Resets the automatic layer and model name counters."""
    _NAME_COUNTS.clear()


def shape_str(shape: Any) -> str:
    """``(None, 784)`` as Keras prints shapes."""
    if isinstance(shape, list):
        return "[" + ", ".join(shape_str(s) for s in shape) + "]"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + (
        ",)" if len(shape) == 1 else ")")


class Layer:
    """Base class of layers.

    A layer creates its weights in ``build(input_shape)`` (called on first use) with
    ``add_weight``, and computes its output in ``call(inputs, training=None)``.

    Args:
        trainable: whether the layer's weights are updated by training.
        name: unique name (default: the snake_case class name, numbered).
        dtype: the dtype of weights and computations (default ``floatx()``).
        input_shape: shape without the batch axis, on a first layer (Keras 2 style).
        input_dim: for 2-D inputs, the same as ``input_shape=(input_dim,)``.
        batch_size: fixed batch size of the input (with ``input_shape``).

    Example:

    >>> class Scale(gpunet.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, x):
    ...         return x * self.w
    """

    supports_masking = False

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None,
                 input_shape: Sequence | None = None, input_dim: int | None = None,
                 batch_size: int | None = None, batch_input_shape: Sequence | None = None,
                 **kwargs: Any) -> None:
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                            f"{kwargs}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._trainable = trainable
        if isinstance(dtype, dict):  # Keras 3 DTypePolicy config
            dtype = dtype.get("config", {}).get("name", None)
        self.dtype = dtype or floatx()
        self.built = False
        self._weights: list[Variable] = []
        self._activity_losses: list[Tensor] = []
        self.activity_regularizer = None
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + tuple(input_shape)
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, input_dim)
        else:
            self._batch_input_shape = None
        self.input_shape_ = None
        self.output_shape_ = None

    # -- weights ------------------------------------------------------------------------------
    def add_weight(self, name: str | None = None, shape: Sequence = (), initializer: Any = None,
                   dtype: Any = None, trainable: bool = True, regularizer: Any = None,
                   constraint: Any = None, **kwargs: Any) -> Variable:
        """Creates a weight drawn on the host by ``initializer`` and moved to the device.

        Args:
            name: short name (``"kernel"``); its path is ``"<layer>/<name>"``.
            shape: the weight's shape.
            initializer: name, instance or callable (default ``glorot_uniform`` for floats).
            trainable: whether the optimizer updates it.
            regularizer: penalty added to the training loss.
            constraint: projection applied after each update.
        """
        name = name or f"variable_{len(self._weights)}"
        init = initializers_mod.get(initializer or "glorot_uniform")
        value = init(tuple(shape), dtype or self.dtype)
        b = self._backend()
        v = Variable(b.asarray(value), name=name, trainable=trainable and self._trainable,
                     path=f"{self.name}/{name}",
                     constraint=constraints_mod.get(constraint),
                     regularizer=regularizers_mod.get(regularizer))
        v._layer = self
        self._weights.append(v)
        if not trainable:
            self._non_trainable_names = getattr(self, "_non_trainable_names", set()) | {name}
        return v

    def _backend(self):
        for w in self._weights:
            return backend_of(w.data)
        return get_backend()

    def _variable_trainable(self, v: Variable) -> bool:
        return v.name not in getattr(self, "_non_trainable_names", set())

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for v in self._weights:
            v.trainable = v.requires_grad = self._trainable and self._variable_trainable(v)
        for sub in self._sublayers():
            sub.trainable = value

    def _sublayers(self) -> list[Layer]:
        return []

    @property
    def weights(self) -> list[Variable]:
        """Trainable weights then non-trainable ones (Keras 3 per-layer order)."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self) -> list[Variable]:
        return [v for v in self._weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        return [v for v in self._weights if not v.trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self) -> list:
        """The weights as NumPy arrays, in ``weights`` order."""
        return [backend_of(v.data).to_numpy(v.data).copy() for v in self.weights]

    def set_weights(self, weights: Sequence) -> None:
        """Assigns NumPy arrays to the weights, in ``weights`` order (shapes must match)."""
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(
                f"Layer '{self.name}' expects {len(params)} weight arrays, but received "
                f"{len(weights)}. Expected shapes: {[tuple(p.shape) for p in params]}."
            )
        for p, w in zip(params, weights):
            if tuple(getattr(w, "shape", ())) != tuple(p.shape):
                raise ValueError(
                    f"Layer '{self.name}' weight '{p.name}' has shape {tuple(p.shape)}, but the "
                    f"provided array has shape {tuple(getattr(w, 'shape', ()))}."
                )
            p.assign(w)

    def count_params(self) -> int:
        """Number of scalars in the weights."""
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the "
                             "layer isn't built. Build it first (call it on data or give an "
                             "input shape).")
        return int(sum(v.data.size for v in self._weights))

    # -- computing ----------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        """Creates the weights for ``input_shape`` (batch axis included, possibly None)."""
        self.built = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        return inputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Output shape for an input shape; the default runs the layer on zeros once."""
        b = self._backend()
        shape = tuple(1 if s is None else s for s in input_shape)
        with no_grad():
            out = self(Tensor(b.xp.zeros(shape, self.dtype)), training=False)
        return (input_shape[0],) + tuple(out.shape[1:])

    def _check_input(self, x: Tensor) -> None:
        """Hook for input checks after build (override in layers with fixed input sizes)."""

    def __call__(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Tensor:
        if inputs.__class__ is not Tensor and is_symbolic(inputs):  # Functional API graph
            return symbolic_call(self, inputs, training, kwargs)
        if not isinstance(inputs, Tensor):
            b = self._backend()
            inputs = Tensor(b.asarray(inputs))
        elif inputs.creator is None and self._weights:  # a data tensor on another device
            b = backend_of(self._weights[0].data)
            if backend_of(inputs.data) is not b:
                inputs = Tensor(b.asarray(inputs.data))
        if inputs.data.dtype.kind == "f" and inputs.dtype != self.dtype:
            inputs = Tensor(inputs.data.astype(self.dtype)) if inputs.creator is None else inputs
        if not self.built:
            shape = (None,) + tuple(inputs.shape[1:])
            self.build(shape)
            self.built = True
            self.input_shape_ = shape
        self._check_input(inputs)
        cls = type(self)
        mask = kwargs.pop("mask") if "mask" in kwargs else inputs._keras_mask
        if mask is not None and _accepts_mask(cls):
            kwargs["mask"] = mask
        out = self.call(inputs, training=training, **kwargs) if kwargs else self.call(
            inputs, training=training)
        if self.activity_regularizer is not None:  # the penalty of the last call only
            self._activity_losses = [self.activity_regularizer(out) / out.shape[0]]
        if mask is not None or cls.compute_mask is not Layer.compute_mask:
            out_mask = self.compute_mask(inputs, mask)
            if isinstance(out, Tensor):
                out._keras_mask = out_mask
        return out

    def compute_mask(self, inputs: Tensor, mask: Any = None) -> Any:
        """The mask of the output (a boolean array of the batch and time axes, or None).

        The default passes the input mask on when ``supports_masking`` and drops it otherwise;
        layers that make a mask (``Embedding(mask_zero=True)``, ``Masking``) or change the time
        axis override it.
        """
        return mask if self.supports_masking else None

    # -- losses -------------------------------------------------------------------------------
    @property
    def losses(self) -> list[Tensor]:
        """Weight-regularization penalties (and activity penalties of the last call)."""
        out = [v.regularizer(v) for v in self._weights if v.regularizer is not None]
        return out + self._activity_losses

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Constructor arguments as a JSON-friendly dict (Keras 2 layout)."""
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        config = dict(config)
        if "batch_shape" in config and "batch_input_shape" not in config:
            config["batch_input_shape"] = config.pop("batch_shape")
        return cls(**config)

    # -- symbolic graph (Functional API) ------------------------------------------------------
    input = property(lambda self: layer_io(self, "input"),
                     doc="The input KerasTensor(s) of the layer's only symbolic call.")
    output = property(lambda self: layer_io(self, "output"),
                      doc="The output KerasTensor(s) of the layer's only symbolic call.")

    def get_input_at(self, node_index: int) -> Any:
        """The input KerasTensor(s) of the layer's ``node_index``-th symbolic call."""
        return layer_io_at(self, node_index, "input")

    def get_output_at(self, node_index: int) -> Any:
        """The output KerasTensor(s) of the layer's ``node_index``-th symbolic call."""
        return layer_io_at(self, node_index, "output")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_MASK_ARG: dict[type, bool] = {}


def _accepts_mask(cls: type) -> bool:
    """Whether ``cls.call`` takes a ``mask`` argument (looked up once per class)."""
    known = _MASK_ARG.get(cls)
    if known is None:
        import inspect

        params = inspect.signature(cls.call).parameters
        known = _MASK_ARG[cls] = "mask" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
    return known


register("layer")(Layer)
