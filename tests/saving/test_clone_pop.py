"""clone_model (same config, fresh weights) and Sequential.pop."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers


def _model():
    return Sequential([layers.Input((4,)), layers.Dense(6, activation="relu"),
                       layers.Dropout(0.3), layers.Dense(3, activation="softmax")])


def test_clone_model_same_config_fresh_weights(backend):
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    clone = gpunet.models.clone_model(model)
    assert clone.to_json() == model.to_json()
    assert not clone.compiled
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    before = model.get_weights()
    clone.compile(optimizer="sgd", loss="mse")
    clone.fit(np.ones((8, 4), "float32"), np.zeros((8, 3), "float32"), epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_clone_function():
    model = _model()

    def no_dropout(layer):
        if isinstance(layer, layers.Dropout):
            return layers.Dropout(0.0, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    clone = gpunet.models.clone_model(model, clone_function=no_dropout)
    assert clone.layers[1].rate == 0.0 and model.layers[1].rate == pytest.approx(0.3)
    with pytest.raises(ValueError, match="original layer"):
        gpunet.models.clone_model(model, clone_function=lambda layer: layer)


def test_clone_nested_and_errors():
    inner = Sequential([layers.Dense(5)], name="inner")
    model = Sequential([layers.Input((3,)), inner, layers.Dense(2)])
    clone = gpunet.models.clone_model(model)
    assert clone.to_json() == model.to_json()
    assert clone.layers[0] is not inner
    with pytest.raises(TypeError, match="Sequential"):
        gpunet.models.clone_model(layers.Dense(2))
    with pytest.raises(ValueError, match="input_tensors"):
        gpunet.models.clone_model(model, input_tensors=[1])


def test_pop(tmp_path):
    model = _model()
    removed = model.pop()
    assert removed.name == "dense_1"
    assert [layer.name for layer in model.layers] == ["dense", "dropout"]
    assert model.output_shape == (None, 6)
    assert model.predict(np.ones((2, 4), "float32"), verbose=0).shape == (2, 6)
    model.add(layers.Dense(2, name="new_head"))
    assert model.output_shape == (None, 2)
    model.save(tmp_path / "p.h5")
    loaded = gpunet.models.load_model(tmp_path / "p.h5", compile=False)
    assert [layer.name for layer in loaded.layers] == ["dense", "dropout", "new_head"]
    model.pop()
    model.pop()
    model.pop()
    with pytest.raises(TypeError, match="no layers"):
        model.pop()
