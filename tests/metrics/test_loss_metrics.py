"""Regression, probabilistic and hinge metrics: weighted running means of NumPy formulas."""

import math

import numpy as np
import pytest

from gpunet import metrics

EPS = 1e-7
RNG = np.random.default_rng(4)


def _hinge_y(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def _bce(y, p):
    q = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(-1)


def _cce(y, p):
    q = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(y * np.log(q)).sum(-1)


def _unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


# name: (metric class, per-sample NumPy formula, data kind)
CASES = {
    "MeanSquaredError": (lambda y, p: ((y - p) ** 2).mean(-1), "real"),
    "MeanAbsoluteError": (lambda y, p: np.abs(y - p).mean(-1), "real"),
    "MeanAbsolutePercentageError":
        (lambda y, p: 100 * (np.abs(y - p) / np.maximum(np.abs(y), EPS)).mean(-1), "real"),
    "MeanSquaredLogarithmicError":
        (lambda y, p: ((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2)
         .mean(-1), "positive"),
    "CosineSimilarity": (lambda y, p: (_unit(y) * _unit(p)).sum(-1), "real"),
    "LogCoshError": (lambda y, p: np.log(np.cosh(p - y)).mean(-1), "real"),
    "BinaryCrossentropy": (_bce, "binary"),
    "CategoricalCrossentropy": (_cce, "onehot"),
    "KLDivergence": (lambda y, p: (np.clip(y, EPS, 1) * np.log(np.clip(y, EPS, 1)
                                                               / np.clip(p, EPS, 1))).sum(-1),
                     "onehot"),
    "Poisson": (lambda y, p: (p - y * np.log(p + EPS)).mean(-1), "positive"),
    "Hinge": (lambda y, p: np.maximum(1 - _hinge_y(y) * p, 0).mean(-1), "binary"),
    "SquaredHinge": (lambda y, p: (np.maximum(1 - _hinge_y(y) * p, 0) ** 2).mean(-1), "binary"),
    "CategoricalHinge": (lambda y, p: np.maximum((p * (1 - y)).max(-1) - (p * y).sum(-1) + 1, 0),
                         "onehot"),
}


def make(kind, n, k=3):
    if kind == "real":
        return RNG.normal(size=(n, k)), RNG.normal(size=(n, k))
    if kind == "positive":
        return RNG.uniform(0, 2, (n, k)), RNG.uniform(0.1, 2, (n, k))
    if kind == "binary":
        return RNG.integers(0, 2, (n, k)).astype(float), RNG.uniform(0, 1, (n, k))
    p = RNG.uniform(0.05, 1, (n, k))
    return np.eye(k)[RNG.integers(0, k, n)], p / p.sum(-1, keepdims=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_metric_is_weighted_running_mean_of_formula(backend, name):
    ref, kind = CASES[name]
    m = getattr(metrics, name)()
    ys, ps, ws = [], [], []
    for n in (6, 1):
        y, p = make(kind, n)
        w = RNG.choice([0.0, 1.0, 2.5], n)
        m.update_state(backend.asarray(y.astype("float32")), backend.asarray(p.astype("float32")),
                       sample_weight=backend.asarray(w))
        ys.append(y), ps.append(p), ws.append(w)
    y, p, w = (np.concatenate(a) for a in (ys, ps, ws))
    expected = (ref(y, p) * w).sum() / w.sum()
    assert float(m.result()) == pytest.approx(expected, rel=2e-5, abs=2e-6)
    m.reset_state()
    assert float(m.result()) == 0.0
    m.update_state(backend.asarray(y[:1]), backend.asarray(p[:1]))
    assert float(m.result()) == pytest.approx(ref(y[:1], p[:1])[0], rel=2e-5, abs=2e-6)


def test_root_mean_squared_error(backend):
    y = np.array([[0.0, 1.0], [0.0, 0.0], [2.0, 2.0]])
    p = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    w = np.array([1.0, 3.0, 0.0])
    m = metrics.RootMeanSquaredError()
    m.update_state(backend.asarray(y), backend.asarray(p))
    assert float(m.result()) == pytest.approx(math.sqrt((0.5 + 0 + 4) / 3))
    m.reset_state()
    m.update_state(backend.asarray(y), backend.asarray(p), sample_weight=w)
    assert float(m.result()) == pytest.approx(math.sqrt(0.5 / 4))


def test_crossentropy_metric_options(backend):
    z = np.array([[-18.6, 0.51], [2.94, -12.8]])
    y = np.array([[0.0, 1.0], [0.0, 0.0]])
    m = metrics.BinaryCrossentropy(from_logits=True)
    m.update_state(backend.asarray(y), backend.asarray(z))
    assert float(m.result()) == pytest.approx(0.8654, abs=1e-4)     # Keras's documented value
    s = metrics.BinaryCrossentropy(label_smoothing=0.2)
    p = np.array([[0.3, 0.9]])
    s.update_state(backend.asarray(np.array([[0.0, 1.0]])), backend.asarray(p))
    ys = np.array([[0.1, 0.9]])
    assert float(s.result()) == pytest.approx(_bce(ys, p)[0], rel=1e-6)
    c = metrics.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3)
    zz = np.array([[1.0, 2.0, 0.5]])
    c.update_state(backend.asarray(np.array([[0.0, 1.0, 0.0]])), backend.asarray(zz))
    yy = np.array([[0.1, 0.8, 0.1]])
    logp = zz - np.log(np.exp(zz).sum())
    assert float(c.result()) == pytest.approx(-(yy * logp).sum(), rel=1e-6)
    sp = metrics.SparseCategoricalCrossentropy(from_logits=True)
    sp.update_state(backend.asarray(np.array([1])), backend.asarray(zz))
    assert float(sp.result()) == pytest.approx(-logp[0, 1], rel=1e-6)


def test_probabilities_exactly_zero_and_one(backend):
    m = metrics.BinaryCrossentropy()
    y, p = np.array([[1.0, 0.0]], "float32"), np.array([[0.0, 1.0]], "float32")
    m.update_state(backend.asarray(y), backend.asarray(p))
    r = float(m.result())
    # float32 like the metric: clip(1, eps, 1 - eps) is 1 - 1.19e-7 there
    assert math.isfinite(r) and r == pytest.approx(float(_bce(y, p)[0]), rel=1e-5)
    k = metrics.KLDivergence()
    k.update_state(backend.asarray(np.array([[0.0, 1.0]])), backend.asarray(np.array([[1.0, 0.0]])))
    assert float(k.result()) == pytest.approx(math.log(1 / EPS) + EPS * math.log(EPS), rel=1e-6)


def test_cosine_similarity_axis(backend):
    y, p = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    m = metrics.CosineSimilarity(axis=0)
    m.update_state(backend.asarray(y), backend.asarray(p))
    ref = ((y / np.linalg.norm(y, axis=0)) * (p / np.linalg.norm(p, axis=0))).sum(0)
    assert float(m.result()) == pytest.approx(ref.mean(), rel=1e-6)
