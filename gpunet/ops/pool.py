"""Pooling, up-sampling and zero padding as single nodes (NHWC, or NWC for 1-D inputs).

Pools loop over the ``pool_h * pool_w`` window offsets only; each offset reads one strided
slab of the (padded) input. Max pooling remembers which offset won (the first one on ties,
in row-major window order) and sends the gradient there; average pooling with ``"same"``
padding divides by the number of real (non-padded) cells, as Keras does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.conv import Conv, _pads, _tuple, pad_nhwc, slab


def _valid_counts(n: int, k: int, s: int, before: int, out: int) -> np.ndarray:
    starts = np.arange(out) * s - before
    return np.minimum(starts + k, n) - np.maximum(starts, 0)


class Pool(Function):
    """Max or average pooling of NHWC ``x`` (NWC when 3-D) over ``pool`` windows."""

    def __init__(self, mode: str, pool: tuple[int, int], strides: tuple[int, int],
                 padding: str):
        self.mode, self.pool, self.strides, self.padding = mode, pool, strides, padding

    def forward(self, x):
        xp = xp_of(x)
        self.one_d = x.ndim == 3
        if self.one_d:
            x = x[:, None]
        n, h, w, c = x.shape
        (ph, pw), (sh, sw) = self.pool, self.strides
        self.pads = pads = _pads((h, w), self.pool, self.strides, (1, 1), self.padding)
        is_max = self.mode == "max"
        xpad = pad_nhwc(x, pads, -np.inf if is_max else 0.0)
        oh = (xpad.shape[1] - ph) // sh + 1
        ow = (xpad.shape[2] - pw) // sw + 1
        if oh <= 0 or ow <= 0:
            raise ValueError(f"{self.mode}_pool: the input {(h, w)} is smaller than the pool "
                             f"{self.pool} with padding {self.padding!r}.")
        self.meta = (x.shape, xpad.shape, (oh, ow))
        offsets = [(i, j) for i in range(ph) for j in range(pw)]
        track = bool(self.needs_input_grad)
        sl = [xpad[slab((oh, ow), off, self.strides)] for off in offsets]
        self.nidx = None
        if is_max and self.pool == (2, 2) and self.strides == (2, 2):
            res = backend_of(x).max_pool2x2(xpad, (oh, ow), track)  # a fused pass, if any
            if res is not None:
                y, self.nidx = res
                return self._out(y)
        if is_max:
            self.idx = None
            if len(sl) == 1:
                return self._out(sl[0].copy())
            y = xp.maximum(sl[0], sl[1])
            idx = xp.greater(sl[1], sl[0]).astype(xp.uint8) if track else None
            for k in range(2, len(sl)):
                if idx is not None:  # strict: the first maximum keeps the gradient
                    step = xp.subtract(k, idx, dtype=xp.uint8)  # branch-free select
                    step *= xp.greater(sl[k], y)
                    idx += step
                xp.maximum(y, sl[k], out=y)
            self.idx = idx
        else:
            y = sl[0] + sl[1] if len(sl) > 1 else sl[0].copy()
            for k in range(2, len(sl)):
                y += sl[k]
            if any(p for pair in pads for p in pair):
                ch = _valid_counts(h, ph, sh, pads[0][0], oh)
                cw = _valid_counts(w, pw, sw, pads[1][0], ow)
                self.div = backend_of(x).asarray((ch[:, None] * cw[None, :])[:, :, None]
                                                 .astype(x.dtype))
            else:
                self.div = ph * pw
            y /= self.div
        return self._out(y)

    def _out(self, y):
        if self.mode == "max":
            self.y = y  # for the ReLU hand-off in backward (a reference, no copy)
        return y[:, 0] if self.one_d else y

    def _relu_source(self):
        """The convolution with a fused ReLU whose output this max pool read, if any."""
        if self.mode != "max" or not self.inputs:
            return None
        c = self.inputs[0].creator
        return c if isinstance(c, Conv) and c.activation == "relu" else None

    def backward(self, gy):
        xp = xp_of(gy)
        (n, h, w, c), pshape, out_hw = self.meta
        if self.one_d:
            gy = gy[:, None]
        conv = self._relu_source()
        if conv is not None:
            # The ReLU hand-off: every cell of the input gradient is 0 or the gradient of the
            # window's maximum, so the convolution's ReLU mask (input > 0) is the mask
            # (maximum > 0) of the pooled output, four times smaller: applied here, and the
            # convolution skips its own pass when it receives exactly this array.
            ch = gy.shape[-1]
            gy = backend_of(gy).relu_grad(xp.ascontiguousarray(gy).reshape(-1, ch),
                                          self.y.reshape(-1, ch)).reshape(gy.shape)
        (ph, pw), (sh, sw) = self.pool, self.strides
        offsets = [(i, j) for i in range(ph) for j in range(pw)]
        disjoint = sh >= ph and sw >= pw
        cover = disjoint and (out_hw[0] * sh, out_hw[1] * sw) == pshape[1:3] and (sh, sw) == (
            ph, pw)
        if self.nidx is not None:  # the Numba pass wrote every cell
            gx = backend_of(gy).max_pool2x2_grad(gy, self.nidx, pshape)
            offsets = []
        else:
            gx = (xp.empty if cover else xp.zeros)(pshape, gy.dtype)
        if self.mode == "avg":
            gy = gy / self.div
        for k, off in enumerate(offsets):
            dst = gx[slab(out_hw, off, self.strides)]
            if self.mode == "max" and self.idx is not None:
                if disjoint:  # write straight into the strided slab
                    xp.multiply(gy, self.idx == k, out=dst)
                else:
                    dst += gy * (self.idx == k)
            elif disjoint:
                dst[...] = gy
            else:
                dst += gy
        (t, _), (left, _) = self.pads
        if pshape != (n, h, w, c):
            gx = xp.ascontiguousarray(gx[:, t:t + h, left:left + w])
        gx = gx[:, 0] if self.one_d else gx
        if conv is not None:
            conv.relu_applied_to = gx
        return gx


def _pool(mode: str, x: Any, pool_size: Any, strides: Any, padding: str, rank: int) -> Tensor:
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{mode}_pool{rank}d: `padding` must be 'valid' or 'same'. "
                         f"Received: {padding!r}")
    pool = _tuple(pool_size, rank, "pool_size")
    stride = pool if strides is None else _tuple(strides, rank, "strides")
    if rank == 1:
        pool, stride = (1,) + pool, (1,) + stride
    return Pool(mode, pool, stride, padding)(as_tensor(x))


def max_pool2d(x: Any, pool_size: Any = 2, strides: Any = None,
               padding: str = "valid") -> Tensor:
    """Max pooling of NHWC ``x``; ``strides`` defaults to ``pool_size``."""
    return _pool("max", x, pool_size, strides, padding, 2)


def avg_pool2d(x: Any, pool_size: Any = 2, strides: Any = None,
               padding: str = "valid") -> Tensor:
    """Average pooling of NHWC ``x`` (padded cells are not counted)."""
    return _pool("avg", x, pool_size, strides, padding, 2)


def max_pool1d(x: Any, pool_size: int = 2, strides: int | None = None,
               padding: str = "valid") -> Tensor:
    """Max pooling of ``x`` ``(batch, steps, channels)`` over the steps axis."""
    return _pool("max", x, pool_size, strides, padding, 1)


def avg_pool1d(x: Any, pool_size: int = 2, strides: int | None = None,
               padding: str = "valid") -> Tensor:
    """Average pooling of ``x`` ``(batch, steps, channels)`` over the steps axis."""
    return _pool("avg", x, pool_size, strides, padding, 1)


def _linear_matrix(n: int, scale: int) -> np.ndarray:
    """``(n * scale, n)`` weights of bilinear resizing with half-pixel centres, edges clamped."""
    out = np.arange(n * scale)
    src = (out + 0.5) / scale - 0.5
    lo = np.floor(src)
    frac = src - lo
    a = np.zeros((n * scale, n))
    np.add.at(a, (out, np.clip(lo, 0, n - 1).astype(int)), 1 - frac)
    np.add.at(a, (out, np.clip(lo + 1, 0, n - 1).astype(int)), frac)
    return a


class UpSampling(Function):
    """Repeats (``"nearest"``) or bilinearly resizes NHWC ``x`` by integer factors."""

    def __init__(self, size: tuple[int, int], interpolation: str = "nearest"):
        self.size, self.interpolation = size, interpolation

    def forward(self, x):
        xp = xp_of(x)
        n, h, w, c = x.shape
        sh, sw = self.size
        if self.interpolation == "nearest":
            full = xp.broadcast_to(x[:, :, None, :, None, :], (n, h, sh, w, sw, c))
            return full.reshape(n, h * sh, w * sw, c)
        b = backend_of(x)
        self.a = b.asarray(_linear_matrix(h, sh).astype(x.dtype))
        self.b = b.asarray(_linear_matrix(w, sw).astype(x.dtype))
        return _separable(xp, x, self.a, self.b)

    def backward(self, gy):
        xp = xp_of(gy)
        n, ho, wo, c = gy.shape
        sh, sw = self.size
        if self.interpolation == "nearest":
            return gy.reshape(n, ho // sh, sh, wo // sw, sw, c).sum(axis=(2, 4))
        return _separable(xp, gy, self.a.T, self.b.T)


def _separable(xp: Any, x: Any, a: Any, b: Any) -> Any:
    """``y[n, o, p, c] = sum_hw a[o, h] b[p, w] x[n, h, w, c]``."""
    t = xp.tensordot(x, a, axes=([1], [1]))  # (n, w, c, o)
    t = xp.tensordot(t, b, axes=([1], [1]))  # (n, c, o, p)
    return xp.ascontiguousarray(t.transpose(0, 2, 3, 1))


def upsampling2d(x: Any, size: Any = 2, interpolation: str = "nearest") -> Tensor:
    """Scales NHWC ``x`` up by integer factors (``"nearest"`` or ``"bilinear"``)."""
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError("upsampling2d: `interpolation` must be 'nearest' or 'bilinear'. "
                         f"Received: {interpolation!r}")
    return UpSampling(_tuple(size, 2, "size"), interpolation)(as_tensor(x))


class Pad(Function):
    """Constant padding: ``pad_width`` holds one ``(before, after)`` pair per axis."""

    def __init__(self, pad_width: Sequence[tuple[int, int]], value: float = 0.0):
        self.pad_width, self.value = [tuple(p) for p in pad_width], value

    def forward(self, x):
        xp = xp_of(x)
        shape = tuple(s + a + b for s, (a, b) in zip(x.shape, self.pad_width))
        out = xp.full(shape, self.value, x.dtype) if self.value else xp.zeros(shape, x.dtype)
        self.key = tuple(slice(a, a + s) for s, (a, _) in zip(x.shape, self.pad_width))
        out[self.key] = x
        return out

    def backward(self, gy):
        return xp_of(gy).ascontiguousarray(gy[self.key])


def pad(x: Any, pad_width: Sequence, constant_values: float = 0.0) -> Tensor:
    """Pads ``x`` with a constant: ``pad_width`` is one ``(before, after)`` pair per axis."""
    x = as_tensor(x)
    pw = [(int(a), int(b)) for a, b in pad_width]
    if len(pw) != x.ndim or any(a < 0 or b < 0 for a, b in pw):
        raise ValueError(f"pad: `pad_width` needs {x.ndim} non-negative (before, after) pairs "
                         f"for an input of shape {tuple(x.shape)}. Received: {pad_width}")
    return Pad(pw, constant_values)(x)
