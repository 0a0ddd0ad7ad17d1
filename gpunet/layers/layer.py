"""``Layer``: the base class of every layer (build from the input shape, call, weights, config)."""

from __future__ import annotations

import warnings
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
from gpunet.layers import autocast as autocast_mod
from gpunet.layers.input_spec import assert_input_compatibility
from gpunet.layers.layer_support import (
    _NOT_TRACKED,
    _input_shape,
    _wrap_build,
    attach_masks,
    auto_config,
    build_by_run,
    call_args,
    call_checked,
    enter_call,
    exit_call,
    is_model,
    positional_as_keywords,
    user_level_call,
)
from gpunet.layers.node import is_symbolic, layer_io, layer_io_at, symbolic_call
from gpunet.layers.tracking import Tracker, flatten_layers
from gpunet.registry import register, snake_case
from gpunet.weight_budget import charge as charge_weight

# how many times ``add_loss`` ran in this process: while 0, no layer holds a loss to clear
_LOSSES_ADDED = [0]


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
        dtype: the dtype policy: a name (``"float32"``, ``"mixed_float16"``, ...), a
            ``DTypePolicy`` or its config (default: the global policy,
            ``gpunet.mixed_precision.global_policy()``). A mixed policy keeps the variables
            in float32 and computes in float16/bfloat16 (see ``compute_dtype``).
        autocast: whether a mixed-policy layer casts its floating inputs to its compute
            dtype (default True, as in Keras 3).
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
    input_spec: Any = None  # an InputSpec (or a list, one per input), checked at every call
    _auto_track = True  # attributes holding layers / variables are tracked (Keras 3 rules)
    # a mixed policy's compute dtype while the layer casts in __call__, else None
    _autocast_scope: Any = None
    _compute_dtype = "float32"
    _float32_internal = False  # Keras computes it in float32 under a mixed policy (BN, LN)
    dtype_policy = autocast_mod.DTYPE_POLICY
    dtype = autocast_mod.DTYPE
    compute_dtype = autocast_mod.COMPUTE_DTYPE
    variable_dtype = autocast_mod.VARIABLE_DTYPE
    input_dtype = autocast_mod.INPUT_DTYPE
    autocast = autocast_mod.AUTOCAST
    _dtype_config = autocast_mod.dtype_config

    def __setattr__(self, name: str, value: Any) -> None:
        if self._auto_track and name not in _NOT_TRACKED and isinstance(
                value, _TRACKABLE_TYPES):
            value = self._get_tracker().track(value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        value = self.__dict__.get(name)
        if isinstance(value, Variable) and "_tracker" in self.__dict__:
            self._tracker.untrack(value)  # Keras 3 untracks deleted variables, not layers
        object.__delattr__(self, name)

    def _get_tracker(self) -> Tracker:
        tracker = self.__dict__.get("_tracker")
        if tracker is None:
            if "_weights" not in self.__dict__:
                object.__setattr__(self, "_weights", [])
            tracker = Tracker(self)
            object.__setattr__(self, "_tracker", tracker)
        return tracker

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_wrapped_build", False):
            cls.build = _wrap_build(build, not cls.__module__.startswith("gpunet."))
        own = cls.__call__  # a layer with its own __call__ gets the mixed-precision casts
        if own is not Layer.__call__ and not own.__module__.startswith("gpunet.models"):
            if not getattr(own, "_mixed_wrapped", False):
                cls.__call__ = autocast_mod.wrap_dunder_call(own)
            call = cls.__dict__.get("call")
            if call is not None and not getattr(call, "_mixed_wrapped", False):
                cls.call = autocast_mod.wrap_call(call)

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        obj = object.__new__(cls)
        if cls.get_config is Layer.get_config and not cls.__module__.startswith("gpunet."):
            object.__setattr__(obj, "_auto_config", auto_config(cls, args, kwargs))
        return obj

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None,
                 input_shape: Sequence | None = None, input_dim: int | None = None,
                 batch_size: int | None = None, batch_input_shape: Sequence | None = None,
                 **kwargs: Any) -> None:
        autocast = kwargs.pop("autocast", True)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                            f"{kwargs}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._trainable = trainable
        Layer.dtype_policy.fset(self, dtype)  # (not through __setattr__'s tracking)
        self.__dict__["_autocast"] = bool(autocast)
        self.built = False
        if "_weights" not in self.__dict__:  # attributes set before super().__init__() kept
            self._weights: list[Variable] = []
        self._activity_losses: list[Tensor] = []
        self._added_losses: list[Tensor] = []
        self.activity_regularizer = None
        if input_shape is not None or input_dim is not None:
            warnings.warn("Do not pass an `input_shape`/`input_dim` argument to a layer. When "
                          "using Sequential models, prefer using an `Input(shape)` object as "
                          "the first layer in the model instead.", UserWarning, stacklevel=2)
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
    def add_weight(self, *args: Any, name: str | None = None, shape: Sequence | None = None,
                   initializer: Any = None, dtype: Any = None, trainable: bool = True,
                   regularizer: Any = None, constraint: Any = None, **kwargs: Any) -> Variable:
        """Creates a weight drawn on the host by ``initializer`` and moved to the device.

        Keras 3's positional order ``add_weight(shape, initializer, dtype, trainable, ...)``
        and Keras 2's ``add_weight(name, shape, initializer, ...)`` are both accepted (a first
        positional string is a name); keywords are the usual way.

        Args:
            name: short name (``"kernel"``); its path is ``"<layer>/<name>"``.
            shape: the weight's shape (default ``()``, a scalar).
            initializer: name, instance or callable (default ``glorot_uniform`` for floats,
                ``zeros`` for integer and boolean dtypes).
            dtype: the weight's dtype (default the layer's).
            trainable: whether the optimizer updates it.
            regularizer: penalty added to the training loss.
            constraint: projection applied after each update.
            autocast: whether a mixed-policy layer reads it cast to its compute dtype inside
                ``call`` (default True; Keras 3's argument).

        Returns:
            The new ``Variable`` (also listed in ``weights``).
        """
        kwargs_autocast = kwargs.get("autocast", True)
        given: dict = {}
        if args:
            keys = (("name", "shape", "initializer", "dtype", "trainable", "regularizer",
                     "constraint") if isinstance(args[0], str) else
                    ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer",
                     "constraint"))
            if len(args) > len(keys):
                raise TypeError(f"Layer '{self.name}': add_weight() takes at most "
                                f"{len(keys)} positional arguments ({len(args)} given).")
            given = dict(zip(keys, args))
            name = given.get("name", name)
            shape = given.get("shape", shape)
            initializer = given.get("initializer", initializer)
            dtype = given.get("dtype", dtype)
            trainable = given.get("trainable", trainable)
            regularizer = given.get("regularizer", regularizer)
            constraint = given.get("constraint", constraint)
        for k in ("autocast", "aggregation", "synchronization", "use_resource",
                  "overwrite_with_gradient", "caching_device", "experimental_autocast"):
            kwargs.pop(k, None)
        if kwargs:
            raise TypeError(f"Layer '{self.name}': add_weight() got unexpected keyword "
                            f"arguments {sorted(kwargs)}.")
        shape = () if shape is None else ((shape,) if isinstance(shape, int) else tuple(shape))
        name = name or f"variable_{len(self._weights)}"
        dt = dtype or self.dtype
        if initializer is None:
            import numpy as np

            initializer = ("glorot_uniform" if np.dtype(dt).kind == "f" else "zeros")
        init = initializers_mod.get(initializer)
        charge_weight(shape, self.name, name)  # a loader's cap on what a file may declare
        value = init(shape, dt)
        b = self._backend()
        v = Variable(b.asarray(value), name=name, trainable=trainable and self._trainable,
                     path=f"{self.name}/{name}",
                     constraint=constraints_mod.get(constraint),
                     regularizer=regularizers_mod.get(regularizer))
        v._layer = self
        v._autocast = bool(given.get("autocast", kwargs_autocast))  # False: never cast in call
        self._weights.append(v)
        if not trainable:
            self._non_trainable_names = getattr(self, "_non_trainable_names", set()) | {name}
        return v

    def _backend(self):
        for w in self._weights:
            return backend_of(w.data)
        for sub in self._sublayers():
            ws = sub.weights
            if ws:
                return backend_of(ws[0].data)
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
        """The layers this layer owns: by default those tracked from its attributes."""
        tracker = self.__dict__.get("_tracker")
        return list(tracker.layers) if tracker is not None else []

    def _flatten_layers(self, include_self: bool = True) -> list[Layer]:
        """This layer and every layer below it, depth first, each once."""
        return flatten_layers(self, include_self)

    @property
    def weights(self) -> list[Variable]:
        """Own weights (trainable then non-trainable), then each sublayer's (Keras 3 order)."""
        own = [v for v in self._weights if v.trainable] + [
            v for v in self._weights if not v.trainable]
        subs = self._sublayers()
        if not subs:
            return own
        seen = {id(v) for v in own}
        for sub in subs:
            for v in sub.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    own.append(v)
        return own

    @property
    def trainable_weights(self) -> list[Variable]:
        if "_tracker" not in self.__dict__ or not self._tracker.layers:
            return [v for v in self._weights if v.trainable]
        if not self.trainable:
            return []
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if "_tracker" not in self.__dict__ or not self._tracker.layers:
            return [v for v in self._weights if not v.trainable]
        if not self.trainable:
            return self.weights
        return [v for v in self.weights if not v.trainable]

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
        return int(sum(v.data.size for v in self.weights))

    # -- computing ----------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        """Creates the weights for ``input_shape`` (batch axis included, possibly None).

        Not overridden, as in Keras 3: a layer with sublayers is built by running ``call``
        once on zeros of that shape, so that the sublayers create their weights."""
        self.built = True
        cls = type(self)
        if (getattr(cls.build, "_default_build", False) and not cls.__module__.startswith(
                "gpunet.") and self._sublayers() and not self.__dict__.get("_building")):
            build_by_run(self, input_shape)

    build._default_build = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        return inputs

    def get_build_config(self) -> dict | None:
        """What ``build_config`` in a saved config holds: ``{"input_shape": ...}`` (or
        ``{"shapes_dict": ...}`` for layers built from several shapes), None before the layer
        is built. A layer whose ``build`` takes more overrides it with
        ``build_from_config``, as in Keras 3."""
        shapes = self.__dict__.get("_build_shapes")
        if shapes:
            return {"shapes_dict": dict(shapes)}
        shape = self.__dict__.get("input_shape_")
        return None if shape is None else {"input_shape": shape}

    def build_from_config(self, config: dict | None) -> None:
        """Builds the layer from ``get_build_config()``'s dict (called when a saved model
        is loaded)."""
        if not config:
            return
        if "input_shape" in config:
            shape = config["input_shape"]
            self.build(tuple(shape) if isinstance(shape, list) else shape)
        elif "shapes_dict" in config:
            self.build(**config["shapes_dict"])
        self.built = True

    def save_own_variables(self, store: dict) -> None:
        """Puts the layer's own variables (not its sublayers'), trainable first, into
        ``store`` under ``"0"``, ``"1"``, ... (Keras 3); a layer overriding it decides what a
        ``.keras`` file stores for it, and ``load_own_variables`` gets that back."""
        own = self.__dict__.get("_weights") or []
        for i, v in enumerate([v for v in own if v.trainable] + [v for v in own
                                                                  if not v.trainable]):
            store[f"{i}"] = v.numpy()

    def load_own_variables(self, store: dict) -> None:
        """Assigns ``store["0"]``, ``store["1"]``, ... to the variables ``save_own_variables``
        stored."""
        own = self.__dict__.get("_weights") or []
        ordered = [v for v in own if v.trainable] + [v for v in own if not v.trainable]
        if len(store) != len(ordered):
            raise ValueError(f"Layer '{self.name}' expected {len(ordered)} variables, but "
                             f"received {len(store)} variables during loading.")
        for i, v in enumerate(ordered):
            v.assign(store[f"{i}"])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Output shape for an input shape; the default runs the layer on zeros once."""
        b = self._backend()
        shape = tuple(1 if s is None else s for s in input_shape)
        with no_grad():
            out = self(Tensor(b.xp.zeros(shape, self.dtype)), training=False)
        return (input_shape[0],) + tuple(out.shape[1:])

    def _check_input(self, x: Tensor) -> None:
        """Hook for input checks after build (override in layers with fixed input sizes)."""

    def __call__(self, inputs: Any, *args: Any, training: bool | None = None,
                 **kwargs: Any) -> Tensor:
        if inputs.__class__ is Tensor:
            if (not args and not kwargs and inputs._keras_mask is None and self.built
                    and self._autocast_scope is None):
                data = inputs.data
                spec = self.input_spec
                if ((spec is None or self.__dict__.get("_spec_passed") == (
                        spec, data.shape, data.dtype))
                        and (data.dtype.kind != "f" or data.dtype == self._compute_dtype)
                        and (inputs.creator is not None or not self._weights
                             or backend_of(data) is backend_of(self._weights[0].data))):
                    # checked for this signature already; nothing to convert or cast
                    return call_checked(self, inputs, training)
        elif is_symbolic(inputs):  # Functional API graph
            if args:
                kwargs = positional_as_keywords(self, args, kwargs)
                training = kwargs.pop("training", training)
            return symbolic_call(self, inputs, training, kwargs)
        if isinstance(inputs, Tensor):
            if inputs.creator is None and self._weights:
                b = backend_of(self._weights[0].data)  # a data tensor on another device
                if backend_of(inputs.data) is not b:
                    inputs = Tensor(b.asarray(inputs.data))
        elif isinstance(inputs, (list, tuple)):
            b = self._backend()
            inputs = type(inputs)(x if isinstance(x, Tensor) or x is None else Tensor(
                b.asarray(x)) for x in inputs)
        elif not isinstance(inputs, dict):
            b = self._backend()
            inputs = Tensor(b.asarray(inputs))
        scope = self._autocast_scope
        if scope is not None:  # a mixed policy (Keras 3's input conversion and AutocastScope)
            dtypes = autocast_mod.resolve(scope, backend_of(self._weights[0].data) if
                                          self._weights else self._backend())
            if self._autocast:
                inputs = autocast_mod.autocast_inputs(inputs, *dtypes)
                args = autocast_mod.autocast_inputs(args, *dtypes)
                kwargs = autocast_mod.autocast_inputs(kwargs, *dtypes)
            if type(self)._float32_internal:
                inputs = autocast_mod.cast_inputs(inputs, "float32")
            swapped = ()
        elif (isinstance(inputs, Tensor) and inputs.data.dtype.kind == "f"
                and inputs.dtype != self._compute_dtype):
            inputs = (Tensor(inputs.data.astype(self._compute_dtype)) if inputs.creator is None
                      else autocast_mod.cast_tensor(inputs, self._compute_dtype))
        cls = type(self)
        entry = enter_call(self)
        try:
            spec = self.input_spec  # checked before build, as Keras does
            if spec is not None:
                if inputs.__class__ is Tensor:  # the same spec, shape and dtype as last call:
                    seen = (spec, inputs.data.shape, inputs.data.dtype)  # checked already
                    if self.__dict__.get("_spec_passed") != seen:
                        assert_input_compatibility(spec, inputs, self.name)
                        self.__dict__["_spec_passed"] = seen
                else:
                    assert_input_compatibility(spec, inputs, self.name)
            if not self.built:
                shape = _input_shape(inputs)
                if not getattr(cls.build, "_default_build", False):
                    self.build(shape)
                self.built = True
                self.input_shape_ = shape
                if self.input_spec is not None and self.input_spec is not spec:
                    assert_input_compatibility(self.input_spec, inputs, self.name)
            if isinstance(inputs, Tensor):
                self._check_input(inputs)
            takes_training, takes_mask = call_args(cls)
            mask = kwargs.pop("mask") if "mask" in kwargs else getattr(
                inputs, "_keras_mask", None)
            if mask is not None and takes_mask:
                kwargs["mask"] = mask
            if takes_training:
                kwargs["training"] = training
            if scope is not None and not cls._float32_internal:  # variables read as `scope`
                swapped = autocast_mod.swap_variables(self, dtypes, self._compute_dtype)
            out = self.call(inputs, *args, **kwargs)
        finally:
            exit_call(entry)
            if scope is not None:
                autocast_mod.restore(swapped)
        if scope is not None:
            out = autocast_mod.cast_outputs(out, dtypes[0])
        if self.output_shape_ is None and isinstance(out, Tensor):
            self.output_shape_ = tuple(out.shape)
        if self.activity_regularizer is not None:  # the penalty of the last call only
            self._activity_losses = [self.activity_regularizer(out) / out.shape[0]]
        if isinstance(inputs, Tensor) and (
                mask is not None or cls.compute_mask is not Layer.compute_mask):
            if mask is not None and not self.supports_masking and getattr(
                    cls.compute_mask, "_default_mask", False) and user_level_call(self):
                warnings.warn(f"Layer '{self.name}' (of type {cls.__name__}) was passed an input "
                              "with a mask attached to it. However, this layer does not "
                              "support masking and will therefore destroy the mask "
                              "information. Downstream layers will not see the mask.",
                              stacklevel=2)
            attach_masks(out, self.compute_mask(inputs, mask))
        return out

    def compute_mask(self, inputs: Tensor, mask: Any = None) -> Any:
        """The mask of the output (a boolean array of the batch and time axes, or None).

        The default passes the input mask on when ``supports_masking`` and drops it otherwise;
        layers that make a mask (``Embedding(mask_zero=True)``, ``Masking``) or change the time
        axis override it.
        """
        return mask if self.supports_masking else None

    compute_mask._default_mask = True

    # -- losses -------------------------------------------------------------------------------
    def add_loss(self, loss: Any) -> None:
        """Adds a scalar loss (or a list of them) computed in ``call``; it enters the training
        loss. Losses are cleared when the outermost layer is called again, as in Keras 3.

        Args:
            loss: a scalar tensor, or a list/tuple of scalar tensors.
        """
        items = list(loss) if isinstance(loss, (list, tuple)) else [loss]
        for x in items:
            if not isinstance(x, Tensor):
                b = self._backend()
                x = Tensor(b.asarray(x, dtype=floatx()))
            self._added_losses.append(x)
            _LOSSES_ADDED[0] += 1

    def _clear_losses(self) -> None:
        if not _LOSSES_ADDED[0]:
            return  # no add_loss ever ran: nothing to clear (and no walk over the layers)
        for layer in self._flatten_layers():
            if layer.__dict__.get("_added_losses"):
                layer._added_losses = []

    @property
    def losses(self) -> list[Tensor]:
        """``add_loss`` losses of the last call, then the weight-regularization penalties and
        activity penalties of the last call, this layer's then its sublayers'."""
        out = list(self.__dict__.get("_added_losses", ()))
        out += [v.regularizer(v) for v in self._weights if v.regularizer is not None]
        out += self._activity_losses
        for sub in self._sublayers():
            out += sub.losses
        return out

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Constructor arguments as a JSON-friendly dict (Keras 2 layout).

        A user's layer that does not override ``get_config`` gets the arguments its
        constructor received, when they are all plain values (str, int, float, bool, None,
        and lists/dicts of them), as in Keras 3; otherwise ``NotImplementedError`` asks for a
        ``get_config``."""
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": self._dtype_config()}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        cls = type(self)
        if cls.get_config is Layer.get_config and not cls.__module__.startswith("gpunet."):
            auto = self.__dict__.get("_auto_config")
            if auto is None:
                raise NotImplementedError(
                    f"Layer {cls.__name__} does not implement `get_config()` and its "
                    "constructor arguments are not all plain values (str, int, float, bool, "
                    "None, lists/dicts of them), so its config cannot be generated. Override "
                    "`get_config()` (returning the constructor arguments) and, if needed, "
                    "`from_config()`.")
            return {**({} if is_model(self) else {"name": self.name}), **auto,
                    "trainable": self.trainable, "dtype": self._dtype_config()}
        return cfg


    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """Creates a layer from ``get_config()``'s output (``cls(**config)``).

        Keys a user's constructor does not take (``name``, ``trainable``, ``dtype`` when
        there is no ``**kwargs``) are applied after construction instead."""
        config = dict(config)
        if "batch_shape" in config and "batch_input_shape" not in config:
            config["batch_input_shape"] = config.pop("batch_shape")
        if cls.__module__.startswith("gpunet."):
            return cls(**config)
        import inspect

        params = inspect.signature(cls.__init__).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return cls(**config)
        extra = {k: config.pop(k) for k in ("name", "trainable", "dtype", "batch_input_shape")
                 if k in config and k not in params}
        layer = cls(**config)
        if "name" in extra:
            layer.name = extra["name"]
        if extra.get("trainable") is False:
            layer.trainable = False
        return layer

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


_TRACKABLE_TYPES = (Layer, Variable, list, dict, tuple)


register("layer")(Layer)
