"""model.save writes Keras's legacy .h5 layout (what h5py shows for a tf.keras 2 file)."""

from __future__ import annotations

import json
import os
import stat

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers


def _reference_model(kw):
    m = Sequential([layers.Input(kw.INPUT_SHAPE), layers.Flatten(),
                    layers.Dense(kw.HIDDEN, activation="relu"), layers.Dropout(0.5),
                    layers.Dense(kw.CLASSES), layers.Activation("softmax")])
    m.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def _attr_kind(v) -> str:
    arr = np.asarray(v)
    if arr.dtype.kind in ("O", "U") or isinstance(v, str):
        return "vlen-str"
    return arr.dtype.kind + str(arr.shape != ())


# gpunet's checksums (h5_guard), which Keras ignores
_CHECKSUMS = {"gpunet_sha256", "gpunet_config_sha256"}


def _describe(path) -> dict:
    """Every object of the file with its kind, its attributes' kinds and dataset dtypes
    (without gpunet's checksum attributes)."""
    out = {}
    with h5py.File(path, "r") as f:
        out["/"] = {k: _attr_kind(f.attrs[k]) for k in f.attrs if k not in _CHECKSUMS}

        def visit(name, obj):
            entry = {k: _attr_kind(obj.attrs[k]) for k in obj.attrs if k not in _CHECKSUMS}
            if isinstance(obj, h5py.Dataset):
                entry["<dataset>"] = (str(obj.dtype), obj.shape)
            out[name] = entry

        f.visititems(visit)
    return out


def test_layout_matches_a_keras2_file(tmp_path, kw):
    model = _reference_model(kw)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, *kw.INPUT_SHAPE)).astype("float32")
    model.fit(x, rng.integers(0, 4, 16), epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "gpunet.h5")

    w = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    state = kw.adam_state(w)
    kw.write_model_file(tmp_path / "keras.h5", "k2", w, kw.keras2_training_config(),
                        kw.optimizer_weights("k2", w, state, 2))
    ours, keras = _describe(tmp_path / "gpunet.h5"), _describe(tmp_path / "keras.h5")
    assert ours == keras


def test_root_attributes_and_groups(tmp_path, mlp, data):
    model = mlp()
    model.fit(*data, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert set(f.attrs) - _CHECKSUMS == {"keras_version", "backend", "model_config",
                                             "training_config"}
        assert isinstance(f.attrs["keras_version"], str)
        assert f.attrs["backend"] == "tensorflow"
        cfg = json.loads(f.attrs["model_config"])
        assert cfg["class_name"] == "Sequential"
        assert cfg["config"]["layers"][0]["class_name"] == "InputLayer"
        tc = json.loads(f.attrs["training_config"])
        assert tc["loss"] == "sparse_categorical_crossentropy"
        assert tc["optimizer_config"]["class_name"] == "Adam"
        mw = f["model_weights"]
        assert list(mw.attrs["layer_names"]) == ["dense", "dense_1"]
        assert list(mw["dense"].attrs["weight_names"]) == ["dense/kernel:0", "dense/bias:0"]
        assert mw["dense/dense/kernel:0"].dtype == np.float32
        assert mw["top_level_model_weights"].attrs["weight_names"].dtype == np.float64
        og = f["optimizer_weights"]
        assert list(og.attrs["weight_names"])[:3] == ["iteration:0", "Adam/m/dense/kernel:0",
                                                      "Adam/v/dense/kernel:0"]
        assert og["iteration:0"][()] == 4 and og["iteration:0"].dtype == np.int64


def test_many_long_layer_names_are_chunked(tmp_path):
    names = [f"layer_{i:03d}_" + "x" * 290 for i in range(230)]
    model = Sequential([layers.Input((2,))] + [layers.Dense(2, name=n) for n in names])
    model.save(tmp_path / "long.h5")
    with h5py.File(tmp_path / "long.h5", "r") as f:
        mw = f["model_weights"]
        assert "layer_names" not in mw.attrs
        chunks = [k for k in mw.attrs if k.startswith("layer_names")]
        assert sorted(chunks) == [f"layer_names{i}" for i in range(len(chunks))]
        assert len(chunks) >= 2
        for k in chunks:
            assert mw.attrs[k].dtype.kind == "S" and mw.attrs[k].nbytes <= 64512
        assert [n.decode() for k in sorted(chunks) for n in mw.attrs[k]] == names
    loaded = gpunet.models.load_model(tmp_path / "long.h5", compile=False)
    assert [layer.name for layer in loaded.layers] == names
    x = np.ones((3, 2), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("name", ["m.h5", "m.hdf5"])  # no extension raises, as in Keras 3
def test_round_trip_predictions(tmp_path, backend, mlp, data, name):
    model = mlp()
    model.fit(*data, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / name)
    loaded = gpunet.models.load_model(str(tmp_path / name))
    np.testing.assert_array_equal(loaded.predict(data[0], verbose=0),
                                  model.predict(data[0], verbose=0))
    assert loaded.compiled and loaded.optimizer.iterations == model.optimizer.iterations
    assert loaded.to_json() == model.to_json()


def test_include_optimizer_false(tmp_path, mlp, data):
    model = mlp()
    model.fit(*data, epochs=1, verbose=0)
    model.save(tmp_path / "m.h5", include_optimizer=False)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert "training_config" not in f.attrs and "optimizer_weights" not in f
    assert not gpunet.models.load_model(tmp_path / "m.h5", compile=False).compiled


def test_overwrite_keras_format_and_unbuilt(tmp_path, mlp):
    model = mlp()
    model.save(tmp_path / "m.h5")
    with pytest.raises(FileExistsError, match="m.h5"):
        model.save(tmp_path / "m.h5", overwrite=False)
    model.save(tmp_path / "m.keras")  # Keras 3's archive (tests in test_keras_archive.py)
    with pytest.raises(FileExistsError, match=r"m\.keras"):
        model.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(ValueError, match="not been built"):
        Sequential([layers.Dense(2)]).save(tmp_path / "u.h5")


def test_saved_file_has_normal_permissions_and_no_temp_left(tmp_path, mlp):
    old = os.umask(0o022)
    try:
        mlp().save(tmp_path / "m.h5")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.h5").st_mode) == 0o644
    assert os.listdir(tmp_path) == ["m.h5"]
