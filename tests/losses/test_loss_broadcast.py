"""Targets and predictions of different shapes that broadcast together: Keras 3 computes every
loss but the binary cross-entropies on the broadcast shapes (without a word); gpunet gives the
same numbers and warns once. Reference formulas are Keras 3.15's, in NumPy; the cosine, Dice
and Tversky figures were also checked against Keras 3.15 (JAX) on these inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpunet
from gpunet import losses

T = np.random.default_rng(0).random((8, 10)).astype("float32")
P = (np.random.default_rng(1).random((8, 1)) * 0.8 + 0.1).astype("float32")


def _value(name, a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(losses.get(name)(a, b), dtype="float64")


def _unit(x):
    return x / np.sqrt(np.maximum((x * x).sum(-1, keepdims=True), 1e-14))


REFS = {
    "mean_squared_error": lambda t, p: ((t - p) ** 2).mean(-1),
    "mean_absolute_error": lambda t, p: np.abs(t - p).mean(-1),
    "huber": lambda t, p: np.where(np.abs(t - p) <= 1, 0.5 * (t - p) ** 2,
                                   np.abs(t - p) - 0.5).mean(-1),
    "cosine_similarity": lambda t, p: -(_unit(t) * _unit(p)).sum(-1),  # each normalized first
    "dice": lambda t, p: 1 - 2 * (t * p).sum() / (t.sum() + p.sum() + 1e-7),
}


@pytest.mark.parametrize("name", sorted(REFS))
@pytest.mark.parametrize("swap", [False, True])
def test_broadcast_losses_give_keras_numbers(name, swap):
    t, p = (P, T) if swap else (T, P)
    np.testing.assert_allclose(_value(name, t, p),
                               REFS[name](t.astype("float64"), p.astype("float64")),
                               rtol=2e-5, atol=1e-6)


def test_keras_figures_on_these_inputs():
    # printed by Keras 3.15 (JAX) for keras.losses.<name>(T, P), first entries
    np.testing.assert_allclose(_value("cosine_similarity", T, P)[:2], [-2.73718, -2.62153],
                               atol=1e-5)
    np.testing.assert_allclose(_value("dice", T, P), 0.02694, atol=1e-5)
    np.testing.assert_allclose(_value("tversky", T, P), 0.48094, atol=1e-5)
    np.testing.assert_allclose(_value("kl_divergence", P, T)[:2], [2.09105, 11.20938],
                               rtol=1e-5)


def test_binary_crossentropy_still_refuses_and_others_warn_once():
    with pytest.raises(ValueError, match="binary_crossentropy.*same shape"):
        losses.binary_crossentropy(T, P)
    with pytest.raises(ValueError, match="same shape"):
        losses.mean_squared_error(T, np.zeros((8, 3), "float32"))  # no broadcast exists
    seen = np.random.default_rng(2).random((5, 7)).astype("float32")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        losses.mean_absolute_error(seen, seen[:, :1])
        losses.mean_absolute_error(seen, seen[:, :1])
    msgs = [str(x.message) for x in w if "broadcast" in str(x.message)]
    assert len(msgs) == 1 and "(5, 7)" in msgs[0] and "as Keras does" in msgs[0]


def test_fit_with_broadcast_targets_trains_as_keras():
    # the keras.io saving guide's first model: Dense(1) fitted on (8, 10) targets
    model = gpunet.Sequential([gpunet.Input((10,)), gpunet.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(3).random((8, 10)).astype("float32")
    y = np.random.default_rng(4).random((8, 10)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = model.evaluate(x, y, verbose=0)
        ref = ((y - model.predict(x, verbose=0)) ** 2).mean()
        history = model.fit(x, y, epochs=3, verbose=0)
    np.testing.assert_allclose(before, ref, rtol=1e-5)
    assert history.history["loss"][-1] < history.history["loss"][0]
