"""AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D give the values, output shapes
and configs Keras 3.15 gave on the same inputs (tests/fixtures/adaptive_pooling.*, made by
tests/fixtures/make_keras_adaptive_pooling.py; no Keras needed here), pass gradients (finite
differences in float64) so a model whose weights sit before them trains, survive a .keras
save/load round trip, load from Keras's .keras and .h5 files, and reject bad arguments with
Keras's error types."""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIX = np.load(FIXDIR / "adaptive_pooling.npz")
CASES = json.loads((FIXDIR / "adaptive_pooling.json").read_text())["cases"]
CLASSES = [f"Adaptive{k}Pooling{r}D" for k in ("Average", "Max") for r in (1, 2, 3)]


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _json(obj):
    return json.loads(json.dumps(obj))


@pytest.mark.parametrize("key", sorted(CASES))
def test_layer_from_keras_config_matches_keras(backend, key):
    case = CASES[key]
    layer = layers.deserialize({"class_name": case["class_name"], "config": case["config"]})
    assert type(layer).__name__ == case["class_name"]
    x = FIX[f"{key}_x"]
    y = layer(backend.asarray(x))
    want = FIX[f"{key}_y"]
    assert tuple(y.shape) == want.shape
    np.testing.assert_allclose(_np(backend, y), want, rtol=1e-6, atol=1e-6)
    shape = (None,) + x.shape[1:]
    assert list(layer.compute_output_shape(shape)) == case["output_shape"]


@pytest.mark.parametrize("key", sorted(CASES))
def test_constructor_config_equals_keras_get_config(key):
    case = CASES[key]
    kcfg = case["config"]
    cls = getattr(layers, case["class_name"])
    size = case["output_size"]
    layer = cls(size, data_format=kcfg["data_format"], name=kcfg["name"])
    cfg = _json(layer.get_config())
    assert isinstance(layer.get_config()["output_size"], tuple)
    for k in ("name", "trainable", "output_size", "data_format"):
        assert cfg[k] == kcfg[k], k
    assert set(kcfg) - {"dtype"} <= set(cfg)
    again = cls.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()


@pytest.mark.parametrize("key", ["average1d_nondiv", "max1d_up", "average2d_cf_nondiv",
                                 "max2d_nondiv", "average3d_nondiv", "max3d_cf"])
def test_symbolic_call_gives_keras_output_shape(key):
    case = CASES[key]
    layer = layers.deserialize({"class_name": case["class_name"], "config": case["config"]})
    inp = layers.Input(FIX[f"{key}_x"].shape[1:])
    assert list(layer(inp).shape) == case["output_shape"]


@pytest.mark.parametrize("key", ["average1d_nondiv", "max1d_up", "average2d_cf_nondiv",
                                 "max2d_nondiv", "average3d_nondiv", "max3d_cf"])
def test_gradient_matches_finite_differences(backend, key):
    case = CASES[key]
    cfg = {**case["config"], "dtype": "float64"}
    layer = layers.deserialize({"class_name": case["class_name"], "config": cfg})
    x = FIX[f"{key}_x"].astype(np.float64)
    check_grad(lambda t: layer(t), [x], backend=backend)


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_weights_before_the_pooling_train(backend, name, data_format):
    rank = int(name[-2])
    shape = (5, 7, 6)[:rank] + (2,)
    cls = getattr(layers, name)

    def build(seed):
        gpunet.utils.set_random_seed(seed)
        return gpunet.Sequential([layers.Input(shape), layers.Dense(3),
                                  cls((3, 2, 4)[:rank], data_format=data_format),
                                  layers.Flatten()])

    model, teacher = build(0), build(1)  # the targets are reachable through the pooling
    x = np.random.default_rng(1).normal(size=(16,) + shape).astype("float32")
    y = teacher.predict(x, verbose=0)
    kernel = model.layers[0].kernel
    before = _np(backend, kernel).copy()
    model.compile(optimizer=gpunet.optimizers.Adam(0.05), loss="mse")
    loss = model.fit(x, y, epochs=20, batch_size=16, verbose=0).history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert not np.allclose(_np(backend, kernel), before)


@pytest.mark.parametrize("name", CLASSES)
def test_keras_archive_round_trip(backend, tmp_path, name):
    rank = int(name[-2])
    cls = getattr(layers, name)
    model = gpunet.Sequential([layers.Input((9, 8, 7)[:rank] + (3,)), layers.Dense(2),
                               cls((4, 3, 5)[:rank], data_format="channels_first",
                                   name="pool"),
                               layers.Flatten(), layers.Dense(1)])
    x = np.random.default_rng(2).normal(size=(2,) + model.input_shape[1:]).astype("float32")
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = gpunet.models.load_model(tmp_path / "m.keras", compile=False)
    pool = loaded.get_layer("pool")
    assert type(pool) is cls
    assert pool.get_config() == model.get_layer("pool").get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("suffix", ["keras", "h5"])
def test_keras_saved_model_loads_and_predicts_like_keras(backend, suffix):
    data = np.load(FIXDIR / "adaptive_pooling_model.npz")
    model = gpunet.models.load_model(FIXDIR / f"adaptive_pooling.{suffix}", compile=False)
    kinds = [type(la).__name__ for la in model.layers]
    assert kinds[1:3] == ["AdaptiveMaxPooling2D", "AdaptiveAveragePooling2D"]
    assert model.layers[1].output_size == (4, 3)
    assert model.layers[2].data_format == "channels_first"
    np.testing.assert_allclose(model.predict(data["x0"], verbose=0), data["y0"],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", CLASSES)
def test_output_size_errors_as_keras(name):
    rank = int(name[-2])
    cls = getattr(layers, name)
    for bad in ("2", 2.0, None, {"a": 1}):
        with pytest.raises(TypeError, match=f"{name}: `output_size` must be an integer or"):
            cls(bad)
    wrong = (2,) * (rank + 1)
    err = ValueError if rank == 1 else TypeError
    with pytest.raises(err, match=f"{name}.*Received: {re.escape(str(wrong))}"):
        cls(wrong)
    for bad in (0, -1, (0,) * rank, (2.5,) * rank):
        with pytest.raises(ValueError, match=f"{name}: `output_size` must hold positive"):
            cls(bad)
    with pytest.raises(ValueError, match=f"{name}: Invalid data_format: NHWC"):
        cls(2, data_format="NHWC")
    assert cls(np.int64(2)).output_size == (2,) * rank
    assert cls([2] * rank).output_size == (2,) * rank


@pytest.mark.parametrize("name", CLASSES)
def test_wrong_input_rank_is_an_error_naming_the_layer(backend, name):
    rank = int(name[-2])
    layer = getattr(layers, name)(2, name="adapt")
    x = backend.asarray(np.zeros((2,) + (4,) * (rank + 1) + (3,), "float32"))
    with pytest.raises(ValueError, match="adapt"):
        layer(x)


def test_default_data_format_follows_the_config():
    assert layers.AdaptiveMaxPooling2D(2).data_format == "channels_last"
    old = gpunet.config.image_data_format()
    gpunet.config.set_image_data_format("channels_first")
    try:
        layer = layers.AdaptiveAveragePooling3D(2)
        assert layer.data_format == "channels_first"
        assert layer.get_config()["data_format"] == "channels_first"
    finally:
        gpunet.config.set_image_data_format(old)
