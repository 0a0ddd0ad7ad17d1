"""Gradient checks (float64, central differences) of every loss w.r.t. y_pred."""

import numpy as np
import pytest

from gpunet import losses, ops
from gpunet.autograd.gradcheck import check_grad

RNG = np.random.default_rng(1)
N, K = 3, 4


def onehot():
    return np.eye(K)[RNG.integers(0, K, N)]


def probs():
    p = RNG.uniform(0.1, 1.0, (N, K))
    return p / p.sum(-1, keepdims=True)


def away_from(x, kinks, gap=0.05):
    """Moves values off the points where a loss has a kink, so differences are clean."""
    for k in kinks:
        x = np.where(np.abs(x - k) < gap, k + gap * np.sign(x - k + 1e-12), x)
    return x


CASES = {
    "categorical_crossentropy": (onehot, probs, {}),
    "cce_logits_smoothing": (onehot, lambda: RNG.normal(size=(N, K)),
                             {"from_logits": True, "label_smoothing": 0.1}),
    "cce_axis0": (lambda: np.eye(N)[:, RNG.integers(0, N, K)], lambda: RNG.uniform(0.1, 1, (N, K)),
                  {"axis": 0}),
    "sparse_categorical_crossentropy": (lambda: RNG.integers(0, K, N).astype(float), probs, {}),
    "sparse_logits_ignore": (lambda: np.array([0.0, -1.0, 3.0]), lambda: RNG.normal(size=(N, K)),
                             {"from_logits": True, "ignore_class": -1}),
    "binary_crossentropy": (lambda: RNG.integers(0, 2, (N, K)).astype(float),
                            lambda: RNG.uniform(0.1, 0.9, (N, K)), {"label_smoothing": 0.2}),
    "bce_logits": (lambda: RNG.integers(0, 2, (N, K)).astype(float),
                   lambda: RNG.normal(size=(N, K)) * 2, {"from_logits": True}),
    "mean_squared_error": (lambda: RNG.normal(size=(N, K)), lambda: RNG.normal(size=(N, K)), {}),
    "mean_absolute_error": (lambda: np.zeros((N, K)),
                            lambda: away_from(RNG.normal(size=(N, K)), [0]), {}),
    "mean_absolute_percentage_error": (lambda: RNG.uniform(1, 2, (N, K)),
                                       lambda: RNG.uniform(-1, 0.5, (N, K)), {}),
    "mean_squared_logarithmic_error": (lambda: RNG.uniform(0, 2, (N, K)),
                                       lambda: RNG.uniform(0.1, 2, (N, K)), {}),
    "hinge": (lambda: RNG.integers(0, 2, (N, K)).astype(float),
              lambda: away_from(RNG.normal(size=(N, K)), [-1, 1]), {}),
    "squared_hinge": (lambda: RNG.choice([-1.0, 1.0], (N, K)),
                      lambda: RNG.normal(size=(N, K)), {}),
    "categorical_hinge": (onehot, lambda: RNG.normal(size=(N, K)) * 2, {}),
    "kl_divergence": (probs, probs, {}),
    "poisson": (lambda: RNG.uniform(0, 3, (N, K)), lambda: RNG.uniform(0.2, 3, (N, K)), {}),
    "huber": (lambda: np.zeros((N, K)), lambda: away_from(RNG.normal(size=(N, K)) * 1.5,
                                                          [-0.7, 0, 0.7]), {"delta": 0.7}),
    "log_cosh": (lambda: RNG.normal(size=(N, K)), lambda: RNG.normal(size=(N, K)) * 3, {}),
    "cosine_similarity": (lambda: RNG.normal(size=(N, K)), lambda: RNG.normal(size=(N, K)), {}),
}

FN = {"cce_logits_smoothing": "categorical_crossentropy",
      "cce_axis0": "categorical_crossentropy",
      "sparse_logits_ignore": "sparse_categorical_crossentropy",
      "bce_logits": "binary_crossentropy"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_gradient_wrt_y_pred(backend, case):
    make_y, make_p, kw = CASES[case]
    y, p = make_y(), make_p()
    fn = getattr(losses, FN.get(case, case))
    if "sparse" in case:   # integer labels: keep them out of the finite differences
        lab = backend.asarray(y)
        check_grad(lambda yp: fn(lab, yp, **kw), [p], backend=backend)
        return
    check_grad(lambda yt, yp: fn(yt, yp, **kw), [y, p], backend=backend, wrt=[1])


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
def test_loss_class_gradient_with_weights(backend, reduction):
    y, p = RNG.normal(size=(N, K)), RNG.normal(size=(N, K))
    w = backend.asarray(np.array([1.0, 0.0, 2.5]))
    loss = losses.LogCosh(reduction=reduction)
    check_grad(lambda yt, yp: loss(yt, yp, sample_weight=w), [y, p], backend=backend, wrt=[1])


def test_fused_softmax_gradient(backend):
    y = onehot()
    z = RNG.normal(size=(N, K))
    check_grad(lambda yt, zz: losses.categorical_crossentropy(yt, ops.softmax(zz)), [y, z],
               backend=backend, wrt=[1])
    yb = RNG.integers(0, 2, (N, 1)).astype(float)
    check_grad(lambda yt, zz: losses.binary_crossentropy(yt, ops.sigmoid(zz)),
               [yb, RNG.normal(size=(N, 1))], backend=backend, wrt=[1])


def test_masked_mean_gradient(backend):
    lab = np.array([1.0, -1.0, 2.0])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1, from_logits=True)
    lab = backend.asarray(lab)
    check_grad(lambda z: loss(lab, z), [RNG.normal(size=(N, K))], backend=backend)
