"""N-D pooling and nearest up-sampling as single nodes (channels last): ``max_pool3d``,
``avg_pool3d`` and ``upsampling3d`` (the Functions work for any number of spatial axes).

Pools loop over the window offsets only, each reading one strided slab of the padded input.
Max pooling remembers which offset won (the first one on ties) and sends the gradient there;
average pooling with ``"same"`` divides by the number of real (non-padded) cells, as Keras.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.conv import _pads, _tuple
from gpunet.ops.conv_extra import crop_nd, pad_nd, slab_nd
from gpunet.ops.pool import _valid_counts


class PoolND(Function):
    """Max (``mode="max"``) or average (``"avg"``) pooling of ``x`` ``(N, *spatial, C)``."""

    def __init__(self, mode: str, pool: tuple, strides: tuple, padding: str):
        self.mode, self.pool, self.strides, self.padding = mode, pool, strides, padding

    def forward(self, x):
        xp = xp_of(x)
        sp = x.shape[1:-1]
        r = len(sp)
        self.pads = _pads(sp, self.pool, self.strides, (1,) * r, self.padding)
        is_max = self.mode == "max"
        xpad = pad_nd(x, self.pads, -np.inf if is_max else 0.0)
        out = [(n - k) // s + 1 for n, k, s in zip(xpad.shape[1:-1], self.pool, self.strides)]
        if min(out) <= 0:
            raise ValueError(f"{self.mode}_pool{r}d: the input {tuple(sp)} is smaller than the "
                             f"pool {self.pool} with padding {self.padding!r}.")
        self.meta = (x.shape, xpad.shape, out)
        offsets = list(itertools.product(*(range(k) for k in self.pool)))
        slabs = (xpad[slab_nd(out, off, self.strides)] for off in offsets)
        y = next(slabs).copy()
        if is_max:
            track = bool(self.needs_input_grad)
            dtype = xp.uint8 if len(offsets) < 256 else xp.int32
            idx = xp.zeros(y.shape, dtype) if track else None
            for k, sl in enumerate(slabs, start=1):
                if track:  # strict: the first maximum keeps the gradient
                    xp.copyto(idx, k, where=sl > y, casting="unsafe")
                xp.maximum(y, sl, out=y)
            self.idx = idx
            return y
        for sl in slabs:
            y += sl
        if any(a or b for a, b in self.pads):
            counts = [_valid_counts(n, k, s, p[0], o) for n, k, s, p, o in
                      zip(sp, self.pool, self.strides, self.pads, out)]
            div = counts[0]
            for c in counts[1:]:
                div = np.multiply.outer(div, c)
            self.div = backend_of(x).asarray(div[..., None].astype(x.dtype))
        else:
            self.div = math.prod(self.pool)
        y /= self.div
        return y

    def backward(self, gy):
        xp = xp_of(gy)
        xshape, pshape, out = self.meta
        gx = xp.zeros(pshape, gy.dtype)
        if self.mode == "avg":
            gy = gy / self.div
        offsets = itertools.product(*(range(k) for k in self.pool))
        for k, off in enumerate(offsets):
            dst = gx[slab_nd(out, off, self.strides)]
            dst += gy * (self.idx == k) if self.mode == "max" else gy
        return crop_nd(gx, self.pads, xshape[1:-1])


class UpSamplingND(Function):
    """Nearest up-sampling: each cell of ``x`` ``(N, *spatial, C)`` repeated ``size`` times."""

    def __init__(self, size: tuple):
        self.size = size

    def forward(self, x):
        xp = xp_of(x)
        n, *sp, c = x.shape
        r = len(sp)
        expand = (slice(None),) + (slice(None), None) * r + (slice(None),)
        full = (n, *itertools.chain(*zip(sp, self.size)), c)
        out = (n, *(a * s for a, s in zip(sp, self.size)), c)
        return xp.broadcast_to(x[expand], full).reshape(out)

    def backward(self, gy):
        n, *sp, c = gy.shape
        r = len(sp)
        split = (n, *itertools.chain(*((a // s, s) for a, s in zip(sp, self.size))), c)
        return gy.reshape(split).sum(axis=tuple(range(2, 2 * r + 1, 2)))


def _pool(mode: str, x: Any, pool_size: Any, strides: Any, padding: str) -> Tensor:
    x = as_tensor(x)
    r = x.ndim - 2
    p = padding.lower() if isinstance(padding, str) else padding
    if p not in ("valid", "same"):
        raise ValueError(f"{mode}_pool{r}d: `padding` must be 'valid' or 'same'. "
                         f"Received: {padding!r}")
    pool = _tuple(pool_size, r, "pool_size")
    stride = pool if strides is None else _tuple(strides, r, "strides")
    return PoolND(mode, pool, stride, p)(x)


def max_pool3d(x: Any, pool_size: Any = 2, strides: Any = None,
               padding: str = "valid") -> Tensor:
    """Max pooling of ``x`` ``(batch, d1, d2, d3, channels)`` (any rank works).

    Args:
        pool_size: an int or one int per spatial axis.
        strides: the same; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padded cells never win).
    """
    return _pool("max", x, pool_size, strides, padding)


def avg_pool3d(x: Any, pool_size: Any = 2, strides: Any = None,
               padding: str = "valid") -> Tensor:
    """Average pooling of ``x`` ``(batch, d1, d2, d3, channels)``; padded cells not counted."""
    return _pool("avg", x, pool_size, strides, padding)


def upsampling3d(x: Any, size: Any = 2) -> Tensor:
    """Repeats every cell of ``x`` ``(batch, d1, d2, d3, channels)`` ``size`` times per axis."""
    x = as_tensor(x)
    return UpSamplingND(_tuple(size, x.ndim - 2, "size"))(x)
