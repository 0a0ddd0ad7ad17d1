"""Fused, numerically stable cross-entropy ops on logits."""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops._utils import as_tensor, xp_of


class SparseSoftmaxCrossEntropy(Function):
    """Per-sample ``logsumexp(z) - z[label]`` over the last axis; labels are integers."""

    def forward(self, z, labels):
        xp = xp_of(z)
        k = z.shape[-1]
        z2 = z.reshape(-1, k)
        lab = labels.reshape(-1)
        if lab.dtype.kind not in "iu":
            lab = lab.astype(xp.int64)
        rows = xp.arange(z2.shape[0])
        m = z2.max(axis=1, keepdims=True)
        e = z2 - m
        picked = e[rows, lab]
        xp.exp(e, out=e)
        s = e.sum(axis=1)
        loss = xp.log(s) - picked
        e /= s[:, None]
        self.p, self.rows, self.lab, self.shape = e, rows, lab, z.shape
        return loss.reshape(z.shape[:-1])

    def backward(self, gy):
        g = self.p
        g[self.rows, self.lab] -= 1
        g *= gy.reshape(-1, 1)
        return g.reshape(self.shape), None


class SoftmaxCrossEntropy(Function):
    """Per-sample ``-sum(y * log_softmax(z))`` over the last axis."""

    def forward(self, z, y):
        xp = xp_of(z)
        m = z.max(axis=-1, keepdims=True)
        zm = z - m
        e = xp.exp(zm)
        s = e.sum(axis=-1, keepdims=True)
        logp = zm - xp.log(s)
        self.p, self.y, self.logp = e / s, y, logp
        return -(y * logp).sum(axis=-1)

    def backward(self, gy):
        g = gy[..., None]
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


def sparse_softmax_cross_entropy(logits: Any, labels: Any) -> Tensor:
    """Cross-entropy of integer ``labels`` against softmax(``logits``), per sample."""
    return SparseSoftmaxCrossEntropy()(as_tensor(logits), as_tensor(labels, logits))


def softmax_cross_entropy(logits: Any, targets: Any) -> Tensor:
    """Cross-entropy of probability ``targets`` against softmax(``logits``), per sample."""
    return SoftmaxCrossEntropy()(as_tensor(logits), as_tensor(targets, logits))


def sigmoid_cross_entropy(logits: Any, targets: Any) -> Tensor:
    """Elementwise binary cross-entropy of ``targets`` against sigmoid(``logits``)."""
    return SigmoidCrossEntropy()(as_tensor(logits), as_tensor(targets, logits))
