"""Reshaping layers: Reshape, Permute, RepeatVector (the batch axis is never touched)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from gpunet import ops
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.layer import Layer, shape_str
from gpunet.registry import register


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


@register("layer")
class Reshape(Layer):
    """Reshapes the input (batch axis excluded) to ``target_shape``.

    Args:
        target_shape: the new shape without the batch axis, e.g. ``(3, 4)``; at most one
            entry may be ``-1``, inferred from the input size.

    Input shape:
        Arbitrary, with as many elements per sample as ``target_shape``.

    Output shape:
        ``(batch,) + target_shape``.

    Example:

    >>> Reshape((3, 4))(np.zeros((2, 12), "float32")).shape
    (2, 3, 4)
    >>> Reshape((-1, 2))(np.zeros((2, 12), "float32")).shape
    (2, 6, 2)
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if _is_int(target_shape):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (list, tuple)) or not all(
                _is_int(d) and (d > 0 or d == -1) for d in target_shape):
            raise ValueError("Reshape: expected `target_shape` to be a tuple of positive "
                             "integers (and at most one -1). Received: "
                             f"target_shape={target_shape!r}")
        if sum(1 for d in target_shape if d == -1) > 1:
            raise ValueError("Reshape: there must be at most one unknown dimension (-1) in "
                             f"`target_shape`. Received: target_shape={tuple(target_shape)}")
        self.target_shape = tuple(int(d) for d in target_shape)

    def _resolve(self, input_shape: tuple) -> tuple:
        """``target_shape`` with the -1 inferred for ``input_shape`` (batch axis excluded)."""
        out = list(self.target_shape)
        known = math.prod(d for d in out if d != -1)
        if any(d is None for d in input_shape):
            return tuple(None if d == -1 else d for d in out)
        original = math.prod(input_shape)
        if -1 in out:
            if original % known:
                raise self._size_error(input_shape)
            out[out.index(-1)] = original // known
        elif original != known:
            raise self._size_error(input_shape)
        return tuple(out)

    def _size_error(self, input_shape: tuple) -> ValueError:
        return ValueError(f"Layer '{self.name}': the total size of the new array must be "
                          f"unchanged, expected target_shape={self.target_shape} to hold "
                          f"{math.prod(input_shape)} elements per sample, but received input "
                          f"with shape {shape_str((None,) + tuple(input_shape))}.")

    def call(self, inputs, training=None):
        return ops.reshape(inputs, (inputs.shape[0],) + self._resolve(tuple(inputs.shape[1:])))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(tuple(input_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@register("layer")
class Permute(Layer):
    """Permutes the non-batch axes of the input.

    Args:
        dims: a permutation of ``1..k`` (1-indexed, the batch axis excluded), e.g. ``(2, 1)``
            swaps the first and second non-batch axes.

    Input shape:
        ``(batch, d1, ..., dk)``. Output shape: the same dimensions, reordered by ``dims``.

    Example:

    >>> Permute((2, 1))(np.zeros((5, 10, 64), "float32")).shape
    (5, 64, 10)
    """

    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(dims, (list, tuple)) or not all(_is_int(d) for d in dims) or sorted(
                dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Invalid permutation argument `dims` for Permute layer: the set of "
                             "indices in `dims` must be consecutive and start from 1. "
                             f"Received: dims={dims!r}")
        self.dims = tuple(int(d) for d in dims)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs, training=None):
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Layer '{self.name}' expects inputs of rank {len(self.dims) + 1}, "
                             f"but received input shape {shape_str(tuple(input_shape))}.")
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


@register("layer")
class RepeatVector(Layer):
    """Repeats a 2-D input ``n`` times along a new time axis.

    Args:
        n: the number of repetitions.

    Input shape:
        ``(batch, features)``. Output shape: ``(batch, n, features)``.

    Example:

    >>> RepeatVector(3)(np.zeros((2, 32), "float32")).shape
    (2, 3, 32)
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not _is_int(n) or n < 1:
            raise ValueError("RepeatVector: expected `n` to be a positive integer. "
                             f"Received: n={n!r}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs, training=None):
        xp = inputs.backend.xp
        zeros = xp.zeros((1, self.n, 1), inputs.dtype)
        return ops.add(ops.expand_dims(inputs, 1), zeros)  # broadcasts; backward sums over n

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"Layer '{self.name}' expects inputs of rank 2, but received input "
                             f"shape {shape_str(tuple(input_shape))}.")
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
