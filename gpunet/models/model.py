"""``Model``: compile / fit / evaluate / predict, weights, devices, saving entry points."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpunet import optimizers as optimizers_mod
from gpunet.autograd.engine import no_grad
from gpunet.autograd.flat import FlatGroup, pack
from gpunet.backend import Backend, backend_for, backend_of, get_backend
from gpunet.layers.layer import Layer, build_by_run, unique_name
from gpunet.models.compile_utils import LossContainer, MetricsContainer
from gpunet.models.steps_api import TrainerAPI
from gpunet.registry import snake_case


class Model(TrainerAPI, Layer):
    """Base class of models: the training API over a network of layers.

    ``Model(inputs, outputs)`` builds a ``Functional`` model (a graph of layers called on
    ``Input`` tensors); subclasses provide ``layers`` and ``call``; ``Sequential`` is the
    ready-made stack.

    Example:

    >>> x = Input((784,))
    >>> model = Model(x, Dense(10, activation="softmax")(Dense(64, activation="relu")(x)))
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        if _functional_args(args, kwargs):
            from gpunet.models.functional import Functional

            if cls is Model:
                return Layer.__new__(Functional)  # Python then runs Functional.__init__
        # a subclass becomes Functional only when (inputs, outputs) reach Model.__init__
        # (Keras 3): ``VAE(encoder, decoder)`` with its own __init__ stays a plain subclass
        return Layer.__new__(cls, *args, **kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _functional_args(args, kwargs):  # ``super().__init__(inputs=..., outputs=...)``
            from gpunet.models.functional import Functional

            inject_functional(type(self))
            Functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError(f"Model.__init__() takes keyword arguments only (name=, "
                            f"trainable=, dtype=); received positional {args!r}.")
        name = kwargs.pop("name", None)
        super().__init__(name=name or unique_name(snake_case(type(self).__name__)
                                                  if type(self) is not Model else "model"),
                         **kwargs)
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._loss = None
        self._metrics = None
        self._compile_config: dict | None = None
        self._groups: list[FlatGroup] = []
        self._state_groups: list[FlatGroup] = []
        self._packed_key: tuple = ()

    # -- structure ----------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The layers of the model: in a subclass, those assigned as attributes (tracked),
        in assignment order."""
        return Layer._sublayers(self)

    def _sublayers(self) -> list[Layer]:
        return self.layers

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name``, or at position ``index`` of ``layers``."""
        layers = self.layers
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index, not both. Received: "
                             f"index={index}, name={name!r}.")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model "
                                 f"'{self.name}' only has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _own_weights(self) -> list:
        own = self.__dict__.get("_weights") or []
        return [v for v in own if v.trainable] + [v for v in own if not v.trainable]

    @property
    def weights(self):
        """Own weights, then every layer's (each layer: trainable then non-trainable)."""
        return self._own_weights() + _unique(w for layer in self.layers for w in layer.weights)

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own = [v for v in self._own_weights() if v.trainable]
        return own + _unique(w for layer in self.layers for w in layer.trainable_weights)

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        own = [v for v in self._own_weights() if not v.trainable]
        return own + _unique(w for layer in self.layers for w in layer.non_trainable_weights)

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def losses(self):
        """``add_loss`` losses of the last call, regularization penalties, then each layer's."""
        own = list(self.__dict__.get("_added_losses", ()))
        own += [v.regularizer(v) for v in self.__dict__.get("_weights", ())
                if v.regularizer is not None]
        return own + [t for layer in self.layers for t in layer.losses]

    @property
    def stateful(self) -> bool:
        """Whether a layer of the model (nested models included) keeps states between calls."""
        return any(getattr(layer, "stateful", False) for layer in self.layers)

    def reset_states(self) -> None:
        """Resets the kept states of every stateful layer (``stateful=True`` RNNs and
        ``Bidirectional`` wrappers of them), nested models included, as Keras 2 does.

        Example:

        >>> model = Sequential([Input(batch_shape=(4, 10, 3)), LSTM(8, stateful=True)])
        >>> for chunk in chunks:
        ...     model.predict_on_batch(chunk)
        >>> model.reset_states()   # the next sequence starts from zero states
        """
        for layer in self.layers:
            if isinstance(layer, Model):
                layer.reset_states()
            elif getattr(layer, "stateful", False) and callable(
                    getattr(layer, "reset_states", None)):
                layer.reset_states()

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        if not self.built:
            raise ValueError(f"Model '{self.name}' has not been built yet: call it on data, "
                             "call build(input_shape), or start it with an Input.")
        return int(sum(w.data.size for w in self.weights))

    # -- devices and flat buffers -------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        ws = self.weights
        return backend_of(ws[0].data) if ws else get_backend()

    def to(self, device: str | Backend) -> Model:
        """Moves weights and optimizer state to ``device`` (``"cpu"``, ``"gpu"``, ``"gpu:1"``)."""
        b = backend_for(device)
        if b is self.backend:
            return self
        state = None
        if self.optimizer is not None and self.optimizer._groups:
            state = self.optimizer.get_slot_arrays()
        for w in self.weights:
            w.data = b.asarray(backend_of(w.data).to_numpy(w.data))
            w.grad = None
            w._flat_group = None
        self._packed_key = ()
        self._pack()
        if state is not None:
            self.optimizer.build(self.trainable_weights)
            self.optimizer.set_slot_arrays([a for _, a in state])
        return self

    def _pack(self) -> None:
        """Packs trainable weights (and their grads) and the other weights into flat buffers."""
        tw = self.trainable_weights
        key = tuple(id(w) for w in tw) + (None,) + tuple(id(w) for w in self.non_trainable_weights)
        if key == self._packed_key:
            return
        self._groups = pack(tw) if tw else []
        for g in self._groups:
            for v in g.variables:
                v._flat_group = g
        ntw = self.non_trainable_weights
        self._state_groups = pack(ntw, with_grad=False) if ntw else []
        for v in ntw:
            v._flat_group = None
        self._packed_key = key
        if self.optimizer is not None and tw:
            self.optimizer.build(tw)

    # -- weights in Keras order ---------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """All weights as NumPy arrays, layer by layer, in Keras order."""
        return [backend_of(w.data).to_numpy(w.data).copy() for w in self.weights]

    def set_weights(self, weights: Sequence) -> None:
        """Assigns arrays to all weights, in the order of ``get_weights``."""
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(f"Model '{self.name}' expects {len(params)} weight arrays, but "
                             f"received {len(weights)}.")
        for p, w in zip(params, weights):
            if tuple(np.shape(w)) != tuple(p.shape):
                raise ValueError(f"Weight '{p.path}' has shape {tuple(p.shape)}, but the "
                                 f"provided array has shape {tuple(np.shape(w))}.")
            p.assign(w)

    # -- compile ------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto",
                auto_scale_loss: bool = True) -> None:
        """Configures the model for training.

        Args:
            optimizer: name (``"adam"``) or ``Optimizer`` instance.
            loss: name, ``Loss`` instance or function ``fn(y_true, y_pred)``.
            loss_weights: scalar factor on the loss.
            metrics: names / ``Metric`` instances (``"accuracy"`` is resolved from shapes).
            weighted_metrics: metrics that use ``sample_weight`` / ``class_weight``.
            run_eagerly: accepted for Keras code (gpunet always runs eagerly).
            steps_per_execution: a positive integer: the batch callbacks run once every
                this many steps, as in Keras 3 (each step still runs and updates).
            jit_compile: True, False or ``"auto"``. Steps always run eagerly: as Keras does
                for a model that cannot be compiled, ``"auto"`` resolves to False and True
                warns and proceeds with False (``self.jit_compile``).
            auto_scale_loss: when True and the model's policy is ``"mixed_float16"``, the
                optimizer is wrapped in a ``LossScaleOptimizer`` (dynamic loss scaling), as
                in Keras 3.
        """
        from gpunet.models.api_checks import check_compile_args

        check_compile_args(optimizer, loss, loss_weights)
        self.optimizer = optimizers_mod.get(optimizer)
        if (auto_scale_loss and self.dtype_policy.name == "mixed_float16"
                and self.optimizer is not None
                and not isinstance(self.optimizer, optimizers_mod.LossScaleOptimizer)):
            self.optimizer = optimizers_mod.LossScaleOptimizer(self.optimizer,
                                                               name="loss_scale_optimizer")
        names = self._multi_output_names()
        if names is None:
            self._loss = LossContainer(loss, loss_weights) if loss is not None else None
            self._metrics = MetricsContainer(metrics, weighted_metrics)
        else:
            from gpunet.models.multi_io import MultiLossContainer, MultiMetricsContainer

            self._loss = (MultiLossContainer(loss, loss_weights, names) if loss is not None
                          else None)
            self._metrics = MultiMetricsContainer(metrics, weighted_metrics, names)
        self._loss_tracker = None
        from gpunet.models.compile_options import execution_options

        self.steps_per_execution, self.jit_compile = execution_options(
            steps_per_execution, jit_compile)
        self.compiled = True
        self._compile_config = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights,
                                "weighted_metrics": weighted_metrics}
        self._packed_key = ()
        if self.built:
            self._pack()

    def _multi_output_names(self) -> list[str] | None:
        """Output names when the model takes the several-inputs/outputs path, else None."""
        from gpunet.models.multi_io import is_multi

        return list(self.output_names) if is_multi(self) else None

    def _require_compiled(self, what: str) -> None:
        if not self.compiled or self._loss is None:
            raise RuntimeError(f"You must call `compile()` with a loss before `{what}()`.")

    @property
    def metrics_names(self) -> list[str]:
        names = ["loss"]
        mc = self._metrics
        if mc is None:
            return names
        if hasattr(mc, "metric_names"):
            lc = self._loss
            outs = [f"{lc.names[i]}_loss" for i in lc.active] if lc is not None and len(
                lc.names) > 1 else []
            return names + outs + mc.metric_names()
        if mc.built:
            return names + [m.name for m in mc.all]
        plain = [_spec_name(m) for m in mc.specs]
        return names + plain + [("weighted_" + n if n in plain else n)
                                for n in map(_spec_name, mc.weighted_specs)]

    # -- building -----------------------------------------------------------------------------
    def build(self, input_shape: Any = None) -> None:
        """Builds a subclassed model for ``input_shape`` (batch axis included) by running
        ``call`` once on zeros, so that every sublayer creates its weights (Keras 3 builds
        subclassed models the same way when ``build`` is not overridden)."""
        if input_shape is None:
            raise ValueError(f"Model '{self.name}': build() needs an `input_shape` (with the "
                             "batch axis, e.g. (None, 784)).")
        self.built = True
        self._build_shape = input_shape
        if type(self).call is Model.call:
            return
        build_by_run(self, input_shape)

    build._default_build = True

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Model:
        """A model from ``get_config()``: a Functional config (``layers``, ``input_layers``,
        ``output_layers``) rebuilds the graph, as Keras 3 does for a subclass constructed
        with ``(inputs, outputs)``; otherwise ``cls(**config)``."""
        if {"layers", "input_layers", "output_layers"} <= set(config):
            from gpunet.models.functional import Functional
            from gpunet.models.functional_config import functional_from_config

            target = cls if issubclass(cls, Functional) else Functional
            return functional_from_config(target, config, custom_objects)
        return Layer.from_config.__func__(cls, config)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        raise NotImplementedError(f"Model '{self.name}' ({type(self).__name__}) has no "
                                  "`call()` method: subclasses of Model define `call(self, "
                                  "inputs)`, or use Model(inputs, outputs).")

    # -- training API (implemented in training.py) --------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: Any = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: Any = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: Any = 1, **kwargs: Any):
        """Trains the model for ``epochs`` passes over the data; returns a ``History``.

        The arguments are Keras 3's. ``fit`` calls ``self.train_step(data)`` for each batch
        when a subclass overrides ``train_step`` (or ``compute_loss``, ``compute_metrics``,
        ``metrics``); otherwise a fused built-in step computes the same numbers.

        Non-finite steps: Keras 3 keeps training when the loss becomes NaN or Inf and lets
        the weights become non-finite. gpunet keeps training too, but never keeps non-finite
        weights: a step whose loss or gradients are not finite makes no update (weights,
        optimizer slots and normalization statistics unchanged), and a step whose new
        weights are not finite is undone (weights and statistics put back; the slots keep
        that step's finite-gradient update); ``iterations`` counts every attempted step.
        The batch and epoch ``loss`` logs show the non-finite value, as Keras's would; a
        ``RuntimeWarning`` at the end of the epoch counts the skipped steps (none with
        ``verbose=0``); ``TerminateOnNaN`` stops (or raises) at that batch. So checkpoints
        never hold non-finite weights. On a GPU the checks are device flags, with no host
        read per step; a custom ``train_step`` is checked as a whole after it runs.

        Args:
            x: input array(s), or a generator / ``Sequence`` yielding ``(x, y)`` or
                ``(x, y, sample_weight)`` batches.
            y: targets (None when ``x`` yields them, or for a custom ``train_step`` that
                needs none).
            batch_size: a positive integer (default 32).
            epochs: the epoch to stop at (a non-negative integer).
            verbose: ``"auto"``, 0, 1 (progress bar) or 2 (one line per epoch).
            callbacks: a ``Callback`` or a list of them.
            validation_split: the last fraction of the arrays held out for validation.
            validation_data: ``(x_val, y_val)``, ``(x_val, y_val, w_val)`` or a generator.
            shuffle: ``True``, ``False`` or ``"batch"``.
            class_weight: ``{class: weight}``.
            sample_weight: per-sample weights.
            initial_epoch: the epoch to start at.
            steps_per_epoch: batches per epoch (a positive integer or None).
            validation_steps: validation batches (a positive integer or None).
            validation_batch_size: a positive integer, default ``batch_size``.
            validation_freq: validate every n-th epoch, or at the epochs listed.

        Returns:
            A ``History`` whose ``history`` maps each log name to its per-epoch values.

        Example:

        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        >>> history = model.fit(x, y, batch_size=64, epochs=5, validation_split=0.1)
        """
        from gpunet.models.data import text_inputs
        from gpunet.models.training import fit

        with text_inputs(self):
            return fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                       validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                       steps_per_epoch, validation_steps, validation_batch_size, validation_freq,
                       **kwargs)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 callbacks: Any = None, return_dict: bool = False, **kwargs: Any):
        """Loss (and metrics) on the given data, in inference mode."""
        from gpunet.models.data import text_inputs
        from gpunet.models.training import evaluate

        with text_inputs(self):
            return evaluate(self, x, y, batch_size, verbose, sample_weight, steps, callbacks,
                            return_dict, **kwargs)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None, callbacks: Any = None, **kwargs: Any) -> np.ndarray:
        """Outputs for ``x`` as a NumPy array, computed batch by batch in inference mode."""
        from gpunet.models.data import text_inputs
        from gpunet.models.training import predict

        with text_inputs(self):
            return predict(self, x, batch_size, verbose, steps, callbacks, **kwargs)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict | None = None, return_dict: bool = False):
        """One gradient update on one batch; returns this batch's loss (and metrics)."""
        from gpunet.models.training import train_on_batch

        return train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False):
        """Loss (and metrics) on one batch, in inference mode."""
        first = x
        while isinstance(first, (list, tuple, dict)) and len(first) and not hasattr(
                first, "shape"):
            first = next(iter(first.values())) if isinstance(first, dict) else first[0]
        return self.evaluate(x, y, batch_size=len(first), verbose=0,
                             sample_weight=sample_weight, return_dict=return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """Outputs for one batch as a NumPy array."""
        with no_grad():
            out = self(x, training=False)
        return out.numpy()

    # -- summary, saving ----------------------------------------------------------------------
    def summary(self, line_length: int | None = None, positions: Any = None,
                print_fn: Any = None, show_trainable: bool = False, expand_nested: bool = False,
                layer_range: Any = None) -> None:
        """Prints Keras 3's table of layers, output shapes and parameter counts.

        Args:
            line_length: total width of the table (default 88, or 108 with the "Connected
                to" column of a branching Functional model; at most the terminal width - 4).
            positions: relative or absolute right edges of the columns.
            print_fn: called once with the whole text (default ``print``).
            show_trainable: add a "Trainable" column.
            expand_nested: also list the layers of nested models.
            layer_range: two regular expressions: the first and last layer to list.
        """
        from gpunet.models.summary import print_summary

        print_summary(self, line_length, positions, print_fn, show_trainable, expand_nested,
                      layer_range)

    def save(self, filepath: str, overwrite: bool = True, include_optimizer: bool = True,
             **kwargs: Any) -> None:
        """Saves architecture, weights, training config and optimizer state.

        A ``.keras`` path gets Keras 3's native zip archive (``config.json``,
        ``metadata.json``, ``model.weights.h5``); any other path Keras's legacy HDF5 layout.

        Args:
            filepath: where to write (``.keras``, or ``.h5``/``.hdf5``); written to a
                temporary file and renamed, so a crash never destroys an existing file.
            overwrite: replace an existing file (else ``FileExistsError``).
            include_optimizer: also store compile arguments and optimizer state.

        Example:

        >>> model.save("model.keras")
        >>> restored = gpunet.models.load_model("model.keras")
        """
        from gpunet.models.api_checks import check_save_path
        from gpunet.saving.hdf5 import save_model

        save_format = kwargs.pop("save_format", None)
        if save_format:
            if not str(filepath).endswith((".h5", ".hdf5", ".keras")):
                raise ValueError("The `save_format` argument is deprecated in Keras 3. Please "
                                 "remove this argument and pass a file path with either "
                                 f"`.keras` or `.h5` extension.Received: "
                                 f"save_format={save_format}")
            warnings.warn("The `save_format` argument is deprecated in Keras 3. We recommend "
                          "removing this argument as it can be inferred from the file path. "
                          f"Received: save_format={save_format}", stacklevel=2)
        check_save_path(filepath)
        _warn_unused(kwargs, "save")
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath: str, overwrite: bool = True, **kwargs: Any) -> None:
        """Saves the weights: Keras 3 layout for ``*.weights.h5``, else Keras 2's ``.h5``."""
        from gpunet.saving.weights import save_weights

        kwargs.pop("save_format", None)
        _warn_unused(kwargs, "save_weights")
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str, skip_mismatch: bool = False, by_name: bool = False,
                     **kwargs: Any) -> None:
        """Loads weights saved by ``save_weights``/``save`` (gpunet's, Keras 2's or Keras 3's).

        Args:
            filepath: a ``.h5`` (Keras 2 layout) or ``.weights.h5`` (Keras 3 layout) file.
            skip_mismatch: skip (with a warning) layers whose weight count or shapes differ.
            by_name: match saved layers to this model's layers by name instead of by order.
        """
        from gpunet.saving.weights import load_weights

        _warn_unused(kwargs, "load_weights")
        load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name)

    def to_json(self, **kwargs: Any) -> str:
        """The model config as a JSON string (``{"class_name", "config", "keras_version",
        "backend"}``); ``kwargs`` go to ``json.dumps``."""
        from gpunet.saving.serialization import model_to_json

        return model_to_json(self, **kwargs)

    def to_yaml(self, **kwargs: Any) -> str:
        """The model config as a YAML string (needs PyYAML); ``kwargs`` go to
        ``yaml.safe_dump``."""
        from gpunet.saving.serialization import model_to_yaml

        return model_to_yaml(self, **kwargs)

    def get_compile_config(self) -> dict | None:
        return self._compile_config


def _functional_args(args: tuple, kwargs: dict) -> bool:
    """Whether constructor arguments mean ``Model(inputs, outputs)`` (as Keras 3 decides)."""
    return (len(args) == 2 or (len(args) == 1 and "outputs" in kwargs)
            or ("inputs" in kwargs and "outputs" in kwargs))


def inject_functional(cls: type) -> type:
    """Makes a ``Model`` subclass constructed with ``(inputs, outputs)`` a ``Functional`` one,
    by putting ``Functional`` in place of ``Model`` among its bases (what Keras 3 does)."""
    from gpunet.models.functional import Functional

    if cls is Model:
        return Functional
    if cls is object or not issubclass(cls, Model) or issubclass(cls, Functional):
        return cls
    bases = tuple(inject_functional(b) for b in cls.__bases__)
    if bases != cls.__bases__:
        cls.__bases__ = bases
    return cls


def _unique(items: Any) -> list:
    out, seen = [], set()
    for w in items:
        if id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    return out


def _spec_name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", None) or getattr(spec, "__name__", str(spec))


def _warn_unused(kwargs: dict, fn: str) -> None:
    for k in kwargs:
        warnings.warn(f"`{fn}()` ignores the argument `{k}`.", stacklevel=3)


__all__ = ["Model", "math"]
