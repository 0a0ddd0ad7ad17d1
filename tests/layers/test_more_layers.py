"""Identity, Embedding(weights=...), RMSNormalization, RandomCrop and EinsumDense give the
values Keras 3.15 computed on the same weights and inputs (tests/fixtures/more_layers.*, made
by tests/fixtures/make_keras_more_layers.py; no Keras needed here), take their gradients
(finite differences in float64), and survive a .keras save/load round trip."""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIX = np.load(FIXDIR / "more_layers.npz")
CASES = json.loads((FIXDIR / "more_layers.json").read_text())["cases"]


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _from_keras(key):
    cfg = CASES[key]["config"]
    return layers.deserialize({"class_name": _CLASS[key.split("_")[0]], "config": cfg})


_CLASS = {"identity": "Identity", "emb": "Embedding", "rms": "RMSNormalization",
          "crop": "RandomCrop", "ed": "EinsumDense"}


def _roundtrip(tmp_path, model, x):
    before = model.predict(x, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = gpunet.models.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-6)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    return loaded


def _fd_weight_grad(layer, x, var, eps=1e-6):
    """Finite-difference gradient of sum(layer(x) * w) with respect to one weight (float64)."""
    rng = np.random.default_rng(0)
    b = gpunet.backend.backend_of(var.data)
    w = rng.standard_normal(tuple(layer(x).shape))
    base = b.to_numpy(var.data).copy()
    grad = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        vals = []
        for d in (eps, -eps):
            p = base.copy()
            p[i] += d
            var.assign(p)
            vals.append(float((b.to_numpy(layer(x).data) * w).sum()))
        grad[i] = (vals[0] - vals[1]) / (2 * eps)
    var.assign(base)
    for v in layer.weights:
        v.grad = None
    (layer(x) * Tensor(b.asarray(w))).sum().backward()
    return grad, b.to_numpy(var.grad)


# -- Identity ------------------------------------------------------------------------------------
def test_identity_returns_input_and_mask(backend):
    layer = _from_keras("identity")
    layer64 = layers.Identity(dtype="float64")
    assert layer.built and layer.weights == []
    x = backend.asarray(FIX["identity_x"])
    np.testing.assert_array_equal(_np(backend, layer(x)), FIX["identity_y"])
    mask = backend.asarray(np.array([[True, False, True]]))
    assert layer.compute_mask(Tensor(x), mask) is mask
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 4)
    check_grad(lambda t: layer64(t * t), [np.random.default_rng(1).standard_normal((2, 3))],
               backend=backend)  # (the gradient check needs an op: a bare leaf has no node)


def test_identity_passes_embedding_mask_in_a_model(backend):
    def model(*mid):
        return gpunet.Sequential([layers.Input((4,), dtype="int32"),
                                  layers.Embedding(5, 2, mask_zero=True), *mid, layers.LSTM(3)])

    with_id, without = model(layers.Identity()), model()
    without.set_weights(with_id.get_weights())
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]], "int32")
    out = with_id.layers[1](with_id.layers[0](backend.asarray(ids)))
    np.testing.assert_array_equal(_np(backend, out._keras_mask), ids != 0)
    np.testing.assert_allclose(with_id.predict(ids, verbose=0), without.predict(ids, verbose=0),
                               rtol=1e-6)


# -- Embedding(weights=...) ----------------------------------------------------------------------
@pytest.mark.parametrize("form", ["array", "list"])
def test_embedding_weights_argument_as_keras(backend, form):
    w = FIX["emb_w"]
    layer = layers.Embedding(6, 3, weights=w if form == "array" else [w])
    assert layer.built
    np.testing.assert_array_equal(layer.get_weights()[0], w)
    got = layer(backend.asarray(FIX["emb_ids"]))
    np.testing.assert_allclose(_np(backend, got), FIX[f"emb_{form}_y"], atol=1e-6)
    assert "weights" not in layer.get_config() and "weights" not in CASES[f"emb_{form}"]["config"]


def test_embedding_weights_in_a_model_and_wrong_shape(backend, tmp_path):
    w = FIX["emb_w"]
    model = gpunet.Sequential([layers.Input((3,), dtype="int32"),
                               layers.Embedding(6, 3, weights=w)])
    ids = FIX["emb_ids"]
    np.testing.assert_allclose(model.predict(ids, verbose=0), FIX["emb_array_y"], atol=1e-6)
    _roundtrip(tmp_path, model, ids)
    with pytest.raises(ValueError, match=r"embeddings.*\(6, 3\).*\(3, 6\)"):
        layers.Embedding(6, 3, weights=w.T)
    # Keras 3.15 fails with AttributeError ('list' object has no attribute 'shape')
    with pytest.raises(ValueError, match=r"one array of shape \(6, 3\).*a list of 2 arrays"):
        layers.Embedding(6, 3, weights=[w, w])
    np.testing.assert_array_equal(layers.Embedding(2, 2, weights=[[1.0, 2.0], [3.0, 4.0]])
                                  .get_weights()[0], [[1, 2], [3, 4]])


# -- RMSNormalization ----------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["rms_default", "rms_axis2", "rms_axes", "rms_neg"])
def test_rms_normalization_matches_keras(backend, key):
    layer = _from_keras(key)
    x = backend.asarray(FIX["rms_x"])
    layer.build(tuple(x.shape))
    assert [v.name.split("/")[-1] for v in layer.weights] == ["scale"]
    assert list(layer.scale.shape) == CASES[key]["scale_shape"]
    layer.set_weights([FIX[f"{key}_scale"]])
    np.testing.assert_allclose(_np(backend, layer(x)), FIX[f"{key}_y"], rtol=1e-5, atol=1e-5)
    assert layer.get_config()["axis"] == CASES[key]["config"]["axis"]
    assert layer.get_config()["epsilon"] == CASES[key]["config"]["epsilon"]


def test_rms_normalization_defaults_and_inner_axis(backend):
    layer = layers.RMSNormalization()
    assert layer.epsilon == 1e-6 and layer.axis == -1
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    scale = np.array([0.5, 2.0, -1.0])
    inner = layers.RMSNormalization(axis=1, epsilon=0.01, dtype="float64")
    inner.build(x.shape)
    inner.set_weights([scale])
    want = x / np.sqrt((x ** 2).mean(1, keepdims=True) + 0.01) * scale[:, None]
    np.testing.assert_allclose(_np(backend, inner(backend.asarray(x))), want, rtol=1e-12)
    with pytest.raises(ValueError, match="out of bounds"):
        layers.RMSNormalization(axis=3).build((2, 3, 4))
    with pytest.raises(TypeError, match="axis"):
        layers.RMSNormalization(axis="last")


@pytest.mark.parametrize("axis", [-1, [1, 2], 1])
def test_rms_normalization_gradients(backend, axis):
    layer = layers.RMSNormalization(axis=axis, dtype="float64")
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    layer.build(x.shape)
    layer.set_weights([np.random.default_rng(5).standard_normal(layer.scale.shape)])
    check_grad(lambda t: layer(t), [x], backend=backend)
    fd, got = _fd_weight_grad(layer, Tensor(backend.asarray(x)), layer.scale)
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-7)


def test_rms_normalization_roundtrip(tmp_path, backend):
    model = gpunet.Sequential([layers.Input((3, 4)), layers.RMSNormalization(axis=[1, 2])])
    model.layers[-1].set_weights([np.random.default_rng(6).standard_normal((3, 4))])
    _roundtrip(tmp_path, model, FIX["rms_x"])


# -- RandomCrop ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["crop_infer", "crop_small_train", "crop_equal_h_train",
                                 "crop_tall_train", "crop_cf_train"])
def test_random_crop_deterministic_cases_match_keras(backend, key):
    """Inference (input unchanged, as Keras 3.15) and training on inputs not larger than
    the target in both dimensions (centred start, slice, bilinear resize)."""
    layer = _from_keras(key)
    case = CASES[key]
    got = layer(backend.asarray(FIX[case["input"]]), training=case["training"])
    want = FIX[f"{key}_y"]
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(_np(backend, got), want, rtol=1e-5, atol=1e-4)
    assert layer.get_config()["seed"] == 11


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_random_crop_training_draws_one_window_per_batch(backend, fmt):
    img = FIX["crop_img"]  # (2, 6, 8, 3)
    if fmt == "channels_first":
        img = np.ascontiguousarray(img.transpose(0, 3, 1, 2))
    layer = layers.RandomCrop(4, 5, seed=2, data_format=fmt)
    seen = set()
    for _ in range(30):
        y = _np(backend, layer(backend.asarray(img)))  # training defaults to True, as Keras
        y_cl = y if fmt == "channels_last" else y.transpose(0, 2, 3, 1)
        x_cl = FIX["crop_img"]
        assert y_cl.shape == (2, 4, 5, 3)
        hits = [(t, s) for t in range(3) for s in range(4)
                if np.array_equal(x_cl[:, t:t + 4, s:s + 5], y_cl)]
        assert len(hits) == 1  # the same window for both images
        seen.add(hits[0])
    assert len(seen) > 4  # all 12 windows are possible; 30 draws see several
    again = layers.RandomCrop(4, 5, seed=2, data_format=fmt)
    first = layers.RandomCrop(4, 5, seed=2, data_format=fmt)
    np.testing.assert_array_equal(_np(backend, again(backend.asarray(img))),
                                  _np(backend, first(backend.asarray(img))))


def test_random_crop_inference_and_shapes(backend):
    layer = layers.RandomCrop(4, 4, seed=1)
    x = backend.asarray(FIX["crop_img"])
    np.testing.assert_array_equal(_np(backend, layer(x, training=False)), FIX["crop_img"])
    assert layer.compute_output_shape((None, 6, 8, 3)) == (None, 4, 4, 3)
    assert layers.RandomCrop(2, 3, data_format="channels_first").compute_output_shape(
        (None, 3, 9, 9)) == (None, 3, 2, 3)
    assert isinstance(layers.RandomCrop(2, 2).get_config()["seed"], int)
    with pytest.raises(ValueError, match="height"):
        layers.RandomCrop(0, 2)
    with pytest.raises(ValueError, match="rank"):
        layer(backend.asarray(np.zeros((2, 3), "float32")))


def test_random_crop_gradient_passes_a_pure_crop(backend):
    layer = layers.RandomCrop(2, 2, seed=0, dtype="float64")
    check_grad(lambda t: layer(t, training=True),
               [np.random.default_rng(0).standard_normal((1, 2, 2, 1))], backend=backend)


def test_random_crop_keras_file_predicts_like_keras(backend):
    model = gpunet.models.load_model(FIXDIR / "more_layers_crop.keras", compile=False)
    d = np.load(FIXDIR / "more_layers_crop.npz")
    np.testing.assert_allclose(model.predict(d["x0"], verbose=0), d["y0"], rtol=1e-5,
                               atol=1e-5)
    assert model.layers[0].get_config()["seed"] == 5


def test_random_crop_roundtrip(tmp_path, backend):
    model = gpunet.Sequential([layers.Input((6, 8, 3)), layers.RandomCrop(4, 4, seed=9)])
    loaded = _roundtrip(tmp_path, model, FIX["crop_img"])
    assert loaded.layers[0].get_config()["seed"] == 9


# -- EinsumDense ---------------------------------------------------------------------------------
EINSUM = sorted(k for k in CASES if k.startswith("ed_") and k != "ed_fans")


@pytest.mark.parametrize("key", EINSUM)
def test_einsum_dense_matches_keras(backend, key):
    case = CASES[key]
    layer = _from_keras(key)
    x = FIX[f"{key}_x"]
    assert layer.compute_output_shape((None,) + x.shape[1:]) == tuple(case["output_shape"])
    layer.build(x.shape)
    assert [list(v.shape) for v in layer.weights] == case["weight_shapes"]
    assert [v.name.split("/")[-1] for v in layer.weights] == case["weight_names"]
    layer.set_weights([FIX[f"{key}_w{i}"] for i in range(len(layer.weights))])
    got = layer(backend.asarray(x))
    np.testing.assert_allclose(_np(backend, got), FIX[f"{key}_y"], rtol=1e-5, atol=1e-5)
    cfg = layer.get_config()
    for k in ("equation", "bias_axes", "output_shape", "activation"):
        assert cfg[k] == case["config"][k], k


def test_einsum_dense_kernel_fans_as_keras(backend):
    case = CASES["ed_fans"]
    gpunet.utils.set_random_seed(1)
    layer = layers.EinsumDense("abc,cde->abde", (3, 40, 50), bias_axes="de")
    layer.build((None, 3, 30))
    k = layer.get_weights()[0]
    assert list(k.shape) == case["kernel_shape"]
    limit = math.sqrt(6.0 / (30 + 40 * 50))  # glorot over input axes (c) and output (d, e)
    assert np.abs(k).max() <= limit
    np.testing.assert_allclose(np.abs(k).max(), case["kernel_absmax"], rtol=1e-3)
    np.testing.assert_allclose(k.std(), case["kernel_std"], rtol=2e-2)
    assert layer.get_config()["kernel_initializer"]["config"].get("input_axes") is None


@pytest.mark.parametrize("key", ["ed_heads", "ed_left", "ed_right", "ed_nobias"])
def test_einsum_dense_gradients(backend, key):
    case = CASES[key]
    cfg = {**case["config"], "dtype": "float64", "activation": "tanh"}
    layer = layers.EinsumDense.from_config(cfg)
    x = FIX[f"{key}_x"].astype("float64")
    layer.build(x.shape)
    layer.set_weights([FIX[f"{key}_w{i}"].astype("float64") * 0.3
                       for i in range(len(layer.weights))])
    check_grad(lambda t: layer(t), [x], backend=backend)
    xt = Tensor(backend.asarray(x))
    for var in layer.weights:
        fd, got = _fd_weight_grad(layer, xt, var)
        np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-7)


def test_einsum_dense_errors():
    with pytest.raises(ValueError, match="Invalid einsum equation"):
        layers.EinsumDense("ab->b", 3)
    with pytest.raises(ValueError, match="Bias dimension 'z'"):
        layers.EinsumDense("ab,bc->ac", 3, bias_axes="z").build((None, 4))
    with pytest.raises(ValueError, match="do not match at shared dimension 'b'"):
        layers.EinsumDense("abc,cde->abde", (5, 2, 3)).build((None, 4, 6))
    with pytest.raises(NotImplementedError, match="lora_rank"):
        layers.EinsumDense("ab,bc->ac", 3, lora_rank=2)


def test_einsum_dense_in_functional_model_and_keras_file(backend, tmp_path):
    model = gpunet.models.load_model(FIXDIR / "more_layers_dense.keras", compile=False)
    d = np.load(FIXDIR / "more_layers_dense.npz")
    np.testing.assert_allclose(model.predict(d["x0"], verbose=0), d["y0"], rtol=1e-5,
                               atol=1e-5)
    assert [type(lyr).__name__ for lyr in model.layers][1:5] == [
        "EinsumDense", "RMSNormalization", "Identity", "EinsumDense"]
    _roundtrip(tmp_path, model, d["x0"])
    inp = layers.Input((4, 6))
    out = layers.EinsumDense("abc,cd->abd", (None, 8), bias_axes="d")(inp)
    assert tuple(out.shape) == (None, None, 8)  # Keras 3.15 keeps output_shape's None
