"""Pipeline rebuilds Keras 3.15's configs and gives Keras's output on them
(tests/fixtures/spectrogram.*, made by tests/fixtures/make_keras_spectrogram.py; no Keras needed
here), applies its layers in order with Keras's training default (True) and the masks passed on,
holds its layers' weights (saved where Keras saves them: a Keras-saved .keras model with a
Pipeline loads and predicts as in Keras), passes gradients, and rejects bad arguments."""

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
FIX = np.load(FIXDIR / "spectrogram.npz")
MODELS = np.load(FIXDIR / "spectrogram_models.npz")
CASES = json.loads((FIXDIR / "spectrogram.json").read_text())["cases"]


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _keras_pipe():
    return layers.deserialize({"class_name": "Pipeline", "config": CASES["pipe"]["config"]})


def test_keras_config_rebuilds_the_layers_and_gives_keras_output(backend):
    pipe = _keras_pipe()
    assert pipe.name == "image_pipe"
    assert [type(la).__name__ for la in pipe.layers] == [
        "Rescaling", "Normalization", "CenterCrop", "RandomFlip"]
    assert pipe.layers[3].seed == 3 and pipe.layers[3].mode == "horizontal"
    y = pipe(backend.asarray(FIX["pipe_x"]), training=False)
    np.testing.assert_allclose(_np(backend, y), FIX["pipe_y_inference"], rtol=1e-6, atol=1e-6)
    assert list(pipe.compute_output_shape((None, 6, 5, 3))) == CASES["pipe"]["output_shape"]
    assert list(_keras_pipe()(layers.Input((6, 5, 3))).shape) == CASES["pipe"]["output_shape"]


def test_get_config_has_keras_layout():
    kcfg = CASES["pipe"]["config"]
    cfg = json.loads(json.dumps(_keras_pipe().get_config()))
    assert set(cfg) == {"layers", "name"} == set(kcfg)
    assert cfg["name"] == kcfg["name"]
    for mine, theirs in zip(cfg["layers"], kcfg["layers"], strict=True):
        assert mine["class_name"] == theirs["class_name"]
        assert mine["module"] == theirs["module"] == "keras.layers"
        assert set(mine["config"]) == set(theirs["config"])
        for k in set(theirs["config"]) - {"dtype"}:
            assert mine["config"][k] == theirs["config"][k], k
    assert CASES["pipe_empty"]["config"]["layers"] == []
    again = layers.Pipeline.from_config(_keras_pipe().get_config())
    assert again.get_config() == _keras_pipe().get_config()


def test_empty_pipeline_passes_the_input_through(backend):
    pipe = layers.Pipeline.from_config(CASES["pipe_empty"]["config"])
    x = np.arange(6.0, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(_np(backend, pipe(backend.asarray(x))), x)


def test_training_defaults_to_true_as_keras(backend):
    x = np.random.default_rng(0).normal(size=(64, 4, 5, 1)).astype("float32")
    pipe = layers.Pipeline([layers.Rescaling(2.0), layers.RandomFlip("horizontal", seed=1)])
    flipped = np.all(np.isclose(_np(backend, pipe(backend.asarray(x))), 2 * x[:, :, ::-1]),
                     axis=(1, 2, 3))
    assert 0 < flipped.sum() < 64  # some images flipped, the others kept
    np.testing.assert_allclose(_np(backend, pipe(backend.asarray(x), training=False)), 2 * x)
    model = gpunet.Sequential([layers.Input((4, 5, 1)), pipe])
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * x)  # predict: training=False
    assert not np.allclose(_np(backend, model(backend.asarray(x))), 2 * x)


def test_masks_are_passed_from_layer_to_layer(backend):
    gpunet.utils.set_random_seed(0)
    x = np.random.default_rng(1).normal(size=(3, 5, 2)).astype("float32")
    x[0, 3:] = 0.0
    x[2, 1:] = 0.0
    pipe = layers.Pipeline([layers.Masking(0.0), layers.Dense(3)])
    out = pipe(backend.asarray(x))
    np.testing.assert_array_equal(_np(backend, out._keras_mask), np.any(x != 0, axis=-1))
    piped = gpunet.Sequential([layers.Input((5, 2)), layers.Pipeline([
        layers.Masking(0.0), layers.Dense(3)]), layers.LSTM(2)])
    plain = gpunet.Sequential([layers.Input((5, 2)), layers.Masking(0.0), layers.Dense(3),
                               layers.LSTM(2)])
    plain.set_weights(piped.get_weights())
    np.testing.assert_allclose(piped.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-6)


def test_weights_are_the_layers_weights_and_train(backend):
    gpunet.utils.set_random_seed(0)
    pipe = layers.Pipeline([layers.Dense(4), layers.Activation("tanh"), layers.Dense(3)],
                           name="pipe")
    model = gpunet.Sequential([layers.Input((6,)), pipe, layers.Dense(1)])
    assert [w.shape for w in pipe.weights] == [(6, 4), (4,), (4, 3), (3,)]
    assert len(model.trainable_weights) == 6
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = np.sin(x[:, :1]) + x[:, 1:2] ** 2
    before = [w.copy() for w in pipe.get_weights()]
    model.compile(optimizer=gpunet.optimizers.Adam(0.02), loss="mse")
    loss = model.fit(x, y, epochs=40, batch_size=16, verbose=0).history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert all(not np.allclose(a, b) for a, b in zip(pipe.get_weights(), before))
    pipe.trainable = False
    assert pipe.trainable_weights == [] and len(pipe.non_trainable_weights) == 4


def test_gradient_through_the_pipeline(backend):
    pipe = layers.Pipeline([
        layers.Rescaling(0.5, offset=0.1, dtype="float64"),
        layers.STFTSpectrogram(mode="log", frame_length=8, frame_step=4, dtype="float64"),
        layers.Dense(2, dtype="float64")])
    x = np.random.default_rng(3).normal(size=(2, 20, 1))
    check_grad(lambda t: pipe(t), [x], backend=backend)


def test_keras_archive_round_trip(backend, tmp_path):
    gpunet.utils.set_random_seed(4)
    model = gpunet.Sequential([
        layers.Input((64, 1)),
        layers.Pipeline([layers.Rescaling(3.0), layers.STFTSpectrogram(
            mode="psd", frame_length=16, frame_step=8, name="stft")], name="pipe"),
        layers.Flatten(), layers.Dense(2)])
    stft = model.get_layer("pipe").layers[1]
    for w in stft.weights:  # weights that only the file can give back
        w.assign(_np(backend, w) * 1.5)
    x = np.random.default_rng(5).normal(size=(3, 64, 1)).astype("float32")
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = gpunet.models.load_model(tmp_path / "m.keras", compile=False)
    pipe = loaded.get_layer("pipe")
    assert type(pipe) is layers.Pipeline
    assert pipe.get_config() == model.get_layer("pipe").get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-6)


def test_keras_saved_model_loads_and_predicts_like_keras(backend):
    model = gpunet.models.load_model(FIXDIR / "spectrogram_pipeline.keras", compile=False)
    pipe = model.layers[0]
    assert type(pipe) is layers.Pipeline
    assert [type(la).__name__ for la in pipe.layers] == ["Rescaling", "STFTSpectrogram"]
    fresh = layers.STFTSpectrogram(mode="magnitude", frame_length=16, frame_step=8)
    fresh.build((None, 128, 1))  # Keras changed the kernels before saving: they come from it
    assert not np.allclose(_np(backend, pipe.layers[1].real_kernel),
                           _np(backend, fresh.real_kernel))
    np.testing.assert_allclose(model.predict(MODELS["pipe_x"], verbose=0), MODELS["pipe_y"],
                               rtol=1e-5, atol=1e-5)


def test_string_inputs_reach_the_first_layer(backend):
    pipe = layers.Pipeline([layers.StringLookup(vocabulary=["a", "b", "c"])])
    got = pipe(np.array([["a", "c"], ["z", "b"]]))
    np.testing.assert_array_equal(_np(backend, got), [[1, 3], [0, 2]])


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="`layers` must be a list of Layer instances"):
        layers.Pipeline(layers.Dense(2))
    with pytest.raises(TypeError, match="Received: 'relu'"):
        layers.Pipeline([layers.Dense(2), "relu"])
    with pytest.raises(TypeError):  # Keras's Pipeline takes only `layers` and `name`
        layers.Pipeline([], trainable=False)
    with pytest.raises(ValueError, match="must contain a `layers` key"):
        layers.Pipeline.from_config({"name": "p"})
