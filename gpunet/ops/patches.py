"""``unfold`` (im2col) and ``fold`` (col2im) on channels-first images, as Keras 3's
(PyTorch's) ``unfold``/``fold``: ``unfold`` is a gather, ``fold`` its adjoint scatter-add."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.gather import gather_apply

__all__ = ["fold", "unfold"]


def _pair(v: Any, name: str) -> tuple:
    t = (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in v)
    if len(t) != 2:
        raise ValueError(f"unfold/fold: `{name}` must be an int or two ints. Received: {v!r}")
    return t


def _windows(xp: Any, a: Any, fill: Any, k: tuple, d: tuple, p: tuple, s: tuple) -> Any:
    """``(N, C, H, W) -> (N, C * kh * kw, L)`` with ``fill`` in the padding."""
    n, c, h, w = a.shape
    ap = xp.pad(a, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])),
                constant_values=fill if isinstance(fill, int) else 0)
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"unfold: the kernel {k} (dilation {d}) does not fit the padded input "
                         f"of spatial size {(h + 2 * p[0], w + 2 * p[1])}.")
    cols = [ap[:, :, i * d[0]: i * d[0] + s[0] * (oh - 1) + 1: s[0],
               j * d[1]: j * d[1] + s[1] * (ow - 1) + 1: s[1]]
            for i in range(k[0]) for j in range(k[1])]
    return xp.stack(cols, axis=2).reshape(n, c * k[0] * k[1], oh * ow)


def unfold(x: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """Sliding blocks of a channels-first image ``(N, C, H, W)`` as columns
    ``(N, C * kh * kw, L)`` (differentiable).

    Example:

    >>> ops.unfold(x, 2, stride=2)      # non-overlapping 2x2 patches
    """
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"unfold: `x` must be 4-D (N, C, H, W). Received shape "
                         f"{tuple(x.shape)}.")
    args = (_pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"),
            _pair(padding, "padding"), _pair(stride, "stride"))
    return gather_apply(x, lambda xp, a, fill: _windows(xp, a, fill, *args))


class Fold(Function):
    """Scatter-adds columns into an image: the adjoint of ``unfold`` (a gather backward)."""

    def __init__(self, idx: Any, size: int, shape: tuple):
        self.idx, self.size, self.shape = idx, size, shape

    def forward(self, cols):
        xp = xp_of(cols)
        y = xp.bincount(self.idx.reshape(-1), weights=cols.reshape(-1), minlength=self.size + 1)
        return y[: self.size].astype(cols.dtype).reshape(self.shape)

    def backward(self, gy):
        xp = xp_of(gy)
        flat = xp.concatenate([gy.reshape(-1), xp.zeros(1, gy.dtype)])
        return flat[self.idx]


def fold(x: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """Sums columns ``(N, C * kh * kw, L)`` back into an image ``(N, C, H, W)`` of spatial
    ``output_size``: overlapping entries add up (``fold(unfold(x))`` counts each pixel once
    per window covering it)."""
    x = as_tensor(x)
    k, d = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    p, s = _pair(padding, "padding"), _pair(stride, "stride")
    h, w = _pair(output_size, "output_size")
    n, ck, _ = x.shape
    if ck % (k[0] * k[1]):
        raise ValueError(f"fold: axis 1 of `x` ({ck}) must be a multiple of kh * kw = "
                         f"{k[0] * k[1]}.")
    shape = (n, ck // (k[0] * k[1]), h, w)
    size = n * shape[1] * h * w
    xp = xp_of(x)
    idx = _windows(xp, xp.arange(size).reshape(shape), size, k, d, p, s)
    if idx.shape != x.shape:
        raise ValueError(f"fold: `x` of shape {tuple(x.shape)} does not match the "
                         f"{tuple(idx.shape)} columns of an output of size {(h, w)}.")
    return Fold(idx, size, shape)(x)
