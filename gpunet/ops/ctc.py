"""CTC: the fused ``CTCLoss`` node (used by ``gpunet.losses.ctc``) and Keras 3's
``ops.ctc_loss`` / ``ops.ctc_decode`` (greedy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of
from gpunet.ops import math as M
from gpunet.ops._utils import as_tensor, xp_of

__all__ = ["CTCLoss", "ctc_decode", "ctc_loss"]

def _lse(xp: Any, *xs: Any) -> Any:
    """Elementwise log(sum(exp(x))) of same-shape arrays; all ``-inf`` gives ``-inf``."""
    m = xs[0]
    for x in xs[1:]:
        m = xp.maximum(m, x)
    ms = xp.where(xp.isfinite(m), m, 0.0)
    s = 0.0
    for x in xs:
        s = s + xp.exp(x - ms)
    with np.errstate(divide="ignore"):
        return xp.log(s) + ms


def _shift(xp: Any, a: Any, k: int, fill: Any) -> Any:
    """``a`` moved ``k`` states along the last axis (right for ``k > 0``), padded with ``fill``."""
    out = xp.full_like(a, fill)
    u = a.shape[-1]
    if abs(k) < u:
        if k > 0:
            out[..., k:] = a[..., :u - k]
        else:
            out[..., :u + k] = a[..., -k:]
    return out


class CTCLoss(Function):
    """Per-sample CTC negative log-likelihood ``-log p(labels | logits)`` (blank = class 0).

    ``forward(logits [B, T, K], ext [B, U], lengths [B])``: ``ext`` is the label sequence
    with blanks interleaved (``0, l1, 0, l2, ..., 0``, ``U = 2 S + 1``) and ``lengths`` the
    number of labels of each row. The alpha (forward) recursion runs in log space over time,
    vectorised over the batch and the states; backward runs the beta recursion and returns
    ``softmax(logits) - occupancy`` (the posterior probability of each class at each step).
    Rows whose labels cannot fit in ``T`` steps get an infinite loss and a zero gradient.
    """

    def forward(self, z, ext, lengths):
        xp = backend_of(z).xp
        b, t_len, _ = z.shape
        zm = z - z.max(axis=-1, keepdims=True)
        logp = zm - xp.log(xp.exp(zm).sum(axis=-1, keepdims=True))
        u = ext.shape[1]
        lp = xp.take_along_axis(logp, xp.broadcast_to(ext[:, None, :], (b, t_len, u)), axis=2)
        skip = (ext != 0) & (ext != _shift(xp, ext, 2, -1))
        neg = xp.asarray(-np.inf, dtype=z.dtype)
        alpha = xp.full((t_len, b, u), neg, dtype=z.dtype)
        alpha[0, :, 0] = lp[:, 0, 0]
        if u > 1:
            alpha[0, :, 1] = lp[:, 0, 1]
        for t in range(1, t_len):
            a = alpha[t - 1]
            a2 = xp.where(skip, _shift(xp, a, 2, neg), neg)
            alpha[t] = _lse(xp, a, _shift(xp, a, 1, neg), a2) + lp[:, t]
        rows = xp.arange(b)
        last = alpha[-1, rows, 2 * lengths]
        prev = xp.where(lengths > 0, alpha[-1, rows, xp.maximum(2 * lengths - 1, 0)], neg)
        logz = _lse(xp, last, prev)
        self.logp, self.lp, self.alpha, self.ext, self.skip = logp, lp, alpha, ext, skip
        self.lengths, self.logz = lengths, logz
        return -logz

    def backward(self, gy):
        xp = backend_of(gy).xp
        alpha, lp, ext, lengths = self.alpha, self.lp, self.ext, self.lengths
        t_len, b, u = alpha.shape
        neg = xp.asarray(-np.inf, dtype=alpha.dtype)
        rows = xp.arange(b)
        skip2 = _shift(xp, self.skip, -2, False)
        beta = xp.full_like(alpha, neg)
        beta[-1, rows, xp.maximum(2 * lengths - 1, 0)] = xp.where(lengths > 0, 0.0, neg)
        beta[-1, rows, 2 * lengths] = 0.0   # after: with no labels both indices are 0
        for t in range(t_len - 2, -1, -1):
            nb = beta[t + 1] + lp[:, t + 1]
            b2 = xp.where(skip2, _shift(xp, nb, -2, neg), neg)
            beta[t] = _lse(xp, nb, _shift(xp, nb, -1, neg), b2)
        ok = xp.isfinite(self.logz)
        logz = xp.where(ok, self.logz, 0.0)
        post = xp.exp(alpha + beta - logz[None, :, None]).transpose(1, 0, 2)   # [B, T, U]
        onehot = (ext[:, :, None] == xp.arange(self.logp.shape[-1])).astype(post.dtype)
        occ = xp.matmul(post, onehot)                                        # [B, T, K]
        g = (xp.exp(self.logp) - occ) * (gy * ok)[:, None, None]
        return g, None, None



def _blank_first(z: Tensor, mask_index: int) -> tuple:
    """Moves class ``mask_index`` to position 0 (CTCLoss's blank); the class map for labels."""
    k = z.shape[-1]
    if mask_index == 0:
        return z, None
    from gpunet.ops.gather import take

    perm = [mask_index] + [c for c in range(k) if c != mask_index]
    new_index = np.empty(k, np.int64)
    new_index[perm] = np.arange(k)
    return take(z, np.array(perm), axis=-1), new_index


def ctc_loss(target: Any, output: Any, target_length: Any, output_length: Any,
             mask_index: int = 0) -> Tensor:
    """Per-sequence CTC loss ``-log p(target | output)`` (Keras 3's ``ops.ctc_loss``).

    Args:
        target: integer labels ``(batch, max_label_length)``; entries past
            ``target_length`` are ignored.
        output: logits ``(batch, max_time, num_classes)`` (a log-softmax is applied).
        target_length: ``(batch,)`` label counts.
        output_length: ``(batch,)`` valid time steps of each row of ``output``.
        mask_index: the blank class.

    Returns:
        ``(batch,)`` losses (``inf`` where the labels cannot fit, with a zero gradient).
    """
    z = as_tensor(output)
    xp = xp_of(z)
    if z.ndim != 3:
        raise ValueError(f"ctc_loss: `output` must be (batch, time, classes). Received shape "
                         f"{tuple(z.shape)}.")
    b, t_len, k = z.shape
    lab = as_tensor(target, z.data).data.astype("int64")
    tl = as_tensor(target_length, z.data).data.astype("int64").reshape(-1)
    ol = as_tensor(output_length, z.data).data.astype("int64").reshape(-1)
    z, new_index = _blank_first(z, int(mask_index))
    keep = xp.arange(lab.shape[1])[None, :] < tl[:, None]
    lab = xp.where(keep, lab, 0 if new_index is None else int(mask_index))
    if new_index is not None:
        lab = backend_of(lab).asarray(new_index)[lab]
    lab = xp.where(keep, lab, 0)
    ext = xp.zeros((b, 2 * lab.shape[1] + 1), dtype=lab.dtype)
    ext[:, 1::2] = lab
    # past its length, a row sees frames where the blank is certain: the paths that end on
    # the last label or the final blank keep their probability (alpha moves to the blank)
    pad = xp.full((k,), -1e9, z.dtype)
    pad[0] = 0
    live = (xp.arange(t_len)[None, :] < ol[:, None])[..., None]
    z = M.where(Tensor(live), z, Tensor(xp.broadcast_to(pad, z.shape)))
    return CTCLoss()(z, ext, tl)


def ctc_decode(inputs: Any, sequence_lengths: Any, strategy: str = "greedy",
               beam_width: int = 100, top_paths: int = 1, merge_repeated: bool = True,
               mask_index: int = 0) -> tuple:
    """Greedy CTC decoding (Keras 3's ``ops.ctc_decode`` with ``strategy="greedy"``).

    Returns:
        ``(decoded, log_probs)``: ``decoded`` of shape ``(1, batch, max_time)`` padded with
        ``-1``; ``log_probs`` of shape ``(batch, 1)``: as Keras 3 computes it, minus the sum
        over the valid steps of the largest entry of ``inputs`` (so for log-probabilities,
        the negated log-likelihood of the greedy path). ``strategy="beam_search"`` raises.
    """
    if strategy != "greedy":
        raise NotImplementedError("ctc_decode: only strategy='greedy' is implemented in "
                                  f"gpunet. Received: strategy={strategy!r}")
    z = as_tensor(inputs).data
    xp = xp_of(z)
    b, t_len, _ = z.shape
    lens = as_tensor(sequence_lengths, z).data.astype("int64").reshape(-1)
    ids = z.argmax(-1)
    live = xp.arange(t_len)[None, :] < lens[:, None]
    score = -(z.max(-1) * live).sum(-1, keepdims=True)  # Keras 3's score, exactly
    keep = live & (ids != mask_index)
    if merge_repeated:
        prev = xp.concatenate([xp.full((b, 1), -1, ids.dtype), ids[:, :-1]], 1)
        keep &= ids != prev
    pos = xp.cumsum(keep, 1) - 1
    out = xp.full((b, t_len), -1, "int32")
    rows = xp.broadcast_to(xp.arange(b)[:, None], (b, t_len))
    out[rows[keep], pos[keep]] = ids[keep].astype("int32")
    return Tensor(out[None]), Tensor(score.astype(z.dtype))
