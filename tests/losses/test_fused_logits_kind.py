"""The fused-logits shortcut applies only to the matching activation: a categorical loss on a
sigmoid output (or a binary loss on a softmax output) takes the clip-then-log path."""

from __future__ import annotations

import numpy as np

from gpunet import losses, ops
from gpunet.autograd.tensor import Tensor


def test_categorical_on_sigmoid_and_binary_on_softmax_use_probabilities(backend):
    z = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]], "float64")
    y = np.array([[0, 0, 1.0], [1.0, 0, 0]])
    sig = 1 / (1 + np.exp(-z))
    q = np.clip(sig / sig.sum(1, keepdims=True), 1e-7, 1 - 1e-7)
    zt = Tensor(backend.asarray(z))
    got = losses.categorical_crossentropy(backend.asarray(y), ops.sigmoid(zt))
    np.testing.assert_allclose(backend.to_numpy(got.data), -(y * np.log(q)).sum(1), rtol=1e-6)
    sm = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p = np.clip(sm, 1e-7, 1 - 1e-7)
    got = losses.binary_crossentropy(backend.asarray(y), ops.softmax(zt))
    want = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(1)
    np.testing.assert_allclose(backend.to_numpy(got.data), want, rtol=1e-6)
    # the matching pairs still take the fused path and equal the formula
    got = losses.categorical_crossentropy(backend.asarray(y), ops.softmax(zt))
    np.testing.assert_allclose(backend.to_numpy(got.data), -(y * np.log(sm)).sum(1), rtol=1e-6)
