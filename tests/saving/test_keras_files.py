"""Loading .h5 files in the layouts Keras 2 and Keras 3 write (fixtures built with h5py)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers


def _x(n: int = 6) -> np.ndarray:
    return np.random.default_rng(5).normal(size=(n, 2, 3)).astype("float32")


def _expected_slots(kw, state) -> list[np.ndarray]:
    return [a for layer in ("dense", "dense_1") for pair in state[layer] for a in pair]


@pytest.mark.parametrize("flavor,opt_flavor,fixed", [
    ("k2", "k2", False), ("k2", "k2_legacy", False), ("k2", "k2", True), ("k3", "k3", False)])
def test_load_keras_model_file(tmp_path, kw, backend, flavor, opt_flavor, fixed):
    w = kw.reference_weights()
    state = kw.adam_state(w)
    tc = (kw.keras2_training_config(legacy=opt_flavor == "k2_legacy") if flavor == "k2"
          else kw.keras3_training_config())
    path = tmp_path / "keras.h5"
    kw.write_model_file(path, flavor, w, tc, kw.optimizer_weights(opt_flavor, w, state, 7),
                        fixed_strings=fixed)

    model = gpunet.models.load_model(path)
    assert [layer.name for layer in model.layers] == kw.LAYER_NAMES
    assert model.backend is backend
    x = _x()
    np.testing.assert_allclose(model.predict(x, verbose=0), kw.numpy_forward(x, w),
                               rtol=1e-5, atol=1e-6)
    opt = model.optimizer
    assert type(opt).__name__ == "Adam"
    assert opt.iterations == 7
    got = [a for _, a in opt.get_slot_arrays()]
    for g, e in zip(got, _expected_slots(kw, state), strict=True):
        np.testing.assert_array_equal(g, e)
    result = model.evaluate(x, np.arange(6) % 4, verbose=0, return_dict=True)
    assert set(result) == {"loss", "accuracy"}


def test_keras2_learning_rate_and_loss(tmp_path, kw):
    w = kw.reference_weights()
    kw.write_model_file(tmp_path / "m.h5", "k2", w, kw.keras2_training_config(lr=0.05))
    model = gpunet.models.load_model(tmp_path / "m.h5")
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    assert model.optimizer.iterations == 0


def test_load_without_compile_and_without_training_config(tmp_path, kw):
    w = kw.reference_weights()
    kw.write_model_file(tmp_path / "m.h5", "k3", w)
    assert not gpunet.models.load_model(tmp_path / "m.h5", compile=False).compiled
    with pytest.warns(UserWarning, match="not\\* compiled"):
        model = gpunet.models.load_model(tmp_path / "m.h5")
    assert not model.compiled


def _gpunet_reference():
    return Sequential([layers.Input(tuple(_x().shape[1:])), layers.Flatten(),
                       layers.Dense(5, activation="relu"), layers.Dropout(0.5),
                       layers.Dense(4), layers.Activation("softmax")])


@pytest.mark.parametrize("by_name", [False, True])
def test_keras3_weights_h5(tmp_path, kw, backend, by_name):
    w = kw.reference_weights(seed=3)
    kw.write_keras3_weights(tmp_path / "k3.weights.h5", w)
    model = _gpunet_reference()
    model.load_weights(tmp_path / "k3.weights.h5", by_name=by_name)
    x = _x()
    np.testing.assert_allclose(model.predict(x, verbose=0), kw.numpy_forward(x, w),
                               rtol=1e-5, atol=1e-6)


def test_keras3_weights_without_names_by_name_is_clear(tmp_path, kw):
    kw.write_keras3_weights(tmp_path / "old.weights.h5", kw.reference_weights(),
                            with_names=False)
    model = _gpunet_reference()
    model.load_weights(tmp_path / "old.weights.h5")
    with pytest.raises(ValueError, match="records no layer names"):
        model.load_weights(tmp_path / "old.weights.h5", by_name=True)


@pytest.mark.parametrize("flavor", ["k2", "k3"])
def test_keras_save_weights_layout_at_root(tmp_path, kw, flavor):
    w = kw.reference_weights(seed=4)
    with h5py.File(tmp_path / "w.h5", "w") as f:
        kw.write_weight_groups(f, flavor, w)
    model = _gpunet_reference()
    model.load_weights(tmp_path / "w.h5")
    x = _x()
    np.testing.assert_allclose(model.predict(x, verbose=0), kw.numpy_forward(x, w),
                               rtol=1e-5, atol=1e-6)


def _with_layer(kw, flavor: str, index: int, layer_cfg: dict) -> dict:
    cfg = kw.keras2_config() if flavor == "k2" else kw.keras3_config()
    cfg["config"]["layers"][index] = layer_cfg
    return cfg


@pytest.mark.parametrize("flavor", ["k2", "k3"])
def test_unknown_layer_names_class_and_custom_objects(tmp_path, kw, flavor):
    conv = {"class_name": "LocallyConnected2D", "config": {"name": "lc", "filters": 3}}
    cfg = _with_layer(kw, flavor, 2, conv)
    kw.write_model_file(tmp_path / "m.h5", flavor, kw.reference_weights(), model_config=cfg)
    with pytest.raises(ValueError, match="LocallyConnected2D") as e:
        gpunet.models.load_model(tmp_path / "m.h5")
    assert "custom_objects" in str(e.value) and "m.h5" in str(e.value)


@pytest.mark.parametrize("key,value,match", [
    ("unknown_option", 1, "unknown_option"), ("lora_rank", 4, "lora_rank"),
    ("dtype", {"module": "keras", "class_name": "QuantizedDTypePolicy",
               "config": {"mode": "int8", "source_name": "float32"}, "registered_name": None},
     "QuantizedDTypePolicy")])
def test_unsupported_option_is_named(tmp_path, kw, key, value, match):
    cfg = kw.keras3_config()
    cfg["config"]["layers"][2]["config"][key] = value
    kw.write_model_file(tmp_path / "m.h5", "k3", kw.reference_weights(), model_config=cfg)
    with pytest.raises(ValueError, match=match) as e:
        gpunet.models.load_model(tmp_path / "m.h5")
    assert "dense" in str(e.value)


def test_functional_model_is_named(tmp_path, kw):
    cfg = {"class_name": "Functional", "config": {"name": "model", "layers": [],
                                                  "input_layers": [], "output_layers": []}}
    kw.write_model_file(tmp_path / "m.h5", "k2", {}, model_config=cfg)
    with pytest.raises(ValueError, match="Functional"):
        gpunet.models.load_model(tmp_path / "m.h5")


def test_keras_function_and_tuple_wrappers(tmp_path, kw):
    cfg = kw.keras3_config()
    dense = cfg["config"]["layers"][2]["config"]
    dense["activation"] = {"module": "keras.activations", "class_name": "function",
                           "config": "relu", "registered_name": "function"}
    drop = cfg["config"]["layers"][3]["config"]
    drop["noise_shape"] = {"class_name": "__tuple__", "config": {"value": [None, 5]}}
    w = kw.reference_weights()
    kw.write_model_file(tmp_path / "m.h5", "k3", w, model_config=cfg)
    model = gpunet.models.load_model(tmp_path / "m.h5", compile=False)
    assert list(model.layers[2].noise_shape) == [None, 5]
    x = _x()
    np.testing.assert_allclose(model.predict(x, verbose=0), kw.numpy_forward(x, w),
                               rtol=1e-5, atol=1e-6)


def test_model_config_json_is_keras_readable_shape(tmp_path, kw):
    """What gpunet writes is the Keras 2 shape the fixture writer also produces."""
    model = _gpunet_reference()
    model.save(tmp_path / "g.h5", include_optimizer=False)
    with h5py.File(tmp_path / "g.h5") as f:
        cfg = json.loads(f.attrs["model_config"])
    ref = kw.keras2_config()
    assert cfg["class_name"] == ref["class_name"]
    assert [c["class_name"] for c in cfg["config"]["layers"]] == \
        [c["class_name"] for c in ref["config"]["layers"]]
    for got, want in zip(cfg["config"]["layers"][2:], ref["config"]["layers"][2:]):
        assert set(want["config"]) <= set(got["config"]), want["class_name"]
