"""Functional models: JSON config round trip, HDF5 save/load, and Keras-written files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Input, Model, Sequential, layers
from gpunet.models import Functional

RNG = np.random.default_rng(3)


def _model(compile: bool = True):
    gpunet.utils.set_random_seed(0)
    a, b = Input((3,), name="a"), Input((2,), name="b")
    shared = layers.Dense(4, activation="relu", name="shared")
    ha = shared(a)
    hb = shared(layers.Dense(3, name="proj")(b))
    inner = Sequential([layers.Dense(5, activation="tanh"), layers.Dropout(0.3)], name="inner")
    h = inner(layers.concatenate([ha, hb], name="cat"))
    score = layers.Dense(1, name="score")(layers.add([h, layers.Dense(5, name="skip")(a)]))
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    model = Model([a, b], [score, cls], name="two_heads")
    if compile:
        model.compile("adam", loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
                      loss_weights=[0.3, 1.0], metrics={"cls": ["accuracy"]})
    return model


def _data(n=16):
    return ([RNG.normal(size=(n, 3)).astype("float32"), RNG.normal(size=(n, 2)).astype("float32")],
            [RNG.normal(size=(n, 1)).astype("float32"), RNG.integers(0, 3, n)])


def test_config_layout_is_keras2():
    cfg = _model(compile=False).get_config()
    assert cfg["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert cfg["output_layers"] == [["score", 0, 0], ["cls", 0, 0]]
    by_name = {entry["name"]: entry for entry in cfg["layers"]}
    assert by_name["a"]["inbound_nodes"] == [] and by_name["a"]["class_name"] == "InputLayer"
    assert by_name["shared"]["inbound_nodes"] == [[["a", 0, 0, {}]], [["proj", 0, 0, {}]]]
    assert by_name["cat"]["inbound_nodes"] == [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]
    assert by_name["inner"]["class_name"] == "Sequential"


def test_json_round_trip_rebuilds_the_same_graph():
    model = _model(compile=False)
    text = model.to_json()
    back = gpunet.models.model_from_json(text)
    assert type(back) is Functional
    assert json.loads(back.to_json()) == json.loads(text)
    assert [lyr.name for lyr in back.layers] == [lyr.name for lyr in model.layers]
    back.set_weights(model.get_weights())
    x, _ = _data(4)
    for p, q in zip(back.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(p, q, rtol=1e-6)


def test_h5_round_trip_same_predictions_and_next_step(tmp_path):
    model = _model()
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as f:
        names = [n.decode() if isinstance(n, bytes) else n
                 for n in f["model_weights"].attrs["layer_names"]]
    assert names == [lyr.name for lyr in model.layers] and names[:2] == ["b", "a"]  # by depth
    loaded = gpunet.models.load_model(tmp_path / "m.h5")
    assert loaded.metrics_names == model.metrics_names
    for p, q in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(p, q)
    gpunet.utils.set_random_seed(7)  # the same dropout masks for both copies
    a = model.train_on_batch(x, y)
    gpunet.utils.set_random_seed(7)
    b = loaded.train_on_batch(x, y)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    for w1, w2 in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(w1, w2, rtol=1e-6, atol=1e-7)


def test_single_io_functional_uses_shared_round_trip(tmp_path, round_trip):
    x_in = Input((4,))
    model = Model(x_in, layers.Dense(2)(layers.Dense(3, activation="relu")(x_in)))
    x, y = RNG.normal(size=(8, 4)).astype("float32"), RNG.normal(size=(8, 2)).astype("float32")
    loaded = round_trip(model, x, y, tmp_path)
    assert type(loaded) is Functional


@pytest.mark.parametrize("flavor", ["k2", "k3"])
def test_keras_written_functional_file_loads(tmp_path, kw, flavor):
    w = kw.functional_weights()
    kw.write_functional_file(tmp_path / "f.h5", flavor, w,
                             training_config=kw.keras2_training_config())
    model = gpunet.models.load_model(tmp_path / "f.h5", compile=False)
    assert [lyr.name for lyr in model.layers] == kw.FUNCTIONAL_LAYERS
    assert model.input_names == ["in_a", "in_b"]
    xa, xb = RNG.normal(size=(5, 3)).astype("float32"), RNG.normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0),
                               kw.functional_numpy_forward(xa, xb, w), rtol=1e-5, atol=1e-5)


def test_keras_written_weights_load_into_a_gpunet_functional_model(tmp_path, kw):
    w = kw.functional_weights(seed=5)
    with h5py.File(tmp_path / "w.h5", "w") as f:
        kw.write_weight_groups(f, "k2", w, layer_names=kw.FUNCTIONAL_LAYERS)
    a, b = Input((3,), name="in_a"), Input((3,), name="in_b")
    shared = layers.Dense(4, activation="relu", name="shared")
    model = Model([a, b], layers.Dense(2, name="out")(layers.concatenate([shared(a), shared(b)])))
    model.load_weights(tmp_path / "w.h5")
    xa, xb = RNG.normal(size=(4, 3)).astype("float32"), RNG.normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0),
                               kw.functional_numpy_forward(xa, xb, w), rtol=1e-5, atol=1e-5)


def test_clone_and_dict_io_survive_saving(tmp_path):
    a, b = Input((2,), name="a"), Input((2,), name="b")
    model = Model({"a": a, "b": b}, {"sum": layers.add([a, layers.Dense(2, name="d")(b)])})
    model.compile("sgd", loss={"sum": "mse"})
    x = {"a": RNG.normal(size=(4, 2)).astype("float32"),
         "b": RNG.normal(size=(4, 2)).astype("float32")}
    model.fit(x, {"sum": np.zeros((4, 2), "float32")}, verbose=0)
    model.save(tmp_path / "d.h5")
    loaded = gpunet.models.load_model(tmp_path / "d.h5")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0)["sum"],
                                  model.predict(x, verbose=0)["sum"])
    clone = gpunet.models.clone_model(loaded)
    assert sorted(clone.get_config()["input_layers"]) == ["a", "b"]


def test_disconnected_config_is_a_clear_error(kw):
    cfg = kw.keras2_functional_config()
    cfg["config"]["layers"][2]["inbound_nodes"] = [[["missing", 0, 0, {}]]]
    with pytest.raises(ValueError, match="missing|shared"):
        gpunet.models.model_from_json(json.dumps(cfg))
