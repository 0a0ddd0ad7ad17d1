"""``keras.ops.image.map_coordinates`` and the interpolating sampler under it (and under
``affine_transform``): values of an array at fractional coordinates, nearest (order 0) or
linear (order 1), with the fill modes of ``jax.scipy.ndimage.map_coordinates`` (Keras 3's
definition, SciPy's documented modes without SciPy's boundary bug). One autograd node: the
backward scatter-adds into the input and, for order 1, gives the coordinates their gradient."""

from __future__ import annotations

import itertools
import math
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops._wrap import raw, symbolic

__all__ = ["map_coordinates"]

FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _mirror(xp: Any, index: Any, size: int) -> Any:
    s = size - 1
    if s == 0:
        return xp.zeros_like(index)
    return xp.abs((index + s) % (2 * s) - s)


def _fix(xp: Any, index: Any, size: int, mode: str) -> Any:
    if mode == "nearest":
        return xp.clip(index, 0, size - 1)
    if mode == "wrap":
        return index % size
    if mode == "mirror":
        return _mirror(xp, index, size)
    if mode == "reflect":
        return (_mirror(xp, 2 * index + 1, 2 * size + 1) - 1) // 2
    return index  # constant: out-of-range corners are masked


def _nodes(xp: Any, c: Any, size: int, order: int, mode: str, exact: bool) -> list:
    """Per axis: ``(index in range, valid mask or None, weight or None, d weight / d c)``."""
    if exact:
        return [(c, None, None, 0)]
    if order == 0:  # round half away from zero
        idx = (xp.sign(c) * xp.floor(xp.abs(c) + 0.5)).astype("int64")
        parts = [(idx, None, 0)]
    else:
        lower = xp.floor(c)
        upper_w = c - lower
        idx = lower.astype("int64")
        parts = [(idx, 1 - upper_w, -1), (idx + 1, upper_w, 1)]
    out = []
    for index, w, dw in parts:
        valid = ((index >= 0) & (index < size)) if mode == "constant" else None
        out.append((_fix(xp, index, size, mode), valid, w, dw))
    return out


class Sample(Function):
    """``y = sum over corners of prod(weights) * where(valid, x[corner], cval)``."""

    def __init__(self, order: int, mode: str, cval: float, exact: tuple):
        self.order, self.mode, self.cval, self.exact = order, mode, cval, exact

    def forward(self, x, *coords):
        xp = xp_of(x)
        self.shape, self.dtype = x.shape, x.dtype
        dt = x.dtype if x.dtype.kind == "f" else "float32"
        per_axis = [_nodes(xp, c if e else c.astype(dt, copy=False), n, self.order, self.mode, e)
                    for c, n, e in zip(coords, x.shape, self.exact)]
        flat = x.reshape(-1)
        cval = xp.asarray(self.cval, dtype=dt)
        needs = self.needs_input_grad  # empty when nothing records a gradient
        keep_values = self.order == 1 and any(needs[1:])
        self.corners, out = [], None
        for combo in itertools.product(*per_axis):
            idx = xp.ravel_multi_index(tuple(xp.broadcast_arrays(*[n[0] for n in combo])),
                                       x.shape, mode="clip")
            valid = None
            for n in combo:
                if n[1] is not None:
                    valid = n[1] if valid is None else valid & n[1]
            value = flat[idx].astype(dt, copy=False)
            if valid is not None:
                value = xp.where(valid, value, cval)
            weights = [n[2] for n in combo]
            w = None
            for wi in weights:
                if wi is not None:
                    w = wi if w is None else w * wi
            term = value if w is None else w * value
            out = term if out is None else out + term
            if any(needs):  # what backward needs, only when it will run
                self.corners.append((idx, valid, weights, [n[3] for n in combo],
                                     value if keep_values else None))
        if x.dtype.kind in "iu":
            out = xp.sign(out) * xp.floor(xp.abs(out) + 0.5)
        out = out.astype(x.dtype, copy=False)
        self.out_shape = out.shape
        return out

    def backward(self, gy):
        xp = xp_of(gy)
        need = self.needs_input_grad
        grads: list = [None] * (1 + len(self.exact))
        if need[0]:
            n = math.prod(self.shape)
            g = xp.zeros(n + 1, dtype="float64")
            for idx, valid, weights, _, _ in self.corners:
                gw = gy
                for wi in weights:
                    if wi is not None:
                        gw = gw * wi
                target = idx if valid is None else xp.where(valid, idx, n)
                target, gw = xp.broadcast_arrays(target, gw)
                g += xp.bincount(target.reshape(-1), weights=gw.reshape(-1), minlength=n + 1)
            grads[0] = g[:n].astype(self.dtype, copy=False).reshape(self.shape)
        for axis, exact in enumerate(self.exact):
            if exact or not need[axis + 1] or self.order == 0:
                if need[axis + 1]:
                    grads[axis + 1] = xp.zeros(self.out_shape, gy.dtype)
                continue
            total = None
            for _, _, weights, dws, value in self.corners:
                part = gy * value * dws[axis]
                for j, wj in enumerate(weights):
                    if j != axis and wj is not None:
                        part = part * wj
                total = part if total is None else total + part
            grads[axis + 1] = total
        return tuple(grads)


def sample(x: Tensor, coords: list, order: int, mode: str, cval: float,
           exact: tuple | None = None) -> Tensor:
    """Interpolates ``x`` at ``coords`` (one array/Tensor per axis of ``x``, broadcastable to
    the output shape); ``exact`` marks axes whose coordinates are integer indices."""
    exact = exact or (False,) * x.ndim
    xp = xp_of(x)
    cs = [as_tensor(c, x.data) if isinstance(c, Tensor) or not e else
          Tensor(xp.asarray(raw(c)))
          for c, e in zip(coords, exact)]
    return Sample(order, mode, cval, exact)(x, *cs)


@symbolic("image.map_coordinates")
def map_coordinates(inputs: Any, coordinates: Any, order: int, fill_mode: str = "constant",
                    fill_value: float = 0) -> Tensor:
    """Maps the input array to new coordinates by interpolation.

    Interpolation near boundaries follows ``jax.scipy.ndimage.map_coordinates`` (SciPy's
    documented modes, without SciPy's boundary bug, scipy/scipy#2640).

    Args:
        inputs: The input array.
        coordinates: The coordinates at which `inputs` is evaluated: shape
            `(inputs.ndim, ...)`, or a sequence of `inputs.ndim` arrays.
        order: The order of the spline interpolation: `0` (nearest neighbour, rounding
            halves away from zero) or `1` (linear).
        fill_mode: How points outside the boundaries are filled: `"constant"` (default,
            `fill_value`), `"nearest"`, `"wrap"`, `"mirror"` or `"reflect"`.
        fill_value: Value used outside the boundaries when `fill_mode="constant"`.

    Returns:
        The interpolated values, of shape `coordinates.shape[1:]` and `inputs`' dtype
        (differentiable in `inputs` and, for `order=1`, in `coordinates`).

    Example:

    >>> x = np.arange(12.0).reshape(3, 4)
    >>> ops.image.map_coordinates(x, [[0.5, 1.5], [1.5, 2.5]], order=1)  # [3.5, 8.5]
    """
    x = as_tensor(inputs) if not isinstance(inputs, (list, tuple)) else as_tensor(
        xp_of().asarray(inputs))
    if isinstance(coordinates, (list, tuple)) and not all(
            isinstance(c, (int, float)) for c in coordinates):
        coords = [c if isinstance(c, Tensor) else Tensor(xp_of(x).asarray(raw(c)))
                  for c in coordinates]
        lead = len(coords)
        rank = len(coords[0].shape) + 1
    else:
        c = as_tensor(coordinates, x.data) if isinstance(coordinates, Tensor) else Tensor(
            xp_of(x).asarray(raw(coordinates)))
        lead, rank = c.shape[0], c.ndim
        coords = [c[i] for i in range(lead)]
    if lead != x.ndim:
        raise ValueError("First dim of `coordinates` must be the same as the rank of `inputs`. "
                         f"Received inputs with shape: {tuple(x.shape)} and coordinate leading "
                         f"dim of {lead}")
    if rank < 2:
        raise ValueError("Invalid coordinates rank: expected at least rank 2. Received input "
                         f"with shape: {(lead,)}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected one of "
                         f"{set(FILL_MODES)}. Received: fill_mode={fill_mode}")
    if order not in range(2):
        raise ValueError(f"Invalid value for argument `order`. Expected one of {[0, 1]}. "
                         f"Received: order={order}")
    return sample(x, coords, order, fill_mode, fill_value)
