"""Fused scaled dot-product attention: ``softmax(mask(Q Kᵀ · scale)) V`` as one node.

One ``Function`` does the score product, the masking, the softmax, the optional dropout on the
weights and the product with the values, over raw backend arrays, and its backward is written
by hand (no graph of a dozen small nodes per attention call).
"""

from __future__ import annotations

import math as _math
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops._utils import as_tensor


def large_negative(dtype: Any) -> float:
    """The fill value of masked scores (Keras: ``-3e4`` in float16, else ``-1e9``)."""
    return -3e4 if str(dtype) == "float16" else -1e9


def causal_mask(xp: Any, tq: int, tk: int) -> Any:
    """Boolean ``(tq, tk)``: query ``i`` may attend to key ``j`` only when ``j <= i``."""
    return xp.arange(tk)[None, :] <= xp.arange(tq)[:, None]


class ScaledDotProductAttention(Function):
    """``out = dropout(softmax(where(mask, scale · Q Kᵀ, -1e9))) V`` in one node.

    Inputs ``q (..., Tq, d)``, ``k (..., Tk, d)``, ``v (..., Tk, dv)`` with equal leading axes.
    Returns ``out`` or, with ``return_scores``, ``(out, weights)``.

    Args:
        scale: factor of the scores.
        mask: boolean array broadcastable to ``(..., Tq, Tk)`` (True = attend), or None.
        is_causal: also mask keys after the query position (``j > i``).
        dropout: rate of dropout on the attention weights (0: none).
        stream: optional ``SeedStream`` for the dropout draws.
        return_scores: also return the attention weights.
        zero_masked: zero the weights at masked positions after the softmax (Keras 3
            ``Softmax(mask)``; a fully masked row then gives zeros, not a uniform average).
        scores_after_dropout: the returned weights include the dropout (Keras ``Attention``)
            rather than being taken before it (``MultiHeadAttention``).
    """

    def __init__(self, scale: float, mask: Any = None, is_causal: bool = False,
                 dropout: float = 0.0, stream: Any = None, return_scores: bool = False,
                 zero_masked: bool = True, scores_after_dropout: bool = False) -> None:
        self.scale, self.mask, self.is_causal = float(scale), mask, is_causal
        self.rate, self.stream = float(dropout), stream
        self.return_scores, self.zero_masked = return_scores, zero_masked
        self.scores_after_dropout = scores_after_dropout

    def _full_mask(self, xp: Any, tq: int, tk: int) -> Any:
        mask = self.mask
        if mask is not None:
            mask = xp.asarray(mask).astype(bool)
        if self.is_causal:
            c = causal_mask(xp, tq, tk)
            mask = c if mask is None else mask & c
        return mask

    def forward(self, q, k, v):
        b = backend_of(q)
        xp = b.xp
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        s *= self.scale
        mask = self._full_mask(xp, q.shape[-2], k.shape[-2])
        if mask is not None:
            s = xp.where(mask, s, xp.asarray(large_negative(s.dtype), s.dtype))
        s -= s.max(axis=-1, keepdims=True)
        xp.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        if mask is not None and self.zero_masked:
            s *= mask
        p = s
        d = None
        if self.rate > 0:
            if self.rate >= 1:
                d = xp.zeros(p.shape, p.dtype)
            else:
                u = (b.random_uniform(p.shape, p.dtype) if self.stream is None
                     else self.stream.uniform(b, p.shape, p.dtype))
                d = (u >= self.rate).astype(p.dtype)
                d *= 1.0 / (1.0 - self.rate)
        w = p if d is None else p * d
        out = xp.matmul(w, v)
        self.q, self.k, self.v, self.p, self.d, self.m = q, k, v, p, d, mask
        if self.return_scores:
            return out, (w if self.scores_after_dropout else p)
        return out

    def backward(self, gout, gscores=None):
        xp = backend_of(gout).xp
        p, d, v = self.p, self.d, self.v
        w = p if d is None else p * d
        need_q, need_k, need_v = self.needs_input_grad
        gv = xp.matmul(xp.swapaxes(w, -1, -2), gout) if need_v else None
        if not (need_q or need_k):
            return None, None, gv
        gw = xp.matmul(gout, xp.swapaxes(v, -1, -2))
        if gscores is not None and self.scores_after_dropout:
            gw += gscores
        gp = gw if d is None else gw * d
        if gscores is not None and not self.scores_after_dropout:
            gp = gp + gscores
        gs = p * gp
        gs -= p * gs.sum(axis=-1, keepdims=True)
        if self.m is not None:
            gs *= self.m  # masked scores were replaced by a constant
        gs *= self.scale
        gq = xp.matmul(gs, self.k) if need_q else None
        gk = xp.matmul(xp.swapaxes(gs, -1, -2), self.q) if need_k else None
        return gq, gk, gv


def scaled_dot_product_attention(query: Any, key: Any, value: Any, mask: Any = None,
                                 scale: float | None = None, is_causal: bool = False,
                                 dropout: float = 0.0, return_attention_scores: bool = False,
                                 stream: Any = None, zero_masked: bool = True,
                                 scores_after_dropout: bool = False) -> Any:
    """Scaled dot-product attention over the last two axes, fused into one node.

    ``softmax(where(mask, query @ keyᵀ · scale, -1e9)) @ value``, the weights optionally
    dropped out (pass ``dropout`` only in training).

    Args:
        query: ``(..., Tq, d)``.
        key: ``(..., Tk, d)``.
        value: ``(..., Tk, dv)``.
        mask: boolean, broadcastable to ``(..., Tq, Tk)``; True where a query may attend.
        scale: factor of the scores (default ``1 / sqrt(d)``).
        is_causal: query ``i`` attends only to keys ``j <= i``.
        dropout: dropout rate on the attention weights.
        return_attention_scores: also return the weights ``(..., Tq, Tk)``.
        stream: a ``SeedStream`` for the dropout draws (default: the backend generator).
        zero_masked: zero the masked weights after the softmax (fully masked rows give 0).
        scores_after_dropout: return the weights after dropout rather than before.

    Returns:
        ``(..., Tq, dv)``, or ``(output, weights)`` with ``return_attention_scores``.

    Example:

    >>> q = np.ones((2, 4, 8), "float32")
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 8)
    """
    q = as_tensor(query)
    k, v = as_tensor(key, q.data), as_tensor(value, q.data)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention: `{name}` must have at least 2 "
                             f"axes (..., T, dim). Received shape {tuple(t.shape)}.")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("scaled_dot_product_attention: expected query (..., Tq, d), key "
                         "(..., Tk, d) and value (..., Tk, dv). Received shapes "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}.")
    if isinstance(mask, Tensor):
        mask = mask.data
    scale = 1.0 / _math.sqrt(q.shape[-1]) if scale is None else scale
    fn = ScaledDotProductAttention(scale, mask, is_causal, dropout, stream,
                                   return_attention_scores, zero_masked, scores_after_dropout)
    return fn(q, k, v)
