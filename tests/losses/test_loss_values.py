"""Loss values against NumPy formulas written here (never the implementation) and hand values."""

import math

import numpy as np
import pytest

from gpunet import losses, ops
from gpunet.autograd.tensor import Tensor

EPS = 1e-7
RNG = np.random.default_rng(0)


# -- reference formulas (plain NumPy, float64) -------------------------------------------------
def ref_cce(y, p, smoothing=0.0):
    y = y * (1 - smoothing) + smoothing / y.shape[-1]
    q = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(y * np.log(q)).sum(-1)


def ref_cce_logits(y, z, smoothing=0.0):
    y = y * (1 - smoothing) + smoothing / y.shape[-1]
    logp = z - z.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    return -(y * logp).sum(-1)


def ref_bce(y, p, smoothing=0.0):
    y = y * (1 - smoothing) + 0.5 * smoothing
    q = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(-1)


def ref_bce_logits(y, z, smoothing=0.0):
    y = y * (1 - smoothing) + 0.5 * smoothing
    s = 1 / (1 + np.exp(-z))
    return -(y * np.log(s) + (1 - y) * np.log(1 - s)).mean(-1)


def ref_hinge_labels(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


REFS = {
    "mean_squared_error": lambda y, p: ((y - p) ** 2).mean(-1),
    "mean_absolute_error": lambda y, p: np.abs(y - p).mean(-1),
    "mean_absolute_percentage_error":
        lambda y, p: 100 * (np.abs(y - p) / np.maximum(np.abs(y), EPS)).mean(-1),
    "mean_squared_logarithmic_error":
        lambda y, p: ((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2)
        .mean(-1),
    "hinge": lambda y, p: np.maximum(1 - ref_hinge_labels(y) * p, 0).mean(-1),
    "squared_hinge": lambda y, p: (np.maximum(1 - ref_hinge_labels(y) * p, 0) ** 2).mean(-1),
    "categorical_hinge":
        lambda y, p: np.maximum((p * (1 - y)).max(-1) - (p * y).sum(-1) + 1, 0),
    "kl_divergence":
        lambda y, p: (np.clip(y, EPS, 1) * np.log(np.clip(y, EPS, 1) / np.clip(p, EPS, 1)))
        .sum(-1),
    "poisson": lambda y, p: (p - y * np.log(p + EPS)).mean(-1),
    "log_cosh": lambda y, p: np.log(np.cosh(p - y)).mean(-1),
    "cosine_similarity":
        lambda y, p: -((y / np.linalg.norm(y, axis=-1, keepdims=True))
                       * (p / np.linalg.norm(p, axis=-1, keepdims=True))).sum(-1),
    "huber": lambda y, p: np.where(np.abs(p - y) <= 1.0, 0.5 * (p - y) ** 2,
                                   np.abs(p - y) - 0.5).mean(-1),
    "categorical_crossentropy": ref_cce,
    "binary_crossentropy": ref_bce,
}


def data_for(name, n=5, k=4):
    """Targets and predictions in each loss's natural domain."""
    if name in ("categorical_crossentropy", "categorical_hinge"):
        y = np.eye(k)[RNG.integers(0, k, n)]
        p = RNG.uniform(0.05, 1.0, (n, k))
        return y, p / p.sum(-1, keepdims=True) if name == "categorical_crossentropy" else p
    if name in ("binary_crossentropy", "hinge", "squared_hinge"):
        return RNG.integers(0, 2, (n, k)).astype(float), RNG.uniform(0.05, 0.95, (n, k))
    if name == "kl_divergence":
        y, p = RNG.uniform(0.05, 1, (n, k)), RNG.uniform(0.05, 1, (n, k))
        return y / y.sum(-1, keepdims=True), p / p.sum(-1, keepdims=True)
    if name in ("poisson", "mean_squared_logarithmic_error"):
        return RNG.uniform(0, 3, (n, k)), RNG.uniform(0.1, 3, (n, k))
    return RNG.normal(size=(n, k)) * 2, RNG.normal(size=(n, k)) * 2


def per_sample(fn, y, p, backend, **kw):
    out = fn(backend.asarray(y.astype("float32")), backend.asarray(p.astype("float32")), **kw)
    assert isinstance(out, Tensor)
    return backend.to_numpy(out.data)


@pytest.mark.parametrize("name", sorted(REFS))
def test_loss_function_matches_numpy_formula(backend, name):
    y, p = data_for(name)
    got = per_sample(getattr(losses, name), y, p, backend)
    assert got.shape == (5,)
    np.testing.assert_allclose(got, REFS[name](y, p), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", sorted(REFS))
def test_single_sample_batch(backend, name):
    y, p = data_for(name, n=1)
    got = per_sample(getattr(losses, name), y, p, backend)
    assert got.shape == (1,)
    np.testing.assert_allclose(got, REFS[name](y, p), rtol=2e-5, atol=2e-5)


def test_aliases_are_the_same_functions():
    assert losses.get("mse") is losses.mean_squared_error is losses.MSE
    assert losses.get("mae") is losses.mean_absolute_error
    assert losses.get("mape") is losses.mean_absolute_percentage_error
    assert losses.get("msle") is losses.mean_squared_logarithmic_error
    assert losses.get("kld") is losses.kl_divergence
    assert losses.get("kullback_leibler_divergence") is losses.kl_divergence
    assert losses.get("bce") is losses.binary_crossentropy
    assert losses.get("logcosh") is losses.log_cosh
    assert isinstance(losses.get("Huber"), losses.Huber)


# -- Keras's documented numbers (worked by hand) ------------------------------------------------
def test_keras_documented_examples(backend):
    a = backend.asarray
    yt, yp = a(np.array([[0, 1], [0, 0]], "float32")), a(np.array([[0.6, 0.4], [0.4, 0.6]],
                                                                   "float32"))
    # -(log 0.4 + log 0.4) / 2 = 0.916 ; -(log 0.6 + log 0.4) / 2 = 0.714
    np.testing.assert_allclose(backend.to_numpy(losses.binary_crossentropy(yt, yp).data),
                               [-math.log(0.4), -(math.log(0.6) + math.log(0.4)) / 2],
                               rtol=1e-5)
    # huber: errors .6,.6,.4,.6 all below delta=1: mean(0.5 e^2) over both rows = 0.155
    assert float(losses.Huber()(yt, yp).data) == pytest.approx(0.155, rel=1e-5)
    # log_cosh([[0,1],[0,0]], [[1,1],[0,0]]) = log(cosh(1)) / 4 = 0.108
    lc = losses.LogCosh()(a(np.array([[0., 1], [0, 0]])), a(np.array([[1., 1], [0, 0]])))
    assert float(lc.data) == pytest.approx(math.log(math.cosh(1)) / 4, rel=1e-6)
    # BinaryCrossentropy(from_logits=True): 0.8654, weighted 0.243, sum 1.730, none
    z = a(np.array([[-18.6, 0.51], [2.94, -12.8]], "float32"))
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert float(bce(yt, z).data) == pytest.approx(0.8654, abs=1e-4)
    assert float(bce(yt, z, sample_weight=[0.8, 0.2]).data) == pytest.approx(0.2436, abs=1e-4)
    s = losses.BinaryCrossentropy(from_logits=True, reduction="sum")(yt, z)
    assert float(s.data) == pytest.approx(1.7309, abs=1e-4)
    none = losses.BinaryCrossentropy(from_logits=True, reduction=None)(yt, z)
    np.testing.assert_allclose(backend.to_numpy(none.data), [0.2352, 1.4958], atol=1e-4)
    # categorical: [0.0513, 2.303]
    cce = losses.categorical_crossentropy(a(np.array([[0, 1, 0], [0, 0, 1.]])),
                                          a(np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])))
    np.testing.assert_allclose(backend.to_numpy(cce.data), [-math.log(0.95), -math.log(0.1)],
                               rtol=1e-6)
    sce = losses.sparse_categorical_crossentropy(
        a(np.array([1, 2])), a(np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])))
    np.testing.assert_allclose(backend.to_numpy(sce.data), [-math.log(0.95), -math.log(0.1)],
                               rtol=1e-6)
    cs = losses.cosine_similarity(a(np.array([[0., 1], [1, 1], [1, 1]])),
                                  a(np.array([[1., 0], [1, 1], [-1, -1]])))
    np.testing.assert_allclose(backend.to_numpy(cs.data), [0, -1, 1], atol=1e-6)


# -- cross-entropy options ------------------------------------------------------------------
@pytest.mark.parametrize("s", [0.0, 0.1, 1.0])
def test_label_smoothing(backend, s):
    y, p = data_for("categorical_crossentropy")
    got = per_sample(losses.categorical_crossentropy, y, p, backend, label_smoothing=s)
    np.testing.assert_allclose(got, ref_cce(y, p, s), rtol=1e-5)
    y, p = data_for("binary_crossentropy")
    got = per_sample(losses.binary_crossentropy, y, p, backend, label_smoothing=s)
    np.testing.assert_allclose(got, ref_bce(y, p, s), rtol=1e-5)


def test_from_logits(backend):
    y = np.eye(4)[[0, 3, 1]]
    z = RNG.normal(size=(3, 4)) * 3
    got = per_sample(losses.categorical_crossentropy, y, z, backend, from_logits=True,
                     label_smoothing=0.2)
    np.testing.assert_allclose(got, ref_cce_logits(y, z, 0.2), rtol=1e-5)
    got = per_sample(losses.sparse_categorical_crossentropy, np.array([0., 3, 1]), z, backend,
                     from_logits=True)
    np.testing.assert_allclose(got, ref_cce_logits(y, z), rtol=1e-5)
    yb = RNG.integers(0, 2, (3, 4)).astype(float)
    got = per_sample(losses.binary_crossentropy, yb, z, backend, from_logits=True,
                     label_smoothing=0.1)
    np.testing.assert_allclose(got, ref_bce_logits(yb, z, 0.1), rtol=1e-5)


def test_fused_softmax_and_sigmoid_paths_use_the_logits(backend):
    z = Tensor(backend.asarray(np.array([[30.0, 0.0, -30.0]])), requires_grad=True)
    y = backend.asarray(np.array([[0.0, 0.0, 1.0]]))
    loss = losses.categorical_crossentropy(y, ops.softmax(z))
    # clip-then-log would stop at -log(1e-7) = 16.1; the fused form gives the true 60
    assert float(loss.data[0]) == pytest.approx(60.0, rel=1e-6)
    loss.backward()
    assert np.abs(backend.to_numpy(z.grad)).max() > 0.5
    zb = Tensor(backend.asarray(np.array([[40.0]])))
    bce = losses.binary_crossentropy(backend.asarray(np.array([[0.0]])), ops.sigmoid(zb))
    assert float(bce.data[0]) == pytest.approx(40.0, rel=1e-6)
    sce = losses.sparse_categorical_crossentropy(backend.asarray(np.array([2])), ops.softmax(z))
    assert float(sce.data[0]) == pytest.approx(60.0, rel=1e-6)


def test_probabilities_exactly_zero_and_one(backend):
    y = np.array([[0.0, 1.0, 0.0, 1.0]])
    p = np.array([[0.0, 1.0, 1.0, 0.0]])
    got = per_sample(losses.binary_crossentropy, y, p, backend)
    assert np.isfinite(got).all()
    # computed in float32 like the loss: 1 - 1e-7 rounds to 1 - 1.19e-7 there
    np.testing.assert_allclose(got, ref_bce(y.astype("float32"), p.astype("float32")),
                               rtol=1e-5)
    yc, pc = np.array([[0.0, 1.0, 0.0]]), np.array([[0.0, 0.0, 1.0]])
    got = per_sample(losses.categorical_crossentropy, yc, pc, backend)
    assert got[0] == pytest.approx(-math.log(EPS), rel=1e-4)
    got = per_sample(losses.categorical_crossentropy, yc, np.array([[0.0, 1.0, 0.0]]), backend)
    assert got[0] == pytest.approx(0.0, abs=1e-6)
    got = per_sample(losses.kl_divergence, yc, pc, backend)
    np.testing.assert_allclose(got, REFS["kl_divergence"](yc, pc), rtol=1e-4)
    got = per_sample(losses.poisson, np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), backend)
    assert got[0] == pytest.approx(-0.5 * math.log(EPS), rel=1e-4)
    got = per_sample(losses.mean_squared_logarithmic_error, np.array([[0.0]]),
                     np.array([[0.0]]), backend)
    assert got[0] == pytest.approx(0.0, abs=1e-12)


def test_all_zero_labels(backend):
    z = np.zeros((2, 3))
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    assert np.allclose(per_sample(losses.categorical_crossentropy, z, p, backend), 0.0)
    # hinge maps the {0} labels to -1: mean(max(1 + p, 0))
    np.testing.assert_allclose(per_sample(losses.hinge, z, p, backend), (1 + p).mean(-1),
                               rtol=1e-6)
    np.testing.assert_allclose(per_sample(losses.binary_crossentropy, z, p, backend),
                               ref_bce(z, p), rtol=1e-5)
    np.testing.assert_allclose(per_sample(losses.kl_divergence, z, p, backend),
                               REFS["kl_divergence"](z, p), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(per_sample(losses.mean_absolute_percentage_error, z, p, backend),
                               100 * p.mean(-1) / EPS, rtol=1e-5)
    # cosine of a zero vector is 0
    assert np.allclose(per_sample(losses.cosine_similarity, z, p, backend), 0.0)


def test_hinge_keeps_signed_labels(backend):
    y = np.array([[-1.0, 1.0], [1.0, -1.0]])
    p = np.array([[0.3, -0.2], [2.0, 0.5]])
    np.testing.assert_allclose(per_sample(losses.hinge, y, p, backend),
                               np.maximum(1 - y * p, 0).mean(-1), rtol=1e-6)


def test_huber_delta_regimes(backend):
    y, p = np.zeros((1, 4)), np.array([[0.1, -0.4, 2.0, -3.0]])
    got = per_sample(losses.huber, y, p, backend, delta=0.5)
    hand = (0.5 * 0.01 + 0.5 * 0.16 + (0.5 * 2 - 0.125) + (0.5 * 3 - 0.125)) / 4
    assert got[0] == pytest.approx(hand, rel=1e-6)


def test_log_cosh_is_stable_for_large_errors(backend):
    got = per_sample(losses.log_cosh, np.zeros((1, 2)), np.array([[100.0, -200.0]]), backend)
    assert got[0] == pytest.approx((100 + 200 - 2 * math.log(2)) / 2, rel=1e-6)


def test_cosine_similarity_axis(backend):
    y, p = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    got = per_sample(losses.cosine_similarity, y, p, backend, axis=0)
    ref = -((y / np.linalg.norm(y, axis=0)) * (p / np.linalg.norm(p, axis=0))).sum(0)
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_rank_alignment_never_broadcasts_to_n_by_n(backend):
    y, p = np.arange(4.0), np.arange(4.0)[:, None] + 1
    got = per_sample(losses.mean_squared_error, y, p, backend)
    assert got.shape == (4,) and np.allclose(got, 1.0)
    got = per_sample(losses.binary_crossentropy, np.array([[1.0], [0.0]]),
                     np.array([0.8, 0.3]), backend)
    np.testing.assert_allclose(got, [-math.log(0.8), -math.log(0.7)], rtol=1e-5)


def test_sequence_targets_reduce_the_last_axis_only(backend):
    y, p = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 3, 4))
    got = per_sample(losses.mean_absolute_error, y, p, backend)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, np.abs(y - p).mean(-1), rtol=1e-5)


def test_sparse_labels_may_be_float_or_column(backend):
    p = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])
    for lab in (np.array([1, 0]), np.array([[1.0], [0.0]])):
        got = per_sample(losses.sparse_categorical_crossentropy, lab, p, backend)
        np.testing.assert_allclose(got, [-math.log(0.7), -math.log(0.5)], rtol=1e-5)
