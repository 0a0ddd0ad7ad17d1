"""Fused normalization ops: batch, layer, group and RMS normalization as one node each.

One ``Normalize`` node computes ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the
statistics taken over ``reduce_axes`` (batch statistics, optionally weighted by a mask), or
with fixed statistics (BatchNormalization at inference). Its backward is the closed form:

    h = dy * gamma
    dx = inv * (h - mean_R(h) - xhat * mean_R(h * xhat))      (inv = 1 / sqrt(var + epsilon))
    dgamma = sum(dy * xhat), dbeta = sum(dy)                   (over the non-parameter axes)

so a normalization costs one node in the graph, not a dozen elementwise ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops._utils import as_tensor, xp_of


class Normalize(Function):
    """Normalization over ``reduce_axes`` followed by a per-parameter-axis scale and shift.

    Args:
        reduce_axes: non-negative axes the statistics are taken over.
        pshape: broadcast shape (rank of ``x``) of ``gamma`` / ``beta``; 1 on the axes that
            carry no parameter.
        epsilon: added to the variance.
        scale, center: whether ``gamma`` / ``beta`` follow ``x`` among the inputs.
        rms: divide by the root mean square instead of the standard deviation (no centring).
        stats: fixed ``(mean, variance)`` of shape ``pshape`` (inference); ``None`` uses the
            statistics of ``x``.
        mask: optional weights broadcastable to ``x`` (1 = counts in the statistics).

    After ``forward``, ``batch_mean`` / ``batch_var`` hold the statistics used (``keepdims``
    shape).
    """

    def __init__(self, reduce_axes: tuple, pshape: tuple | None, epsilon: float,
                 scale: bool, center: bool, rms: bool = False, stats: tuple | None = None,
                 mask: Any = None) -> None:
        self.reduce_axes, self.pshape, self.epsilon = tuple(reduce_axes), pshape, epsilon
        self.scale, self.center, self.rms = scale, center, rms
        self.stats, self.mask = stats, mask

    def forward(self, x, *params):
        xp = xp_of(x)
        r = self.reduce_axes
        gamma = params[0] if self.scale else None
        beta = params[-1] if self.center else None
        gb = None if gamma is None else gamma.reshape(self.pshape)
        bb = None if beta is None else beta.reshape(self.pshape)
        self.pshapes = [p.shape for p in params]
        self.gb = gb
        if self.stats is not None:  # fixed statistics: y = x * a + b
            mean = self.stats[0].reshape(self.pshape).astype(x.dtype, copy=False)
            var = self.stats[1].reshape(self.pshape).astype(x.dtype, copy=False)
            inv = 1.0 / xp.sqrt(var + self.epsilon)
            a = inv if gb is None else inv * gb
            y = x * a
            y -= mean * a
            if bb is not None:
                y += bb
            self.x, self.mean, self.inv, self.a = x, mean, inv, a
            self.batch_mean, self.batch_var = mean, var
            return y
        if self.rms:
            mean = None
            var = (x * x).mean(axis=r, keepdims=True)
            xc = x
        elif self.mask is None:
            mean = x.mean(axis=r, keepdims=True)
            xc = x - mean
            var = (xc * xc).mean(axis=r, keepdims=True)
        else:
            w = xp.broadcast_to(self.mask.astype(x.dtype, copy=False), x.shape)
            n = xp.maximum(w.sum(axis=r, keepdims=True), 1)
            mean = (w * x).sum(axis=r, keepdims=True) / n
            xc = x - mean
            var = (w * xc * xc).sum(axis=r, keepdims=True) / n
            self.wn = w / n
        inv = 1.0 / xp.sqrt(var + self.epsilon)
        xhat = xc * inv
        self.batch_mean, self.batch_var = mean, var
        self.xhat, self.inv = xhat, inv
        y = xhat * gb if gb is not None else xhat.copy()
        if bb is not None:
            y += bb
        return y

    def backward(self, gy):
        need = self.needs_input_grad
        pax = () if self.pshape is None else tuple(
            i for i, s in enumerate(self.pshape) if s == 1)
        fixed = self.stats is not None
        xhat = (self.x - self.mean) * self.inv if fixed and self.scale and need[1] else (
            None if fixed else self.xhat)
        grads = [None]
        if need[0]:
            if fixed:
                grads[0] = gy * self.a
            else:
                h = gy * self.gb if self.gb is not None else gy
                r = self.reduce_axes
                if self.rms:
                    gx = h - xhat * (h * xhat).mean(axis=r, keepdims=True)
                elif self.mask is None:
                    gx = h - h.mean(axis=r, keepdims=True)
                    gx -= xhat * (h * xhat).mean(axis=r, keepdims=True)
                else:
                    gx = h - self.wn * h.sum(axis=r, keepdims=True)
                    gx -= self.wn * xhat * (h * xhat).sum(axis=r, keepdims=True)
                gx *= self.inv
                grads[0] = gx
        i = 1
        if self.scale:
            grads.append((gy * xhat).sum(axis=pax).reshape(self.pshapes[0])
                         if need[i] else None)
            i += 1
        if self.center:
            grads.append(gy.sum(axis=pax).reshape(self.pshapes[-1]) if need[i] else None)
        return tuple(grads)


def _axes(axis: int | Sequence[int], ndim: int) -> tuple:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = tuple(sorted(a % ndim for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"Duplicate axis in {tuple(axes)} for an input of rank {ndim}.")
    return out


def _call(fn: Normalize, x: Any, gamma: Any, beta: Any) -> Tensor:
    ins = [as_tensor(x)] + [as_tensor(p) for p in (gamma, beta) if p is not None]
    return fn(*ins)


def batch_normalization(x: Any, gamma: Any = None, beta: Any = None, *,
                        axis: int | Sequence[int] = -1, epsilon: float = 1e-3,
                        mean: Any = None, variance: Any = None, mask: Any = None) -> tuple:
    """Batch normalization; statistics over every axis but ``axis``.

    Args:
        x: the input.
        gamma, beta: scale and offset shaped like the ``axis`` dimensions (or ``None``).
        axis: the kept (feature) axis or axes.
        epsilon: added to the variance.
        mean, variance: fixed statistics (inference); ``None`` uses the batch statistics
            (biased variance, weighted by ``mask`` when given).
        mask: optional boolean array over the leading axes of ``x``; masked entries do not
            count in the batch statistics.

    Returns:
        ``(y, mean, variance)``: the output Tensor and the statistics used (raw arrays shaped
        like ``gamma``).
    """
    x = as_tensor(x)
    keep = _axes(axis, x.ndim)
    pshape = tuple(x.shape[i] if i in keep else 1 for i in range(x.ndim))
    reduce_axes = tuple(i for i in range(x.ndim) if i not in keep)
    b = backend_of(x.data)
    stats = None
    if mean is not None or variance is not None:
        stats = tuple(b.asarray(s.data if isinstance(s, Tensor) else s)
                      for s in (mean, variance))
    if mask is not None and stats is None:
        mask = b.asarray(mask.data if isinstance(mask, Tensor) else mask)
        mask = mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim))
    else:
        mask = None
    fn = Normalize(reduce_axes, pshape, epsilon, gamma is not None, beta is not None,
                   stats=stats, mask=mask)
    y = _call(fn, x, gamma, beta)
    pdims = tuple(x.shape[i] for i in keep)
    return y, fn.batch_mean.reshape(pdims), fn.batch_var.reshape(pdims)


def layer_normalization(x: Any, gamma: Any = None, beta: Any = None, *,
                        axis: int | Sequence[int] = -1, epsilon: float = 1e-3,
                        rms_scaling: bool = False) -> Tensor:
    """Layer normalization over ``axis`` (statistics per sample), then ``gamma`` / ``beta``.

    With ``rms_scaling`` the input is divided by its root mean square (no centring) and only
    ``gamma`` applies.
    """
    x = as_tensor(x)
    axes = _axes(axis, x.ndim)
    pshape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
    fn = Normalize(axes, pshape, epsilon, gamma is not None, beta is not None, rms=rms_scaling)
    return _call(fn, x, gamma, beta)


def group_normalization(x: Any, gamma: Any = None, beta: Any = None, *, groups: int,
                        axis: int = -1, epsilon: float = 1e-3) -> Tensor:
    """Group normalization: the ``axis`` channels split into ``groups``; statistics per sample
    and group over the other non-batch axes; ``gamma`` / ``beta`` per channel."""
    from gpunet.ops.shape_ops import reshape

    x = as_tensor(x)
    a = axis % x.ndim
    c = x.shape[a]
    gshape = x.shape[:a] + (groups, c // groups) + x.shape[a + 1:]
    xr = reshape(x, gshape)
    reduce_axes = tuple(i for i in range(1, xr.ndim) if i != a)
    pshape = tuple(s if i in (a, a + 1) else 1 for i, s in enumerate(gshape))
    fn = Normalize(reduce_axes, pshape, epsilon, gamma is not None, beta is not None)
    return reshape(_call(fn, xr, gamma, beta), x.shape)
