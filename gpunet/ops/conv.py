"""Convolution as one node: im2col (a strided view) plus one GEMM, NHWC, Keras kernel layout.

Forward gathers every receptive field with ``as_strided`` into a ``(N*OH*OW, kh*kw*C + 1)``
matrix (the last column holds ones, so the bias rides in the same GEMM) and multiplies it by
the kernel seen as ``(kh*kw*C + 1, filters)``. Backward gets the kernel and bias gradients
from one GEMM, and the input gradient from one GEMM per kernel offset whose result is added
onto that offset's strided slab of the input (col2im looping over the ``kh*kw`` offsets only:
no pixel or batch loop, no scatter, deterministic). The same code runs on NumPy and CuPy.

The padding arithmetic is Keras's (TensorFlow's): ``"same"`` gives ``ceil(n / s)`` outputs and
puts the odd extra padding row / column at the end (bottom / right).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops._utils import as_tensor, xp_of


def conv_output_length(n: int | None, k: int, padding: str, stride: int = 1,
                       dilation: int = 1) -> int | None:
    """Keras's output length of one spatial axis (``None`` stays ``None``)."""
    if n is None:
        return None
    k_eff = dilation * (k - 1) + 1
    if padding == "same":
        return -(-n // stride)
    if padding == "causal":
        return -(-n // stride)  # left-padded by k_eff - 1, then "valid"
    return (n - k_eff) // stride + 1 if n >= k_eff else 0


def same_padding(n: int, k: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` padding of ``"same"``: the extra unit goes after (TF rule)."""
    k_eff = dilation * (k - 1) + 1
    out = -(-n // stride)
    total = max((out - 1) * stride + k_eff - n, 0)
    return total // 2, total - total // 2


def _pads(shape: Sequence[int], ksize: Sequence[int], strides: Sequence[int],
          dilation: Sequence[int], padding: str) -> list[tuple[int, int]]:
    if padding == "same":
        return [same_padding(n, k, s, d) for n, k, s, d in zip(shape, ksize, strides, dilation)]
    if padding == "causal":
        return [(d * (k - 1), 0) for k, d in zip(ksize, dilation)]
    return [(0, 0)] * len(shape)


def pad_nhwc(x: Any, pads: Sequence[tuple[int, int]], value: float = 0.0) -> Any:
    """``x`` (N, H, W, C) padded on H and W with ``value`` (a copy only when padding)."""
    (t, b), (left, r) = pads
    if not (t or b or left or r):
        return x
    xp = xp_of(x)
    n, h, w, c = x.shape
    out = xp.full((n, h + t + b, w + left + r, c), value, x.dtype) if value else xp.zeros(
        (n, h + t + b, w + left + r, c), x.dtype)
    out[:, t:t + h, left:left + w] = x
    return out


def windows(xp_: Any, x: Any, out_hw: tuple[int, int], ksize: tuple[int, int],
            strides: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> Any:
    """A read-only view ``(N, OH, OW, kh, kw, C)`` of every receptive field of ``x``."""
    n, _, _, c = x.shape
    s0, s1, s2, s3 = x.strides
    shape = (n, out_hw[0], out_hw[1], ksize[0], ksize[1], c)
    strides_ = (s0, s1 * strides[0], s2 * strides[1], s1 * dilation[0], s2 * dilation[1], s3)
    return xp_.lib.stride_tricks.as_strided(x, shape=shape, strides=strides_)


def slab(out_hw: tuple[int, int], offset: tuple[int, int], strides: tuple[int, int]) -> tuple:
    """The index of the input positions that kernel offset ``offset`` sees, for every output."""
    (oh, ow), (i, j), (sh, sw) = out_hw, offset, strides
    return (slice(None), slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))


class Conv(Function):
    """``act(conv(x, kernel) + bias)`` for NHWC ``x`` (or NWC for 1-D) as one node.

    ``out_limit`` ``(rows, cols)``: only the first output rows and columns are computed
    (what a following pool reads, ``gpunet.layers.fusion``); the input gradient still has
    the whole input's shape, zero where no computed output reaches.
    """

    def __init__(self, strides: tuple[int, int], padding: str, dilation: tuple[int, int],
                 groups: int = 1, activation: str | None = None,
                 out_limit: tuple[int, int] | None = None):
        self.strides, self.padding, self.dilation = strides, padding, dilation
        self.groups, self.activation = groups, activation
        self.out_limit = out_limit

    def forward(self, x, w, b=None):
        xp = xp_of(x)
        self.one_d = x.ndim == 3
        if self.one_d:
            x, w = x[:, None], w[None]
        n, h, wd, c = x.shape
        kh, kw, cg, f = w.shape
        g = self.groups
        if cg * g != c:
            raise ValueError(f"conv: the input has {c} channels but the kernel expects "
                             f"{cg} x groups={g} = {cg * g}.")
        self.pads = _pads((h, wd), (kh, kw), self.strides, self.dilation, self.padding)
        xpad = pad_nhwc(x, self.pads)
        oh = conv_output_length(xpad.shape[1], kh, "valid", self.strides[0], self.dilation[0])
        ow = conv_output_length(xpad.shape[2], kw, "valid", self.strides[1], self.dilation[1])
        if oh <= 0 or ow <= 0:
            raise ValueError(f"conv: the input {(h, wd)} is smaller than the dilated kernel "
                             f"{(kh, kw)} (dilation {self.dilation}) with padding "
                             f"{self.padding!r}.")
        if self.out_limit is not None:
            oh, ow = min(oh, self.out_limit[0]), min(ow, self.out_limit[1])
        m, k = n * oh * ow, kh * kw * cg
        view = windows(xp, xpad, (oh, ow), (kh, kw), self.strides, self.dilation)
        self.fused_bias = g == 1 and b is not None
        if g == 1:  # bias fused into the GEMM as a row of ones in the columns
            cols = im2col(xp, xpad, view, (oh, ow), self.strides, self.dilation, b is not None)
            w2 = w.reshape(k, f)
            y = cols @ (w2 if b is None else xp.concatenate([w2, b[None].astype(w.dtype)]))
        else:
            fg = f // g
            cols = xp.ascontiguousarray(
                view.reshape(n, oh, ow, kh, kw, g, cg).transpose(5, 0, 1, 2, 3, 4, 6)
            ).reshape(g, m, k)
            w2 = xp.ascontiguousarray(
                w.reshape(kh, kw, cg, g, fg).transpose(3, 0, 1, 2, 4)).reshape(g, k, fg)
            y = xp.ascontiguousarray(xp.matmul(cols, w2).transpose(1, 0, 2)).reshape(m, f)
        if b is not None and g > 1:
            y += b
        if self.activation == "relu":
            backend_of(y).bias_act(y, None, True)  # one threaded pass where fused
            self.y = y
        need = self.needs_input_grad
        if need:
            self.cols = cols if need[1] or (self.fused_bias and need[2]) else None
            self.w2 = w2 if need[0] else None
            self.meta = (x.shape, xpad.shape, (oh, ow), w.shape)
        y = y.reshape(n, oh, ow, f)
        return y[:, 0] if self.one_d else y

    # set by a max pool over this node's output to the input gradient it returns with the
    # ReLU mask already applied (``ops.pool.Pool.backward``): that exact array skips the pass
    relu_applied_to = None

    def backward(self, gy):
        xp = xp_of(gy)
        (n, h, wd, c), pshape, (oh, ow), wshape = self.meta
        kh, kw, cg, f = wshape
        g, m = self.groups, n * oh * ow
        masked = gy is self.relu_applied_to
        gy = gy.reshape(m, f)
        if self.activation == "relu" and not masked:
            gy = backend_of(gy).relu_grad(gy, self.y)
        need = self.needs_input_grad
        gx = gw = gb = None
        need_b = len(need) > 2 and need[2]
        if g == 1 and (need[1] or need_b):  # kernel and bias gradients: one GEMM
            gwb = self.cols.T @ gy
            k = kh * kw * cg
            gw = gwb[:k].reshape(wshape) if need[1] else None
            gb = gwb[k] if need_b else None
        elif need_b:
            gb = xp.ones(m, gy.dtype) @ gy  # a GEMV: much faster than sum(axis=0) on NumPy
        if g > 1:
            fg = f // g
            gyg = xp.ascontiguousarray(gy.reshape(m, g, fg).transpose(1, 0, 2))
        if need[1]:
            if g > 1:
                gw = xp.matmul(self.cols.transpose(0, 2, 1), gyg)  # (g, k, fg)
                gw = gw.reshape(g, kh, kw, cg, fg).transpose(1, 2, 3, 0, 4).reshape(wshape)
            if self.one_d:
                gw = gw[0]
        if need[0]:
            if g == 1:  # the backend's fused form, else one GEMM per kernel offset, each
                # added onto its input slab
                gx = backend_of(gy).conv_input_grad(gy, self.w2, (n, oh, ow), pshape, (kh, kw),
                                                    self.strides, self.dilation)
                if gx is None:
                    gx = col2im_gemm(xp, gy, self.w2.reshape(kh, kw, c, f), (n, oh, ow),
                                     pshape, self.strides, self.dilation)
            else:
                dcols = xp.matmul(gyg, self.w2.transpose(0, 2, 1))  # (g, m, k)
                dcols = dcols.reshape(g, n, oh, ow, kh, kw, cg).transpose(1, 2, 3, 4, 5, 0, 6)
                dcols = dcols.reshape(n, oh, ow, kh, kw, c)
                gx = col2im(xp, dcols, pshape, self.strides, self.dilation)
            (t, _), (left, _) = self.pads
            if gx.shape != (n, h, wd, c):
                gx = xp.ascontiguousarray(gx[:, t:t + h, left:left + wd])
            if self.one_d:
                gx = gx[:, 0]
        return gx, gw, gb


def im2col(xp: Any, xpad: Any, view: Any, out_hw: tuple[int, int], strides: tuple[int, int],
           dilation: tuple[int, int], ones: bool) -> Any:
    """The ``(N*OH*OW, kh*kw*C [+1])`` column matrix (a last column of ones when ``ones``).

    With one input channel it is built offset-major, ``(K, M)``, one contiguous slab copy per
    kernel offset, and returned transposed: far faster than gathering 1-wide rows.
    """
    n, oh, ow, kh, kw, c = view.shape
    m, k = n * oh * ow, kh * kw * c
    if c == 1:
        cols_t = xp.empty((k + ones, n, oh, ow), xpad.dtype)
        for i in range(kh):
            for j in range(kw):
                src = xpad[slab(out_hw, (i * dilation[0], j * dilation[1]), strides)]
                cols_t[i * kw + j] = src[..., 0]
        if ones:
            cols_t[k] = 1
        return cols_t.reshape(k + ones, m).T
    if not ones:
        return view.reshape(m, k)  # the im2col copy
    cols = xp.empty((m, k + 1), xpad.dtype)
    cols[:, k] = 1
    isz = cols.itemsize
    dst = xp.lib.stride_tricks.as_strided(  # the first k columns, seen as (n, oh, ow, kh, kw, c)
        cols, shape=view.shape, strides=((k + 1) * oh * ow * isz, (k + 1) * ow * isz,
                                          (k + 1) * isz, kw * c * isz, c * isz, isz))
    b = backend_of(xpad)

    def copy(r: slice) -> None:  # NumPy's copy releases the GIL: images split over the cores
        dst[r] = view[r]

    b.run_blocks(copy, b.row_blocks(n) if m * k >= 1 << 18 else [slice(0, n)])
    return cols


def col2im(xp: Any, dcols: Any, pshape: tuple, strides: tuple[int, int],
           dilation: tuple[int, int]) -> Any:
    """Sums ``dcols`` (N, OH, OW, kh, kw, C) back onto the (padded) input: one slab per offset."""
    _, oh, ow, kh, kw, _ = dcols.shape
    gx = xp.zeros(pshape, dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            gx[slab((oh, ow), (i * dilation[0], j * dilation[1]), strides)] += dcols[:, :, :, i, j]
    return gx


def col2im_gemm(xp: Any, gy: Any, w: Any, nhw: tuple, pshape: tuple, strides: tuple[int, int],
                dilation: tuple[int, int]) -> Any:
    """The input gradient ``sum over offsets of slab += gy @ w[i, j].T`` (groups=1).

    Each product is a contiguous ``(N*OH*OW, C)`` block, so the adds stream through memory;
    this beats one big GEMM followed by adds of a strided ``(.., kh, kw, C)`` buffer.
    """
    n, oh, ow = nhw
    kh, kw, c, _ = w.shape
    gx = xp.zeros(pshape, gy.dtype)
    tmp = xp.empty((n * oh * ow, c), gy.dtype)
    for i in range(kh):
        for j in range(kw):
            xp.matmul(gy, w[i, j].T, out=tmp)
            gx[slab((oh, ow), (i * dilation[0], j * dilation[1]), strides)] += tmp.reshape(
                n, oh, ow, c)
    return gx


def _tuple(v: Any, n: int, name: str) -> tuple:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(a) for a in v)
    if len(v) != n:
        raise ValueError(f"`{name}` must be an int or a tuple of {n} ints. Received: {name}={v}")
    return v


def conv2d(x: Any, kernel: Any, bias: Any = None, strides: Any = 1, padding: str = "valid",
           dilation_rate: Any = 1, groups: int = 1, activation: str | None = None) -> Tensor:
    """2-D convolution of NHWC ``x`` with a Keras-layout kernel ``(kh, kw, C/groups, filters)``.

    Args:
        x: ``(batch, height, width, channels)``.
        kernel: ``(kh, kw, channels // groups, filters)``.
        bias: optional ``(filters,)``, added in the same node.
        strides, dilation_rate: an int or a pair.
        padding: ``"valid"`` or ``"same"`` (TensorFlow arithmetic).
        groups: number of channel groups.
        activation: ``None`` or ``"relu"`` (fused).

    Returns:
        ``(batch, out_height, out_width, filters)``.
    """
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"conv2d: `padding` must be 'valid' or 'same'. Received: {padding!r}")
    fn = Conv(_tuple(strides, 2, "strides"), padding, _tuple(dilation_rate, 2, "dilation_rate"),
              int(groups), activation)
    args = (as_tensor(x), kernel) if bias is None else (as_tensor(x), kernel, bias)
    return fn(*args)


def conv1d(x: Any, kernel: Any, bias: Any = None, strides: int = 1, padding: str = "valid",
           dilation_rate: int = 1, groups: int = 1, activation: str | None = None) -> Tensor:
    """1-D convolution of ``x`` ``(batch, steps, channels)`` with a kernel ``(k, C/groups, F)``.

    ``padding`` may also be ``"causal"`` (left padding of ``dilation * (k - 1)``).
    """
    padding = padding.lower()
    if padding not in ("valid", "same", "causal"):
        raise ValueError("conv1d: `padding` must be 'valid', 'same' or 'causal'. Received: "
                         f"{padding!r}")
    s = _tuple(strides, 1, "strides")[0]
    d = _tuple(dilation_rate, 1, "dilation_rate")[0]
    fn = Conv((1, s), padding, (1, d), int(groups), activation)
    args = (as_tensor(x), kernel) if bias is None else (as_tensor(x), kernel, bias)
    return fn(*args)

