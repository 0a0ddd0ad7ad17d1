"""N-D convolutions as single nodes: ``conv3d`` (any rank), ``conv_transpose``,
``depthwise_conv`` and ``separable_conv`` (channels last, Keras kernel layouts).

One generic im2col serves every rank: ``windows_nd`` is an ``as_strided`` view
``(N, *out, *kernel, C)`` of all receptive fields of the padded input, and ``col2im_nd`` adds
columns back onto the input with one strided slab per kernel offset (no loop over pixels,
samples or channels; deterministic). Grouped convolutions are one batched matmul over the
groups; the depthwise convolution needs no im2col at all: one broadcast multiply-add per kernel
offset over all channels (3x faster than the grouped GEMM on NumPy, and no 9x column buffer).
The transposed convolution is the input gradient of a convolution: its forward is a GEMM plus
col2im, its backward a convolution forward plus a kernel GEMM.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.conv import _pads, _tuple, conv_output_length
from gpunet.ops.nn import dense
from gpunet.ops.shape_ops import reshape

# -- N-D im2col helpers --------------------------------------------------------------------------


def pad_nd(x: Any, pads: Sequence[tuple[int, int]], value: float = 0.0) -> Any:
    """``x`` ``(N, *spatial, C)`` padded on its spatial axes with ``value`` (copies if needed)."""
    if not any(a or b for a, b in pads):
        return x
    xp = xp_of(x)
    shape = (x.shape[0],) + tuple(s + a + b for s, (a, b) in zip(x.shape[1:-1], pads)) + (
        x.shape[-1],)
    out = xp.full(shape, value, x.dtype) if value else xp.zeros(shape, x.dtype)
    out[(slice(None),) + tuple(slice(a, a + s) for s, (a, _) in zip(x.shape[1:-1], pads))] = x
    return out


def crop_nd(x: Any, pads: Sequence[tuple[int, int]], spatial: Sequence[int]) -> Any:
    """The inverse of ``pad_nd``: the ``spatial`` block after the ``before`` paddings."""
    if not any(a or b for a, b in pads):
        return x
    key = (slice(None),) + tuple(slice(a, a + s) for (a, _), s in zip(pads, spatial))
    return xp_of(x).ascontiguousarray(x[key])


def windows_nd(x: Any, out: Sequence[int], ksize: Sequence[int], strides: Sequence[int],
               dilation: Sequence[int]) -> Any:
    """A read-only view ``(N, *out, *ksize, C)`` of every receptive field of ``x``."""
    st = x.strides
    sp = st[1:-1]
    shape = (x.shape[0], *out, *ksize, x.shape[-1])
    strides_ = (st[0], *(a * s for a, s in zip(sp, strides)),
                *(a * d for a, d in zip(sp, dilation)), st[-1])
    return xp_of(x).lib.stride_tricks.as_strided(x, shape=shape, strides=strides_)


def slab_nd(out: Sequence[int], offset: Sequence[int], strides: Sequence[int]) -> tuple:
    """Index of the input cells that kernel offset ``offset`` (dilated) sees, for every output."""
    return (slice(None),) + tuple(slice(o, o + s * (n - 1) + 1, s)
                                  for n, o, s in zip(out, offset, strides))


def col2im_nd(dcols: Any, pshape: tuple, ksize: Sequence[int], strides: Sequence[int],
              dilation: Sequence[int]) -> Any:
    """Sums ``dcols`` ``(N, *out, *ksize, C)`` onto a zero ``pshape`` array, one slab per offset."""
    r = len(ksize)
    out = dcols.shape[1:1 + r]
    gx = xp_of(dcols).zeros(pshape, dcols.dtype)
    lead = (slice(None),) * (r + 1)
    for off in itertools.product(*(range(k) for k in ksize)):
        gx[slab_nd(out, [o * d for o, d in zip(off, dilation)], strides)] += dcols[lead + off]
    return gx


def _out_lengths(padded: Sequence[int], ksize: Sequence[int], strides: Sequence[int],
                 dilation: Sequence[int]) -> list[int]:
    return [conv_output_length(n, k, "valid", s, d)
            for n, k, s, d in zip(padded, ksize, strides, dilation)]


def deconv_output_length(n: int | None, k: int, padding: str, output_padding: int | None = None,
                         stride: int = 1, dilation: int = 1) -> int | None:
    """Keras's ``deconv_output_length``: the output length of a transposed convolution."""
    if n is None:
        return None
    k = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        return n * stride + max(k - stride, 0) if padding == "valid" else n * stride
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * stride + k - 2 * pad + output_padding


# -- Functions -----------------------------------------------------------------------------------


class ConvND(Function):
    """``conv(x, kernel) + bias`` for ``x`` ``(N, *spatial, C)`` of any rank, with groups."""

    def __init__(self, strides: tuple, padding: str, dilation: tuple, groups: int = 1):
        self.strides, self.padding, self.dilation, self.groups = strides, padding, dilation, groups

    def forward(self, x, w, b=None):
        xp = xp_of(x)
        n, *sp, c = x.shape
        *ks, cg, f = w.shape
        g = self.groups
        if cg * g != c:
            raise ValueError(f"conv: the input has {c} channels but the kernel expects "
                             f"{cg} x groups={g} = {cg * g}.")
        self.pads = _pads(sp, ks, self.strides, self.dilation, self.padding)
        xpad = pad_nd(x, self.pads)
        out = _out_lengths(xpad.shape[1:-1], ks, self.strides, self.dilation)
        if min(out) <= 0:
            raise ValueError(f"conv: the input {tuple(sp)} is smaller than the dilated kernel "
                             f"{tuple(ks)} (dilation {self.dilation}) with padding "
                             f"{self.padding!r}.")
        view = windows_nd(xpad, out, ks, self.strides, self.dilation)
        m, kk, fg = n * math.prod(out), math.prod(ks), f // g
        if g == 1:
            cols = view.reshape(m, kk * c)  # the im2col copy
            w2 = w.reshape(kk * c, f)
            y = cols @ w2
        else:  # one batched matmul over the groups
            cols = xp.ascontiguousarray(xp.moveaxis(view.reshape(*view.shape[:-1], g, cg), -2, 0))
            cols = cols.reshape(g, m, kk * cg)
            w2 = xp.ascontiguousarray(w.reshape(kk, cg, g, fg).transpose(2, 0, 1, 3))
            w2 = w2.reshape(g, kk * cg, fg)
            y = xp.matmul(cols, w2).transpose(1, 0, 2).reshape(m, f)
        if b is not None:
            y += b
        need = self.needs_input_grad
        if need:
            self.cols = cols if need[1] else None
            self.w2 = w2 if need[0] else None
            self.meta = (x.shape, xpad.shape, out, w.shape)
        return y.reshape(n, *out, f)

    def backward(self, gy):
        xp = xp_of(gy)
        xshape, pshape, out, wshape = self.meta
        *ks, cg, f = wshape
        g, kk, fg = self.groups, math.prod(ks), wshape[-1] // self.groups
        n, c, m = xshape[0], xshape[-1], gy.size // f
        need = self.needs_input_grad
        gy = gy.reshape(m, f)
        gx = gw = gb = None
        if len(need) > 2 and need[2]:
            gb = gy.sum(axis=0)
        if g == 1:
            if need[1]:
                gw = (self.cols.T @ gy).reshape(wshape)
            if need[0]:
                dcols = (gy @ self.w2.T).reshape(n, *out, *ks, c)
        else:
            gyg = xp.ascontiguousarray(gy.reshape(m, g, fg).transpose(1, 0, 2))
            if need[1]:
                gw = xp.matmul(self.cols.transpose(0, 2, 1), gyg).reshape(g, kk, cg, fg)
                gw = gw.transpose(1, 2, 0, 3).reshape(wshape)
            if need[0]:
                dcols = xp.matmul(gyg, self.w2.transpose(0, 2, 1)).reshape(g, n, *out, *ks, cg)
                dcols = xp.moveaxis(dcols, 0, -2).reshape(n, *out, *ks, c)
        if need[0]:
            gx = crop_nd(col2im_nd(dcols, pshape, ks, self.strides, self.dilation), self.pads,
                         xshape[1:-1])
        return gx, gw, gb


class ConvTranspose(Function):
    """Transposed convolution of ``x`` ``(N, *spatial, C_in)`` with a kernel
    ``(*ksize, filters, C_in)`` to the output lengths ``out``: the input gradient of the
    convolution that maps ``(N, *out, filters)`` to ``(N, *spatial, C_in)``."""

    def __init__(self, strides: tuple, padding: str, dilation: tuple, out: tuple):
        self.strides, self.padding, self.dilation, self.out = strides, padding, dilation, out

    def forward(self, x, w, b=None):
        n, *sp, cin = x.shape
        *ks, f, cw = w.shape
        if cw != cin:
            raise ValueError(f"conv_transpose: the input has {cin} channels but the kernel "
                             f"{tuple(w.shape)} expects {cw} (kernel layout: (*kernel_size, "
                             "filters, in_channels)).")
        if min(self.out) <= 0:
            raise ValueError(f"conv_transpose: the output spatial shape {self.out} is empty.")
        self.pads = _pads(self.out, ks, self.strides, self.dilation, self.padding)
        pspatial = [o + a + b_ for o, (a, b_) in zip(self.out, self.pads)]
        if _out_lengths(pspatial, ks, self.strides, self.dilation) != list(sp):
            raise ValueError(f"conv_transpose: an output of spatial shape {self.out} does not "
                             f"convolve back to the input's {tuple(sp)} with kernel "
                             f"{tuple(ks)}, strides {self.strides}, dilation {self.dilation} "
                             f"and padding {self.padding!r}.")
        kk, m = math.prod(ks), x.size // cin
        w2 = w.reshape(kk * f, cin)
        x2 = x.reshape(m, cin)
        dcols = (x2 @ w2.T).reshape(n, *sp, *ks, f)
        y = crop_nd(col2im_nd(dcols, (n, *pspatial, f), ks, self.strides, self.dilation),
                    self.pads, self.out)
        if b is not None:
            y += b
        if self.needs_input_grad:
            self.x2 = x2 if self.needs_input_grad[1] else None
            self.w2, self.meta = w2, (x.shape, w.shape)
        return y

    def backward(self, gy):
        xshape, wshape = self.meta
        *ks, f, cin = wshape
        need = self.needs_input_grad
        gx = gw = gb = None
        if len(need) > 2 and need[2]:
            gb = gy.reshape(-1, f).sum(axis=0)
        if need[0] or need[1]:  # the convolution forward of gy
            view = windows_nd(pad_nd(gy, self.pads), xshape[1:-1], ks, self.strides,
                              self.dilation)
            cols = view.reshape(-1, math.prod(ks) * f)
            if need[0]:
                gx = (cols @ self.w2).reshape(xshape)
            if need[1]:
                gw = (cols.T @ self.x2).reshape(wshape)
        return gx, gw, gb


class DepthwiseConv(Function):
    """Depthwise convolution of ``x`` ``(N, *spatial, C)`` with a kernel ``(*ksize, C, M)``.

    Loops over the kernel offsets only; each offset is one broadcast multiply-add of its
    strided input slab over every sample, position, channel and multiplier (no im2col copy,
    no loop over channels). Output channel ``c * M + m`` is channel ``c`` with filter ``m``.
    """

    def __init__(self, strides: tuple, padding: str, dilation: tuple):
        self.strides, self.padding, self.dilation = strides, padding, dilation

    def _slabs(self, ks: Sequence[int], out: Sequence[int]):
        for off in itertools.product(*(range(k) for k in ks)):
            yield off, slab_nd(out, [o * d for o, d in zip(off, self.dilation)], self.strides)

    def forward(self, x, w, b=None):
        xp = xp_of(x)
        n, *sp, c = x.shape
        *ks, cw, mult = w.shape
        if cw != c:
            raise ValueError(f"depthwise_conv: the input has {c} channels but the kernel "
                             f"{tuple(w.shape)} expects {cw}.")
        self.pads = _pads(sp, ks, self.strides, self.dilation, self.padding)
        xpad = pad_nd(x, self.pads)
        out = _out_lengths(xpad.shape[1:-1], ks, self.strides, self.dilation)
        if min(out) <= 0:
            raise ValueError(f"depthwise_conv: the input {tuple(sp)} is smaller than the "
                             f"dilated kernel {tuple(ks)} (dilation {self.dilation}) with "
                             f"padding {self.padding!r}.")
        y = xp.zeros((n, *out, c, mult), x.dtype)
        tmp = xp.empty_like(y)
        for off, key in self._slabs(ks, out):
            y += xp.multiply(xpad[key][..., None], w[off], out=tmp)
        y = y.reshape(n, *out, c * mult)
        if b is not None:
            y += b
        need = self.needs_input_grad
        if need:
            self.xpad = xpad if need[1] else None
            self.w = w if need[0] else None
            self.meta = (x.shape, xpad.shape, out, w.shape)
        return y

    def backward(self, gy):
        xp = xp_of(gy)
        xshape, pshape, out, wshape = self.meta
        *ks, c, mult = wshape
        need = self.needs_input_grad
        gb = gy.reshape(-1, c * mult).sum(axis=0) if len(need) > 2 and need[2] else None
        gy = gy.reshape(-1, c, mult)  # (P, C, M), P = N * prod(out)
        gx = xp.zeros(pshape, gy.dtype) if need[0] else None
        gw = xp.empty(wshape, gy.dtype) if need[1] else None
        for off, key in self._slabs(ks, out):
            if need[0]:
                g = gy[..., 0] * self.w[off][:, 0] if mult == 1 else (gy * self.w[off]).sum(-1)
                gx[key] += g.reshape(xshape[0], *out, c)
            if need[1]:
                sl = self.xpad[key].reshape(-1, c)
                gw[off] = xp.einsum("pc,pcm->cm", sl, gy)
        if need[0]:
            gx = crop_nd(gx, self.pads, xshape[1:-1])
        return gx, gw, gb


# -- ops -----------------------------------------------------------------------------------------


def _padding(padding: str, name: str) -> str:
    p = padding.lower() if isinstance(padding, str) else padding
    if p not in ("valid", "same"):
        raise ValueError(f"{name}: `padding` must be 'valid' or 'same'. Received: {padding!r}")
    return p


def _args(x: Tensor, kernel: Any, bias: Any) -> tuple:
    return (x, kernel) if bias is None else (x, kernel, bias)


def conv3d(x: Any, kernel: Any, bias: Any = None, strides: Any = 1, padding: str = "valid",
           dilation_rate: Any = 1, groups: int = 1) -> Tensor:
    """N-D convolution (3-D for Conv3D) of channels-last ``x`` with a Keras-layout kernel.

    Args:
        x: ``(batch, *spatial, channels)``, any number of spatial axes.
        kernel: ``(*kernel_size, channels // groups, filters)``.
        bias: optional ``(filters,)``.
        strides, dilation_rate: an int or one int per spatial axis.
        padding: ``"valid"`` or ``"same"`` (TensorFlow arithmetic).
        groups: number of channel groups.

    Returns:
        ``(batch, *out_spatial, filters)``.
    """
    x = as_tensor(x)
    r = x.ndim - 2
    fn = ConvND(_tuple(strides, r, "strides"), _padding(padding, "conv3d"),
                _tuple(dilation_rate, r, "dilation_rate"), int(groups))
    return fn(*_args(x, kernel, bias))


def conv_transpose(x: Any, kernel: Any, bias: Any = None, strides: Any = 1,
                   padding: str = "valid", output_padding: Any = None,
                   dilation_rate: Any = 1) -> Tensor:
    """Transposed convolution ("deconvolution") of channels-last ``x``, any rank.

    Args:
        x: ``(batch, *spatial, in_channels)``.
        kernel: ``(*kernel_size, filters, in_channels)`` (Keras layout).
        bias: optional ``(filters,)``.
        strides, dilation_rate: an int or one int per spatial axis.
        padding: ``"valid"`` or ``"same"``.
        output_padding: ``None`` or an int / one int per axis, each smaller than its stride.

    Returns:
        ``(batch, *out_spatial, filters)``, each length following Keras's
        ``deconv_output_length``.
    """
    x = as_tensor(x)
    r = x.ndim - 2
    padding = _padding(padding, "conv_transpose")
    s, d = _tuple(strides, r, "strides"), _tuple(dilation_rate, r, "dilation_rate")
    op = (None,) * r if output_padding is None else _tuple(output_padding, r, "output_padding")
    ks = tuple(kernel.shape[:r])
    out = tuple(deconv_output_length(n, k, padding, o, s_, d_)
                for n, k, o, s_, d_ in zip(x.shape[1:-1], ks, op, s, d))
    return ConvTranspose(s, padding, d, out)(*_args(x, kernel, bias))


def depthwise_conv(x: Any, kernel: Any, bias: Any = None, strides: Any = 1,
                   padding: str = "valid", dilation_rate: Any = 1) -> Tensor:
    """Depthwise convolution: each input channel has its own ``depth_multiplier`` filters.

    Args:
        x: ``(batch, *spatial, channels)``.
        kernel: ``(*kernel_size, channels, depth_multiplier)`` (Keras layout).
        bias: optional ``(channels * depth_multiplier,)``.

    Returns:
        ``(batch, *out_spatial, channels * depth_multiplier)``; output channel
        ``c * depth_multiplier + m`` is input channel ``c`` with filter ``m``.
    """
    x = as_tensor(x)
    r = x.ndim - 2
    fn = DepthwiseConv(_tuple(strides, r, "strides"), _padding(padding, "depthwise_conv"),
                       _tuple(dilation_rate, r, "dilation_rate"))
    return fn(*_args(x, kernel, bias))


def separable_conv(x: Any, depthwise_kernel: Any, pointwise_kernel: Any, bias: Any = None,
                   strides: Any = 1, padding: str = "valid", dilation_rate: Any = 1) -> Tensor:
    """Depthwise convolution followed by a pointwise (1x1) one, as Keras's SeparableConv.

    Args:
        x: ``(batch, *spatial, channels)``.
        depthwise_kernel: ``(*kernel_size, channels, depth_multiplier)``.
        pointwise_kernel: ``(1, ..., 1, channels * depth_multiplier, filters)``.
        bias: optional ``(filters,)``.
        strides, padding, dilation_rate: of the depthwise step.

    Returns:
        ``(batch, *out_spatial, filters)``.
    """
    y = depthwise_conv(x, depthwise_kernel, None, strides, padding, dilation_rate)
    pw = reshape(pointwise_kernel, tuple(pointwise_kernel.shape[-2:]))
    return dense(y, pw, bias)
