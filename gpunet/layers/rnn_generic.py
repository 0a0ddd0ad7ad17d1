"""``RNN(cell)``: any cell (built-in or the user's) run over the time axis.

The loop calls ``cell.call(x_t, states)`` once per step through the autograd ops, so a custom
cell needs no backward pass of its own. The fused ``SimpleRNN`` / ``LSTM`` / ``GRU`` layers are
much faster for the built-in cells; this layer is for cells they do not cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpunet import ops
from gpunet.autograd.tensor import Tensor
from gpunet.deserialization import deserialize_layer
from gpunet.layers.layer import Layer, shape_str
from gpunet.ops._utils import xp_of
from gpunet.registry import register


def _sizes(state_size: Any) -> list:
    """The per-state sizes: ints (``units``) or shape tuples without the batch axis (a
    convolutional cell's ``[(rows, cols, filters), ...]``)."""
    return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]


def _shape(n: Any) -> tuple:
    return tuple(n) if isinstance(n, (list, tuple)) else (n,)


@register("layer")
class RNN(Layer):
    """Base recurrent layer: runs ``cell`` over the time axis of ``(batch, time, features)``.

    Args:
        cell: an object with ``state_size``, ``call(inputs, states, training=None)`` returning
            ``(output, new_states)`` (and optionally ``output_size``), e.g. ``LSTMCell(32)``,
            or a list of cells (run as ``StackedRNNCells``).
        return_sequences: return every step's output ``(batch, time, units)``, not the last.
        return_state: also return the final states (a list ``[output, *states]``).
        go_backwards: read the sequence in reverse (and return it reversed).
        stateful: keep the last states of each batch row for the next call;
            ``reset_states()`` clears them.
        unroll: accepted for Keras compatibility (the loop is the same either way).
        zero_output_for_mask: with ``return_sequences``, masked steps output zeros instead of
            repeating the previous output.

    Input shape:
        ``(batch, time, features)``; a mask ``(batch, time)`` (from ``Embedding(mask_zero)``
        or ``Masking``) keeps the states unchanged at masked steps.

    Output shape:
        ``(batch, units)``, or ``(batch, time, units)`` with ``return_sequences``; with
        ``return_state``, a list ``[output, state_1, ...]``.

    Example:

    >>> class MinimalRNNCell(gpunet.layers.Layer):
    ...     state_size = 8
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight("w", (input_shape[-1], 8))
    ...         self.u = self.add_weight("u", (8, 8))
    ...     def call(self, x, states, training=None):
    ...         h = gpunet.ops.matmul(x, self.w) + gpunet.ops.matmul(states[0], self.u)
    ...         return h, [h]
    >>> layer = gpunet.layers.RNN(MinimalRNNCell())
    """

    supports_masking = True

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        kwargs.pop("time_major", None)
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            from gpunet.layers.rnn_cells import StackedRNNCells

            cell = StackedRNNCells(cell)
        if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
            raise ValueError(f"RNN '{self.name}': `cell` needs a `call(inputs, states)` method "
                             f"and a `state_size` attribute; received {cell!r}.")
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful = bool(go_backwards), bool(stateful)
        self.unroll, self.zero_output_for_mask = bool(unroll), bool(zero_output_for_mask)
        self.states: list | None = None

    def _sublayers(self) -> list:
        return [self.cell] if isinstance(self.cell, Layer) else []

    @property
    def _out_shape(self) -> tuple:
        size = getattr(self.cell, "output_size", None) or _sizes(self.cell.state_size)[0]
        return _shape(size)

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) < 3:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim=3 (batch, time, features), found "
                             f"shape={shape_str(input_shape)}")
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((input_shape[0],) + tuple(input_shape[2:]))  # one step's shape
            self.cell.built = True
        self.built = True

    @property
    def weights(self) -> list:
        return list(getattr(self.cell, "weights", []))

    @property
    def trainable_weights(self) -> list:
        return list(getattr(self.cell, "trainable_weights", []))

    @property
    def non_trainable_weights(self) -> list:
        return list(getattr(self.cell, "non_trainable_weights", []))

    @property
    def losses(self) -> list:
        return list(getattr(self.cell, "losses", []))

    def count_params(self) -> int:
        return int(sum(w.data.size for w in self.weights))

    def reset_states(self) -> None:
        """Forgets the states a ``stateful`` layer carried over."""
        self.states = None

    def _initial(self, x: Tensor, initial_state: Any) -> list:
        if initial_state is not None:
            st = list(initial_state) if isinstance(initial_state, (list, tuple)) \
                else [initial_state]
            return [s if isinstance(s, Tensor) else Tensor(s) for s in st]
        if self.stateful and self.states is not None:
            return [Tensor(s) for s in self.states]
        xp = xp_of(x)
        return [Tensor(xp.zeros((x.shape[0],) + _shape(n), x.dtype))
                for n in _sizes(self.cell.state_size)]

    def call(self, inputs: Tensor, training: bool | None = None, mask: Any = None,
             initial_state: Any = None) -> Any:
        states = self._initial(inputs, initial_state)
        for c in getattr(self.cell, "cells", [self.cell]):  # one dropout mask per sequence
            if hasattr(c, "reset_dropout_mask"):
                c.reset_dropout_mask()
        steps = range(inputs.shape[1])
        if self.go_backwards:
            steps = reversed(steps)
        mask_data = mask.data if isinstance(mask, Tensor) else mask
        outputs, out = [], None
        for t in steps:
            new_out, new_states = self.cell.call(inputs[:, t], states, training=training)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) \
                else [new_states]
            if mask_data is not None:
                keep = mask_data[:, t].reshape((-1,) + (1,) * (inputs.ndim - 2))
                prev = out if out is not None else new_out * 0
                new_states = [ops.where(keep, n, s) for n, s in zip(new_states, states)]
                shown = ops.where(keep, new_out, new_out * 0 if self.zero_output_for_mask
                                  else prev)
                new_out = ops.where(keep, new_out, prev)
            else:
                shown = new_out
            out, states = new_out, new_states
            if self.return_sequences:
                outputs.append(shown)
        if self.stateful:
            self.states = [s.data.copy() for s in states]
        result = ops.stack(outputs, axis=1) if self.return_sequences else out
        if self.return_state:
            return [result] + list(states)
        return result

    def compute_mask(self, inputs: Tensor, mask: Any = None) -> Any:
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: tuple) -> Any:
        b, t = input_shape[0], input_shape[1]
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.build(tuple(input_shape))
        out = (b, t) + self._out_shape if self.return_sequences else (b,) + self._out_shape
        if self.return_state:
            return [out] + [(b,) + _shape(n) for n in _sizes(self.cell.state_size)]
        return out

    def get_config(self) -> dict:
        from gpunet.registry import serialize_nested_layer

        return {**super().get_config(), "cell": serialize_nested_layer(self.cell),
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> RNN:
        config = dict(config)
        cell = config.pop("cell")
        if isinstance(cell, Sequence) and not isinstance(cell, dict):
            cell = [deserialize_layer(c, custom_objects) for c in cell]
        else:
            cell = deserialize_layer(cell, custom_objects)
        return super().from_config({**config, "cell": cell})
