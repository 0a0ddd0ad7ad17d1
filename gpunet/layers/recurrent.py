"""Recurrent layers: SimpleRNN, LSTM and GRU (each call is one whole-sequence graph node)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from gpunet import activations, constraints, initializers, ops, regularizers
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.layer import Layer, shape_str
from gpunet.ops import rnn as rnn_ops
from gpunet.ops._rnn_support import _Act
from gpunet.registry import register

_KNOWN_ACTS = _Act.KNOWN


def _act_spec(fn: Any) -> Any:
    """A name the fused op knows (``"tanh"``), else the callable itself."""
    name = getattr(fn, "__name__", None)
    if name in _KNOWN_ACTS and fn is activations.get(name):
        return name
    return fn


def _rate(value: Any, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"Argument `{name}` must be a float between 0 and 1. "
                         f"Received: {name}={value!r}")
    return float(min(1.0, max(0.0, value)))


class RNNBase(Layer):
    """Shared arguments and plumbing of SimpleRNN, LSTM and GRU (Keras's ``RNN`` + cell).

    Subclasses set ``_gates``, ``_cell`` and ``_n_states``, and build the op in ``_run``.
    """

    supports_masking = True
    _gates = 1
    _cell = "simple_rnn_cell"
    _n_states = 1

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        for key, ok in (("implementation", None), ("use_cudnn", None), ("time_major", (False,))):
            if key in kwargs:
                value = kwargs.pop(key)
                if ok is not None and value not in ok:
                    raise ValueError(f"{type(self).__name__}: `{key}={value!r}` is not "
                                     "supported (only the batch-major layout).")
        super().__init__(**kwargs)
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Received an invalid value for argument `units`, expected a "
                             f"positive integer, got {units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        # applied in call() to the output only (Layer.__call__ would see the return_state list)
        self._output_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _rate(dropout, "dropout")
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout")
        self.seed = seed
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted; the fused loop is the same math either way
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states: list | None = None

    # -- weights ------------------------------------------------------------------------------
    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _bias_initializer(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim=3 (batch, timesteps, features), found ndim="
                             f"{len(input_shape)}. Full shape received: {shape_str(input_shape)}")
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"Layer '{self.name}': the last dimension of the input must be "
                             f"known. Received input shape {shape_str(input_shape)}.")
        self.input_spec = InputSpec(shape=(None, None, in_dim))
        gu = self._gates * self.units
        self.kernel = self.add_weight("kernel", (in_dim, gu), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", (self.units, gu), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_initializer(),
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        for v in self._weights:  # Keras 2 names: lstm/lstm_cell/kernel
            v.path = f"{self.name}/{self._cell}/{v.name}"
        self.built = True

    # -- states -------------------------------------------------------------------------------
    def reset_states(self, states: Any = None) -> None:
        """Zeroes the kept states of a stateful layer (or sets them to ``states``)."""
        if not self.stateful:
            raise AttributeError(f"Layer '{self.name}' is not stateful: reset_states() needs "
                                 "stateful=True.")
        if states is None:
            self.states = None
            return
        if not isinstance(states, (list, tuple)):
            states = [states]
        if len(states) != self._n_states:
            raise ValueError(f"Layer '{self.name}' expects {self._n_states} state arrays, "
                             f"received {len(states)}.")
        b = self._backend()
        host = [backend_of(s).to_numpy(s.data if isinstance(s, Tensor) else s) for s in states]
        self.states = [b.asarray(h, dtype=self.dtype) for h in host]

    reset_state = reset_states

    def _initial_state(self, batch: int, initial_state: Any) -> list:
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            if len(initial_state) != self._n_states:
                raise ValueError(f"Layer '{self.name}' expects {self._n_states} initial "
                                 f"state(s), received {len(initial_state)}.")
            b = self._backend()
            out = []
            for s in initial_state:
                s = s if isinstance(s, Tensor) else Tensor(b.asarray(s, dtype=self.dtype))
                if tuple(s.shape) != (batch, self.units):
                    raise ValueError(f"Layer '{self.name}': an initial state must have shape "
                                     f"{(batch, self.units)}, received {tuple(s.shape)}.")
                out.append(s)
            return out
        if not self.stateful:
            return [None] * self._n_states
        fixed = self._batch_input_shape[0] if self._batch_input_shape else None
        if fixed is not None and fixed != batch:
            raise ValueError(f"Layer '{self.name}' is stateful with batch size {fixed}, but "
                             f"received a batch of {batch} samples. Feed batches of exactly "
                             f"{fixed} samples.")
        if self.states is not None and self.states[0].shape[0] != batch:
            raise ValueError(f"Layer '{self.name}' is stateful and holds states for "
                             f"{self.states[0].shape[0]} samples, but received a batch of "
                             f"{batch}. Call reset_states() or keep the batch size fixed.")
        if self.states is None:
            xp = self._backend().xp
            self.states = [xp.zeros((batch, self.units), self.dtype)
                           for _ in range(self._n_states)]
        return [Tensor(s) for s in self.states]

    # -- dropout masks (fixed for the whole sequence, as Keras draws them once per call) -------
    def _keep_mask(self, shape: tuple, rate: float, dtype: Any) -> Any:
        b = self._backend()
        keep = b.random_uniform(shape, dtype) >= rate
        m = keep.astype(dtype)
        m *= 1.0 / (1.0 - rate)
        return m

    def _dropout_masks(self, x: Tensor, training: Any) -> tuple:
        if not training:
            return None, None
        n, f = x.shape[0], x.shape[2]
        per_gate = 0.0 < self.recurrent_dropout < 1.0  # Keras's "implementation 1"
        dp = rdp = None
        if 0.0 < self.dropout < 1.0:
            shape = (self._gates, n, f) if per_gate and self._gates > 1 else (n, f)
            dp = self._keep_mask(shape, self.dropout, x.dtype)
        if per_gate:
            rdp = self._keep_mask((self._gates, n, self.units), self.recurrent_dropout, x.dtype)
        return dp, rdp

    # -- call ---------------------------------------------------------------------------------
    def call(self, inputs, training=None, mask=None, initial_state=None):
        x = inputs
        if x.dtype.kind != "f":
            x = ops.cast(x, self.dtype)
        n = x.shape[0]
        states = self._initial_state(n, initial_state)
        dp, rdp = self._dropout_masks(x, training)
        if mask is not None:
            mask = mask.data if isinstance(mask, Tensor) else mask
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(f"Layer '{self.name}': the mask must have shape "
                                 f"{tuple(x.shape[:2])} (batch, timesteps), received "
                                 f"{tuple(mask.shape)}.")
        common = {"return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards,
                  "mask": mask, "zero_output_for_mask": self.zero_output_for_mask,
                  "dropout_mask": dp, "recurrent_dropout_mask": rdp}
        fn = self._function(common)
        outs = fn(x, self.kernel, self.recurrent_kernel, self.bias, *states)
        if self.stateful:
            self.states = fn.final_states
        if self._output_regularizer is not None:  # the penalty of the last call only
            y = outs[0] if self.return_state else outs
            self._activity_losses = [self._output_regularizer(y) / y.shape[0]]
        if not self.return_state:
            return outs
        outs = list(outs)
        if self.return_sequences and mask is not None:
            outs[0]._keras_mask = mask
        return outs

    def _function(self, common: dict) -> Any:
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        if mask is None or not self.return_sequences:
            return None
        return mask.data if isinstance(mask, Tensor) else mask

    def compute_output_shape(self, input_shape):
        n, t = input_shape[0], input_shape[1]
        out = (n, t, self.units) if self.return_sequences else (n, self.units)
        if self.return_state:
            return [out] + [(n, self.units)] * self._n_states
        return out

    # -- config -------------------------------------------------------------------------------
    def get_config(self):
        return {**super().get_config(),
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self._output_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed}


_DOC_COMMON = """
    Args:
        units: positive integer, the size of the output and of the state.
        activation: activation of the output/candidate (default ``"tanh"``; ``None`` is
            linear).
        use_bias: whether to add a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: defaults
            ``"glorot_uniform"``, ``"orthogonal"``, ``"zeros"``.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer:
            penalties.
        kernel_constraint, recurrent_constraint, bias_constraint: projections after updates.
        dropout: fraction of the inputs dropped (one mask per call, reused at every step).
        recurrent_dropout: fraction of the previous output dropped before the recurrent
            product (one mask per gate, reused at every step).
        seed: accepted for Keras compatibility (masks come from the backend generator).
        return_sequences: return the whole sequence instead of the last output.
        return_state: also return the final state(s): ``[output, *states]``.
        go_backwards: process the sequence backwards (the returned sequence stays reversed).
        stateful: keep the final states of each batch row as the next call's initial states
            (fixed batch size; ``reset_states()`` clears them).
        unroll: accepted; the fused time loop is used either way.
        zero_output_for_mask: emit zeros at masked steps of the returned sequence instead of
            repeating the previous output (``Bidirectional`` sets it with return_sequences).

    Call arguments:
        inputs: ``(batch, timesteps, features)``.
        mask: ``(batch, timesteps)`` booleans (True = use the step); from ``Embedding`` /
            ``Masking`` automatically. At a masked step the state is carried over and the
            output repeats the previous one.
        training: enables dropout.
        initial_state: list of initial state tensors ``(batch, units)``.

    Input shape:
        3-D tensor ``(batch, timesteps, features)``.

    Output shape:
        ``(batch, units)``, or ``(batch, timesteps, units)`` with ``return_sequences``; with
        ``return_state`` a list ``[output, *states]``, each state ``(batch, units)``.
"""


@register("layer")
class SimpleRNN(RNNBase):
    __doc__ = ("""Fully-connected RNN: ``h_t = activation(x_t W + b + h_{t-1} U)``.
""" + _DOC_COMMON + """
    Example:

    >>> layer = SimpleRNN(4)
    >>> layer(np.zeros((32, 10, 8), "float32")).shape
    (32, 4)
    """)

    _gates, _cell, _n_states = 1, "simple_rnn_cell", 1

    def _function(self, common):
        return rnn_ops.SimpleRNNFunction(self.units, _act_spec(self.activation), **common)


@register("layer")
class LSTM(RNNBase):
    __doc__ = ("""Long Short-Term Memory layer (Hochreiter 1997), Keras gate order ``i, f, c, o``.

    ``i, f, o = recurrent_activation(x W + h U + b)`` blocks, ``c~ = activation(...)``,
    ``c' = f c + i c~``, ``h' = o activation(c')``. States: ``[h, c]``.
""" + _DOC_COMMON + """        recurrent_activation: gate activation (default ``"sigmoid"``).
        unit_forget_bias: initialise the forget-gate bias to ones (default True).

    Example:

    >>> lstm = LSTM(4, return_sequences=True, return_state=True)
    >>> seq, h, c = lstm(np.zeros((32, 10, 8), "float32"))
    >>> seq.shape, h.shape, c.shape
    ((32, 10, 4), (32, 4), (32, 4))
    """)

    _gates, _cell, _n_states = 4, "lstm_cell", 2

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init = self.bias_initializer

        def forget_ones(shape, dtype=None):
            u = shape[0] // 4
            return np.concatenate([np.asarray(init((u,), dtype)), np.ones((u,), dtype),
                                   np.asarray(init((2 * u,), dtype))]).astype(dtype)

        return forget_ones

    def _function(self, common):
        return rnn_ops.LSTMFunction(self.units, _act_spec(self.activation),
                                    _act_spec(self.recurrent_activation), **common)

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


@register("layer")
class GRU(RNNBase):
    __doc__ = ("""Gated Recurrent Unit (Cho et al. 2014), Keras gate order ``z, r, h``.

    ``z, r = recurrent_activation(...)``, ``h~ = activation(x W_h + b_h + r (h U_h + b^r_h))``
    (``reset_after=True``, cuDNN-compatible, bias ``(2, 3 units)``) or
    ``activation(x W_h + b_h + (r h) U_h)`` (``reset_after=False``, bias ``(3 units,)``);
    ``h' = z h + (1 - z) h~``.
""" + _DOC_COMMON + """        recurrent_activation: gate activation (default ``"sigmoid"``).
        reset_after: apply the reset gate after the recurrent product (default True).

    Example:

    >>> gru = GRU(4)
    >>> gru(np.zeros((32, 10, 8), "float32")).shape
    (32, 4)
    """)

    _gates, _cell, _n_states = 3, "gru_cell", 1

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _function(self, common):
        return rnn_ops.GRUFunction(self.units, _act_spec(self.activation),
                                   _act_spec(self.recurrent_activation), self.reset_after,
                                   **common)

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}
