"""SpectralNormalization gives the outputs, ``vector_u`` and normalized kernels Keras 3.15 gave
over three training calls in a row around Dense, Conv2D and Embedding
(tests/fixtures/spectral_norm.*, made by tests/fixtures/make_keras_spectral_norm.py; no Keras
needed here), lists and names its weights as Keras does, takes SGD steps that match a NumPy
float64 reference of the power iteration and the update, trains, survives .keras/.h5/
.weights.h5 round trips, loads Keras-saved files, and rejects bad arguments as Keras does."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd import Tensor

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIX = np.load(FIXDIR / "spectral_norm.npz")
META = json.loads((FIXDIR / "spectral_norm.json").read_text())
CASES = META["cases"]


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _built(backend, key):
    sn = layers.deserialize({"class_name": "SpectralNormalization",
                             "config": CASES[key]["config"]})
    x = backend.asarray(FIX[f"{key}_x"])
    sn(x)
    sn.set_weights([FIX[f"{key}_w{i}"] for i in range(CASES[key]["n_weights"])])
    return sn, x


@pytest.mark.parametrize("key", sorted(CASES))
def test_training_calls_match_keras_power_iteration_and_kernel(backend, key):
    sn, x = _built(backend, key)
    np.testing.assert_allclose(_np(backend, sn(x, training=False)), FIX[f"{key}_y_infer"],
                               rtol=1e-5, atol=1e-5)
    for step in range(3):
        y = sn(x, training=True)
        np.testing.assert_allclose(_np(backend, sn.vector_u), FIX[f"{key}_u{step}"],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(backend, sn.kernel), FIX[f"{key}_kernel{step}"],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(backend, y), FIX[f"{key}_y_train{step}"], rtol=1e-5,
                                   atol=1e-5)


@pytest.mark.parametrize("key", sorted(CASES))
def test_weights_and_config_as_keras(key):
    sn, _ = _built(gpunet.backend.backend_for("numpy"), key)
    case = CASES[key]
    inner = case["config"]["layer"]["config"]["name"]
    assert [w.path for w in sn.weights] == case["paths"]
    assert [w.path for w in sn.trainable_weights] == case["trainable"]
    assert [w.path for w in sn.non_trainable_weights] == case["non_trainable"]
    assert inner in case["paths"][0]
    cfg = json.loads(json.dumps(layers.serialize(sn)["config"]))
    assert set(cfg) == set(case["config"])
    assert cfg["power_iterations"] == case["config"]["power_iterations"]
    assert cfg["layer"]["class_name"] == case["config"]["layer"]["class_name"]
    shape = (None,) + tuple(FIX[f"{key}_x"].shape[1:])
    assert list(sn.compute_output_shape(shape)) == case["output_shape"]
    assert isinstance(sn, layers.Wrapper)


def test_keras_constant_kernel_case(backend):
    # Keras's own example: a 2x2 kernel of ones over ones gives 4; its spectral norm is 2
    sn = layers.SpectralNormalization(
        layers.Conv2D(1, (2, 2), kernel_initializer="ones"), power_iterations=8)
    images = backend.asarray(np.ones((1, 2, 2, 1), "float32"))
    np.testing.assert_allclose(_np(backend, sn(images, training=False)), [[[[4.0]]]])
    np.testing.assert_allclose(_np(backend, sn(images, training=True)), [[[[2.0]]]], rtol=1e-6)
    np.testing.assert_allclose(_np(backend, sn.kernel), np.full((2, 2, 1, 1), 0.5), rtol=1e-6)


def test_all_zero_kernel_is_left_alone(backend):
    sn = layers.SpectralNormalization(layers.Dense(3, kernel_initializer="zeros"))
    x = backend.asarray(np.ones((2, 4), "float32"))
    sn(x)
    u0 = _np(backend, sn.vector_u).copy()
    y = sn(x, training=True)
    np.testing.assert_array_equal(_np(backend, sn.kernel), 0.0)
    np.testing.assert_array_equal(_np(backend, sn.vector_u), u0)
    assert np.isfinite(_np(backend, y)).all()


def _normalize(a):
    return a / max(np.sqrt((a * a).sum()), 1e-7)


def test_sgd_steps_match_numpy_reference(backend):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 4)).astype("float32")
    t = rng.normal(size=(8, 3)).astype("float32")
    w = rng.normal(size=(4, 3)).astype("float32")
    sn = layers.SpectralNormalization(layers.Dense(3, use_bias=False), power_iterations=2)
    model = gpunet.Sequential([gpunet.Input((4,)), sn])
    u = rng.normal(scale=0.02, size=(1, 3)).astype("float32")
    model.set_weights([w, u])
    model.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="mse")
    wr, ur = w.astype("float64"), u.astype("float64")
    for _ in range(3):
        model.train_on_batch(x, t)
        for _ in range(2):  # power iteration
            v = _normalize(ur @ wr.T)
            ur = _normalize(v @ wr)
        wr = wr / (v @ wr @ ur.T).item()  # the kernel becomes W / sigma, then SGD moves it
        grad = 2.0 * x.T @ (x @ wr - t) / t.size
        wr = wr - 0.1 * grad
        np.testing.assert_allclose(_np(backend, sn.vector_u), ur, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(_np(backend, sn.kernel), wr, rtol=1e-4, atol=1e-5)


def test_tiny_model_trains():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 6, 1)).astype("float32")
    y = x.mean(axis=(1, 2, 3))[:, None] * 0.5
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([
        gpunet.Input((6, 6, 1)),
        layers.SpectralNormalization(layers.Conv2D(4, 3, activation="relu")),
        layers.Flatten(),
        layers.SpectralNormalization(layers.Dense(1)),
    ])
    u0 = model.layers[0].vector_u.numpy().copy()
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert not np.allclose(model.layers[0].vector_u.numpy(), u0)  # updated by fit


def test_keras_saved_model_loads_and_continues(backend):
    data = np.load(FIXDIR / "spectral_norm_model.npz")
    with gpunet.backend.device(backend):
        model = gpunet.models.load_model(str(FIXDIR / "spectral_norm_model.keras"))
        np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y_after"],
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(_np(backend, model(data["x"], training=True)),
                                   data["y_train2"], rtol=1e-4, atol=1e-5)
        fresh = gpunet.models.model_from_json(json.dumps(META["model_config"]))
        fresh.load_weights(str(FIXDIR / "spectral_norm_model.weights.h5"))
        np.testing.assert_allclose(fresh.predict(data["x"], verbose=0), data["y_after"],
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_round_trips_keep_kernel_and_u(tmp_path, ext):
    import h5py

    gpunet.utils.set_random_seed(2)
    model = gpunet.Sequential([gpunet.Input((5,)),
                               layers.SpectralNormalization(layers.Dense(3))])
    x = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    model(x, training=True)
    y = model.predict(x, verbose=0)
    model.save(tmp_path / f"m{ext}")
    back = gpunet.models.load_model(str(tmp_path / f"m{ext}"))
    np.testing.assert_allclose(back.predict(x, verbose=0), y, rtol=1e-6)
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5") as f:  # Keras 3's layout: own vars + layer/vars
        assert f["layers/spectral_normalization/vars/1"].shape == (1, 3)
        assert f["layers/spectral_normalization/layer/vars/1"].shape == (3,)
    back.load_weights(str(tmp_path / "m.weights.h5"))
    np.testing.assert_allclose(back.predict(x, verbose=0), y, rtol=1e-6)


def test_trainable_false_reaches_the_wrapped_layer():
    sn = layers.SpectralNormalization(layers.Dense(2))
    sn(np.ones((1, 3), "float32"))
    sn.trainable = False
    assert sn.trainable_weights == [] and len(sn.non_trainable_weights) == 3


def test_bad_arguments_raise_as_keras():
    with pytest.raises(ValueError, match="`power_iterations` should be greater than zero"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="isn't a supported layer type"):
        layers.SpectralNormalization("dense")
    sn = layers.SpectralNormalization(layers.ReLU())
    with pytest.raises(ValueError, match="object has no attribute 'kernel' nor 'embeddings'"):
        sn(np.ones((4, 2), "float32"))


def test_mixed_precision_assigns_variables_and_computes_in_float16(backend):
    key = "dense"
    _, x = _built(backend, key)
    gpunet.mixed_precision.set_global_policy("mixed_float16")
    try:
        sn = layers.deserialize({"class_name": "SpectralNormalization",
                                 "config": {**CASES[key]["config"], "dtype": None}})
        sn.layer.dtype_policy = "mixed_float16"
        sn(x)
        sn.set_weights([FIX[f"{key}_w{i}"] for i in range(CASES[key]["n_weights"])])
        y = sn(x, training=True)
    finally:
        gpunet.mixed_precision.set_global_policy("float32")
    assert y.dtype == "float16" and sn.kernel.dtype == "float32"
    np.testing.assert_allclose(_np(backend, sn.vector_u), FIX[f"{key}_u0"], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(_np(backend, sn.kernel), FIX[f"{key}_kernel0"], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(_np(backend, y), FIX[f"{key}_y_train0"], rtol=1e-2, atol=1e-2)
