"""ReversibleEmbedding gives the embeddings, masks and reverse logits Keras 3.15 gave on the
same weights (tests/fixtures/reversible_embedding.*, made by
tests/fixtures/make_keras_reversible_embedding.py; no Keras needed here) with tied and untied
weights and soft-capped logits; Keras's weights, config and output shapes; float64 gradients
(the tied table gets both uses' gradients); a model using one layer both ways that trains,
round-trips and loads Keras's files; and errors for bad arguments."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIX = np.load(FIXDIR / "reversible_embedding.npz")
META = json.loads((FIXDIR / "reversible_embedding.json").read_text())
CASES = META["cases"]


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _built(backend, key):
    layer = layers.deserialize({"class_name": "ReversibleEmbedding",
                                "config": CASES[key]["config"]})
    layer(backend.asarray(FIX[f"{key}_ids"]))
    layer.set_weights([FIX[f"{key}_w{i}"] for i in range(CASES[key]["n_weights"])])
    return layer


@pytest.mark.parametrize("key", sorted(CASES))
def test_forward_and_reverse_match_keras(backend, key):
    layer = _built(backend, key)
    ids = FIX[f"{key}_ids"]
    y = layer(backend.asarray(ids))
    np.testing.assert_allclose(_np(backend, y), FIX[f"{key}_y"], rtol=1e-6)
    if layer.mask_zero:
        np.testing.assert_array_equal(backend.to_numpy(y._keras_mask), FIX[f"{key}_mask"])
        np.testing.assert_array_equal(FIX[f"{key}_mask"], ids != 0)
    else:
        assert y._keras_mask is None
    r = layer(backend.asarray(FIX[f"{key}_h"]), reverse=True)
    np.testing.assert_allclose(_np(backend, r), FIX[f"{key}_r"], rtol=1e-5, atol=1e-5)
    assert r._keras_mask is None and not CASES[key]["reverse_has_mask"]


@pytest.mark.parametrize("key", sorted(CASES))
def test_weights_config_and_shapes_as_keras(key):
    layer = _built(gpunet.backend.backend_for("numpy"), key)
    case = CASES[key]
    assert [w.path for w in layer.weights] == case["paths"]
    cfg = json.loads(json.dumps(layers.serialize(layer)["config"]))
    for k in ("input_dim", "output_dim", "tie_weights", "reverse_dtype", "logit_soft_cap",
              "mask_zero", "name", "trainable"):
        assert cfg[k] == case["config"][k], k
    assert set(cfg) | {"quantization_config"} == set(case["config"])
    shape = tuple(FIX[f"{key}_ids"].shape)
    assert list(layer.compute_output_shape(shape)) == case["output_shape"]
    assert list(layer.compute_output_shape(shape + (layer.output_dim,), reverse=True)) == (
        case["reverse_output_shape"])


def test_soft_cap_formula(backend):
    layer = layers.ReversibleEmbedding(5, 3, logit_soft_cap=1.5)
    layer.build()
    w = np.random.default_rng(0).normal(size=(5, 3)).astype("float32") * 3
    layer.set_weights([w])
    h = np.random.default_rng(1).normal(size=(2, 3)).astype("float32") * 3
    want = np.tanh(h @ w.T / 1.5) * 1.5
    np.testing.assert_allclose(_np(backend, layer(backend.asarray(h), reverse=True)), want,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tie", [True, False])
def test_float64_gradients(backend, tie):
    rng = np.random.default_rng(2)
    layer = layers.ReversibleEmbedding(6, 4, tie_weights=tie, logit_soft_cap=2.0,
                                       dtype="float64")
    layer.build()
    layer.set_weights([rng.normal(size=w.shape) for w in layer.weights])
    h = rng.normal(size=(3, 4))
    check_grad(lambda t: layer(t, reverse=True), [h], backend=backend)
    ids = np.array([[1, 4, 4], [0, 5, 2]])
    table = layer.weights[0]
    base = [w.copy() for w in layer.get_weights()]

    def loss_of(weights):
        e = weights[0][ids]
        k = weights[0].T if tie else weights[1]
        return (np.tanh(e @ k / 2.0) * 2.0).sum()

    table.grad = None
    x = layer(backend.asarray(ids))
    out = layer(x, reverse=True)
    out.backward(backend.xp.ones(out.shape, "float64"))
    num = np.zeros_like(base[0])
    for idx in np.ndindex(*base[0].shape):
        for sign in (1, -1):
            ws = [w.copy() for w in base]
            ws[0][idx] += sign * 1e-6
            num[idx] += sign * loss_of(ws)
    np.testing.assert_allclose(_np(backend, table.grad), num / 2e-6, rtol=1e-5, atol=1e-7)


def _lm(seed=0):
    gpunet.utils.set_random_seed(seed)
    tokens = gpunet.Input((5,), dtype="int32")
    emb = layers.ReversibleEmbedding(11, 6, logit_soft_cap=3.0)
    h = layers.Dense(6, activation="tanh")(emb(tokens))
    return gpunet.Model(tokens, emb(h, reverse=True))


def test_keras_saved_model_loads_and_predicts_the_same(backend):
    data = np.load(FIXDIR / "reversible_embedding_model.npz")
    with gpunet.backend.device(backend):
        model = gpunet.models.load_model(str(FIXDIR / "reversible_embedding_model.keras"))
        np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-5,
                                   atol=1e-5)
        fresh = _lm(seed=3)
        fresh.load_weights(str(FIXDIR / "reversible_embedding_model.weights.h5"))
        np.testing.assert_allclose(fresh.predict(data["x"], verbose=0), data["y"], rtol=1e-5,
                                   atol=1e-5)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_round_trip(tmp_path, ext):
    model = _lm()
    x = np.random.default_rng(0).integers(0, 11, size=(4, 5))
    y = model.predict(x, verbose=0)
    model.save(tmp_path / f"m{ext}")
    back = gpunet.models.load_model(str(tmp_path / f"m{ext}"))
    np.testing.assert_allclose(back.predict(x, verbose=0), y, rtol=1e-6)


def test_language_model_trains():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 11, size=(64, 5))
    y = (x + 1) % 11  # predict the next id
    model = _lm()
    model.compile(optimizer=gpunet.optimizers.Adam(0.05),
                  loss=gpunet.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


def test_errors():
    with pytest.raises(ValueError, match="`logit_soft_cap` must be None or a positive"):
        layers.ReversibleEmbedding(5, 3, logit_soft_cap=0)
    with pytest.raises(ValueError, match="should be positive integers"):
        layers.ReversibleEmbedding(0, 3)
    layer = layers.ReversibleEmbedding(5, 3, name="rev")
    with pytest.raises(ValueError, match="rev.*reverse=True expects inputs whose last "
                                         "dimension is output_dim=3"):
        layer(np.ones((2, 4), "float32"), reverse=True)
