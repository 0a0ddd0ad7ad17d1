"""The saving hooks of the keras.io guide "Customizing Saving and Serialization" in ``.keras``
archives: ``save_assets``/``load_assets``, ``get_build_config``/``build_from_config``,
``get_compile_config``/``compile_from_config``, ``save_own_variables``/``load_own_variables``.

Archives written by Keras 3.15 with the same classes (``tests/fixtures/
make_keras_saving_hooks.py``) load here, and gpunet writes what Keras writes (member names,
``build_config``, ``compile_config``)."""

from __future__ import annotations

import json
import os
import sys
import zipfile

import numpy as np
import pytest

import gpunet as keras

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
sys.path.insert(0, FIXTURES)
from saving_hooks_classes import PACKAGE, define  # noqa: E402

C = define(keras)


@pytest.fixture(scope="module")
def ref():
    with np.load(os.path.join(FIXTURES, "saving_hooks.npz")) as f:
        return {k: f[k] for k in f.files}


def _config(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json")), z.namelist()


def test_assets_round_trip_at_keras_paths(backend, tmp_path):
    model = keras.Sequential([keras.Input((10,)),
                              C["LayerWithCustomAssets"](vocab="Mary had a <unk> lamb.",
                                                         units=5)])
    path = str(tmp_path / "assets.keras")
    model.save(path)
    _, names = _config(path)
    # the member Keras 3.15 writes for the same model
    assert "assets/layers/layer_with_custom_assets/vocabulary.txt" in names
    restored = keras.models.load_model(path)
    assert restored.layers[0].vocab == "Mary had a little lamb."


def test_keras_archive_assets_load(backend, ref):
    m = keras.models.load_model(os.path.join(FIXTURES, "saving_hooks_assets.keras"))
    assert m.layers[0].vocab == "Mary had a little lamb."
    np.testing.assert_allclose(m.predict(ref["x_assets"], verbose=0), ref["y_assets"],
                               rtol=1e-5, atol=1e-6)


def test_build_config_round_trip_as_keras_writes_it(backend, tmp_path, ref):
    layer = C["LayerWithCustomBuild"](units=16)
    layer.build(input_shape=(8,), layer_init="random_normal")
    model = keras.Sequential([layer, keras.layers.Dense(1, activation="sigmoid")])
    x = ref["x_build"]
    y = keras.ops.convert_to_numpy(model(x))
    path = str(tmp_path / "build.keras")
    model.save(path)
    cfg, _ = _config(path)
    entry = next(e for e in cfg["config"]["layers"] if e["class_name"] == "LayerWithCustomBuild")
    keras_cfg, _ = _config(os.path.join(FIXTURES, "saving_hooks_build.keras"))
    keras_entry = next(e for e in keras_cfg["config"]["layers"]
                       if e["class_name"] == "LayerWithCustomBuild")
    assert entry["build_config"] == keras_entry["build_config"] == {
        "layer_init": "random_normal", "input_shape": [8]}
    assert entry["registered_name"] == f"{PACKAGE}>LayerWithCustomBuild"
    restored = keras.models.load_model(path)
    assert restored.built and restored.layers[0].layer_init == "random_normal"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)), y, rtol=1e-6)
    from_keras = keras.models.load_model(os.path.join(FIXTURES, "saving_hooks_build.keras"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(from_keras(x)), ref["y_build"],
                               rtol=1e-5, atol=1e-6)


def test_compile_config_round_trip_as_keras_writes_it(backend, tmp_path, ref):
    model = C["ModelWithCustomCompile"]()
    model.compile(optimizer="SGD", loss_fn=C["small_square_sum_loss"],
                  metrics=["accuracy", C["mean_pred"]])
    x = ref["x_compile"]
    model.fit(x, np.random.default_rng(1).random((4,)).astype("float32"), verbose=0)
    path = str(tmp_path / "compile.keras")
    model.save(path)
    cfg, _ = _config(path)
    keras_cfg, _ = _config(os.path.join(FIXTURES, "saving_hooks_compile.keras"))
    assert cfg["compile_config"] == keras_cfg["compile_config"]
    for restored in (keras.models.load_model(path),
                     keras.models.load_model(os.path.join(FIXTURES,
                                                          "saving_hooks_compile.keras"))):
        assert restored.model_optimizer == "SGD"
        assert restored.loss_fn is C["small_square_sum_loss"]
        assert restored.loss_metrics == ["accuracy", C["mean_pred"]]
        assert restored.compiled
    restored = keras.models.load_model(os.path.join(FIXTURES, "saving_hooks_compile.keras"))
    np.testing.assert_allclose(restored.predict(x, verbose=0), ref["y_compile"], rtol=1e-5,
                               atol=1e-6)


class CountingDense(keras.layers.Dense):
    """Stores a call counter that is no variable, through its own-variables hooks."""

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.calls = 0

    def call(self, inputs):
        self.calls += 1
        return super().call(inputs)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["calls"] = np.array(self.calls)

    def load_own_variables(self, store):
        self.calls = int(store.pop("calls"))
        super().load_own_variables(store)


def test_own_variables_hooks_decide_what_is_stored(backend, tmp_path):
    model = keras.Sequential([keras.Input((3,)), CountingDense(2, name="counting")])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    for _ in range(3):
        y = keras.ops.convert_to_numpy(model(x))
    path = str(tmp_path / "own.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        import io

        import h5py

        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            assert sorted(f["layers/counting_dense/vars"].keys()) == ["0", "1", "calls"]
    restored = keras.models.load_model(path, custom_objects={"CountingDense": CountingDense})
    assert restored.layers[0].calls == model.layers[0].calls >= 3
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)), y, rtol=1e-6)


def test_an_asset_path_leaving_the_folder_is_refused(backend, tmp_path):
    model = keras.Sequential([keras.Input((10,)),
                              C["LayerWithCustomAssets"](vocab="a", units=5)])
    path = str(tmp_path / "bad.keras")
    model.save(path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("assets/../../escaped.txt", "x")
    with pytest.raises(Exception, match="not a plain relative asset path"):
        keras.models.load_model(path)
    assert not (tmp_path / "escaped.txt").exists()
