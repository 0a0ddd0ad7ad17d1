"""Fused, numerically stable cross-entropy ops on logits."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of, numpy_backend
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops.nn import softmax_parts

_ndarray = numpy_backend().xp.ndarray  # host label arrays need no wrapping


_UNSIGNED = {1: "u1", 2: "u2", 4: "u4", 8: "u8"}


def check_label_range(lab: Any, k: int) -> None:
    """Integer labels on the host must lie in ``[0, k)``. One pass: a signed label read as
    unsigned is ``>= k`` exactly when it is negative or too large."""
    top = lab.view(_UNSIGNED[lab.dtype.itemsize]) if lab.dtype.kind == "i" else lab
    if int(top.max()) < k:
        return
    lo, hi = int(lab.min()), int(lab.max())
    raise ValueError(
        f"Received a label value of {lo if lo < 0 else hi} which is outside the valid "
        f"range of [0, {k - 1}] for loss 'sparse_categorical_crossentropy' "
        f"(predictions have {k} classes).")


class SparseSoftmaxCrossEntropy(Function):
    """Per-sample ``logsumexp(z) - z[label]`` over the last axis; labels are integers.

    ``parts``: ``softmax_parts`` of the softmax already taken of these logits (its max, sum
    and probabilities are reused, not computed again). ``mean``: the mean over the samples
    instead of one value per sample (the per-sample values and their mean in one node).
    """

    def __init__(self, parts: tuple | None = None, mean: bool = False):
        self.parts, self.mean = parts, mean

    def forward(self, z, labels):
        xp = xp_of(z)
        k = z.shape[-1]
        z2 = z if z.ndim == 2 else z.reshape(-1, k)
        lab = labels if labels.ndim == 1 else labels.reshape(-1)
        if lab.dtype.kind != "i":  # (unsigned too: int64 + uint64 makes floats)
            lab = lab.astype(xp.int64)
        if lab.size and backend_of(lab).is_host:  # no host read per step on a device
            check_label_range(lab, k)
        at = xp.arange(0, z2.shape[0] * k, k)  # the labels' places in the flat rows
        at += lab
        parts, self.parts = self.parts, None
        if parts is None:
            m = z2.max(axis=1, keepdims=True)
            e = z2 - m
            picked = e.reshape(-1).take(at)
            xp.exp(e, out=e)
            s = e.sum(axis=1)
            loss = xp.log(s) - picked
            e /= s[:, None]
            self.own = True  # backward may overwrite e
        else:  # the same numbers: (z - m)[i, label] is z[i, label] - m[i]
            m, s, e = parts
            picked = z2.reshape(-1).take(at)
            picked -= m.reshape(-1)
            loss = xp.log(s.reshape(-1))
            loss -= picked
            if e.ndim != 2:
                e = e.reshape(-1, k)
            self.own = False
        self.p, self.at, self.shape = e, at, z.shape
        if z.ndim != 2:
            loss = loss.reshape(z.shape[:-1])
        if not self.mean:
            return loss
        self.count = loss.size  # as ops.mean: the sum over all axes, divided by the size
        return loss.sum(axis=None, keepdims=False) / self.count

    def backward(self, gy):
        g = self.p if self.own else self.p.copy()
        flat = g.reshape(-1)
        flat[self.at] -= 1
        g *= gy / self.count if self.mean else gy.reshape(-1, 1)
        return g.reshape(self.shape), None


class SoftmaxCrossEntropy(Function):
    """Per-sample ``-sum(y * log_softmax(z))`` over the last axis.

    ``parts`` and ``mean`` as for ``SparseSoftmaxCrossEntropy``.
    """

    def __init__(self, parts: tuple | None = None, mean: bool = False):
        self.parts, self.mean = parts, mean

    def forward(self, z, y):
        xp = xp_of(z)
        parts, self.parts = self.parts, None
        if parts is None:
            m = z.max(axis=-1, keepdims=True)
            zm = z - m
            e = xp.exp(zm)
            s = e.sum(axis=-1, keepdims=True)
            p = e / s
        else:
            m, s, p = parts
            zm = z - m
        logp = zm - xp.log(s)
        self.p, self.y, self.logp = p, y, logp
        loss = -(y * logp).sum(axis=-1)
        if not self.mean:
            return loss
        self.count = loss.size
        return loss.sum(axis=None, keepdims=False) / self.count

    def backward(self, gy):
        g = gy / self.count if self.mean else gy[..., None]
        gz = (self.p * self.y.sum(axis=-1, keepdims=True) - self.y) * g
        gt = -self.logp * g if self.needs_input_grad[1] else None
        return gz, gt


class SigmoidCrossEntropy(Function):
    """Elementwise ``max(z, 0) - z*y + log(1 + exp(-|z|))`` (binary CE on logits)."""

    def forward(self, z, y):
        xp = xp_of(z)
        self.z, self.y = z, y
        return xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))

    def backward(self, gy):
        xp = xp_of(gy)
        s = 0.5 * (xp.tanh(0.5 * self.z) + 1)
        gz = (s - self.y) * gy
        gt = -self.z * gy if self.needs_input_grad[1] else None
        return gz, gt


def sparse_softmax_cross_entropy(logits: Any, labels: Any, probs: Tensor | None = None,
                                 mean: bool = False) -> Tensor:
    """Cross-entropy of integer ``labels`` against softmax(``logits``), per sample.

    Args:
        logits: scores, shape ``[..., K]``.
        labels: integer classes in ``[0, K)``, shape ``[...]`` (checked on the host).
        probs: ``softmax(logits)`` when the caller has it (a softmax output layer): its
            max, sum and probabilities are reused where the graph kept them.
        mean: return the mean over all samples (a scalar) instead of per-sample values.
    """
    logits = as_tensor(logits)
    if labels.__class__ is not logits.data.__class__ or labels.__class__ is not _ndarray:
        labels = as_tensor(labels, logits)  # (host arrays go in as they are)
    return SparseSoftmaxCrossEntropy(softmax_parts(probs, logits), mean)(logits, labels)


def softmax_cross_entropy(logits: Any, targets: Any, probs: Tensor | None = None,
                          mean: bool = False) -> Tensor:
    """Cross-entropy of probability ``targets`` against softmax(``logits``), per sample.

    ``probs`` and ``mean`` as for ``sparse_softmax_cross_entropy``.
    """
    logits = as_tensor(logits)
    return SoftmaxCrossEntropy(softmax_parts(probs, logits), mean)(
        logits, as_tensor(targets, logits))


def sigmoid_cross_entropy(logits: Any, targets: Any) -> Tensor:
    """Elementwise binary cross-entropy of ``targets`` against sigmoid(``logits``)."""
    return SigmoidCrossEntropy()(as_tensor(logits), as_tensor(targets, logits))
