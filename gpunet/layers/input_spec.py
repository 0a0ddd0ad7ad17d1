"""``InputSpec``: what a layer accepts (rank, axes, shape, dtype), checked in ``Layer.__call__``.

A layer sets ``self.input_spec`` (usually in ``build``, once the sizes are known) instead of
writing its own checks; the messages are Keras 3's, naming the layer, what was expected and
what came.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _shape_str(shape: tuple) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + (
        ",)" if len(shape) == 1 else ")")


class InputSpec:
    """Specifies the rank, dtype and shape of every input to a layer (``keras.InputSpec``).

    ``Layer.__call__`` checks each input against the layer's ``input_spec`` (an
    ``InputSpec``, or a list of them, one per input). A ``None`` in a shape matches any size.

    Args:
        dtype: the expected dtype of the input.
        shape: the expected shape, batch axis included (``None`` for any size); sets ``ndim``.
        ndim: the expected rank.
        max_ndim: the largest rank accepted.
        min_ndim: the smallest rank accepted.
        axes: ``{axis: size}`` for axes of a fixed size (negative axes count from the end).
        allow_last_axis_squeeze: accept a rank one higher whose last axis is 1, or one lower
            when the spec's last axis is 1.
        name: the key of this input when inputs are passed as a dict.
        optional: whether the input may be ``None``.

    Example:

    >>> class MyLayer(gpunet.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.input_spec = InputSpec(min_ndim=2, axes={-1: input_shape[-1]})
    """

    def __init__(self, dtype: Any = None, shape: Any = None, ndim: int | None = None,
                 max_ndim: int | None = None, min_ndim: int | None = None,
                 axes: dict | None = None, allow_last_axis_squeeze: bool = False,
                 name: str | None = None, optional: bool = False) -> None:
        self.dtype = None if dtype is None else np.dtype(dtype).name
        if shape is not None:
            self.shape = tuple(None if s is None else int(s) for s in shape)
            self.ndim = len(self.shape)
        else:
            self.shape = None
            self.ndim = ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError("Argument `axes` must be a dict with integer keys. "
                            f"Received: axes={axes}") from None
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed "
                                 f"value: {max_dim}")

    def __repr__(self) -> str:
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape),
                                         ("ndim", self.ndim), ("max_ndim", self.max_ndim),
                                         ("min_ndim", self.min_ndim), ("axes", self.axes)) if v]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self) -> dict:
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
                "optional": self.optional}

    @classmethod
    def from_config(cls, config: dict) -> InputSpec:
        return cls(**config)


def assert_input_compatibility(input_spec: Any, inputs: Any, layer_name: str) -> None:
    """Raises ``ValueError`` when ``inputs`` do not match ``input_spec`` (Keras 3's checks).

    Args:
        input_spec: an ``InputSpec``, a list of them (one per input), or ``None``.
        inputs: an array or Tensor, or a list (or a dict, with named specs) of them.
        layer_name: the layer's name, for the message.

    Raises:
        ValueError: naming the input, the layer, what the spec expects and what came.
    """
    if not input_spec:
        return
    specs = list(input_spec) if isinstance(input_spec, (list, tuple)) else [input_spec]
    if isinstance(inputs, dict):
        names = [s.name for s in specs]
        if all(names):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f'Missing data for input "{missing[0]}". You passed a data '
                                 f"dictionary with keys {list(inputs)}. Expected the following "
                                 f"keys: {names}")
            inputs = [inputs[n] for n in names]
        else:
            inputs = list(inputs.values())
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(inputs) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received '
                         f"{len(inputs)} input tensors.")
    for i, (x, spec) in enumerate(zip(inputs, specs)):
        if spec is not None and not (x is None and spec.optional):
            _check_one(spec, x, i, layer_name)


def _check_one(spec: InputSpec, x: Any, i: int, layer_name: str) -> None:
    if not hasattr(x, "shape"):
        raise ValueError(f"Inputs to a layer should be tensors. Got '{x}' (of type {type(x)}) "
                         f"as input for layer '{layer_name}'.")
    shape = (None,) + tuple(None if s is None else int(s) for s in x.shape[1:]) if len(
        x.shape) else ()
    ndim = len(shape)
    named = f" with name '{spec.name}'" if spec.name else ""
    head = f"Input {i}{named} of layer '{layer_name}' is incompatible with the layer: expected"
    full = f"Full shape received: {_shape_str(shape)}"
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{head} ndim={spec.ndim}, found ndim={ndim}. {full}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{head} max_ndim={spec.max_ndim}, found ndim={ndim}. {full}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{head} min_ndim={spec.min_ndim}, found ndim={ndim}. {full}")
    if spec.dtype is not None and x.dtype is not None and np.dtype(x.dtype).name != spec.dtype:
        raise ValueError(f"{head} dtype={spec.dtype}, found dtype={np.dtype(x.dtype).name}")
    for axis, value in spec.axes.items():
        if value is not None and -ndim <= axis < ndim and shape[axis] not in (value, None):
            raise ValueError(f"{head} axis {axis} of input shape to have value {value}, but "
                             f"received input with shape {_shape_str(shape)}")
    if spec.shape is not None:
        want, got = spec.shape, shape
        if spec.allow_last_axis_squeeze:
            got = got[:-1] if got and got[-1] == 1 else got
            want = want[:-1] if want and want[-1] == 1 else want
        for w, g in zip(want, got):
            if w is not None and g is not None and w != g:
                raise ValueError(f"{head} shape={_shape_str(spec.shape)}, found "
                                 f"shape={_shape_str(shape)}")



class _Shape:
    """Stands for an input of a given shape and unknown dtype."""

    def __init__(self, shape: tuple) -> None:
        self.shape = tuple(shape)
        self.dtype = None


def assert_shape_compatible(input_spec: Any, shape: Any, layer_name: str) -> None:
    """``assert_input_compatibility`` for the shape a layer is built with, so a layer built
    directly (``layer.build(shape)``) with a wrong shape fails as a wrong call does."""
    if isinstance(input_spec, InputSpec) and shape is not None:
        _check_one(input_spec, _Shape(shape), 0, layer_name)
