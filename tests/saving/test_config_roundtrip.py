"""get_config/from_config round trips for every registered object (the registries are walked,
so entries added later are covered), JSON/YAML model configs, custom objects."""

from __future__ import annotations

import inspect
import json
import sys

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers, registry
from gpunet.saving.serialization import deserialize_layer

KINDS = ("layer", "activation", "initializer", "regularizer", "constraint", "loss", "metric",
         "optimizer", "schedule")

# Values for required constructor arguments, by argument name (extend when a new class needs
# one; the failure message says which).
SAMPLES = {
    "units": 3, "rate": 0.25, "activation": "tanh", "shape": (4,), "filters": 2,
    "kernel_size": 3, "pool_size": 2, "strides": 1, "input_dim": 10, "output_dim": 4,
    "target_shape": (2, 2), "dims": (2, 1), "n": 2, "cropping": 1, "padding": 1, "size": 2,
    "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9, "boundaries": [10],
    "values": [0.1, 0.01], "first_decay_steps": 10, "num_classes": 3, "thresholds": 0.5,
    "max_value": 6.0, "value": 1.0, "l1": 0.01, "l2": 0.01, "alpha": 0.3, "theta": 1.0,
    "stddev": 0.1, "mean": 0.0, "axis": -1, "batch_input_shape": (None, 4), "top_k": 2,
    "class_id": 1, "recall": 0.5, "precision": 0.5, "specificity": 0.5, "sensitivity": 0.5,
    "num_thresholds": 10, "warmup_target": 0.1, "warmup_steps": 5, "factor": 0.5,
    "delta": 1.0, "num_tokens": 3, "scale": 0.5, "offset": 0.0, "mode": "fan_in",
    "axes": 1, "num_heads": 2, "key_dim": 4, "target_class_ids": [0, 2], "normalizer": 2.0,
    "height": 4, "width": 4, "height_factor": 0.1, "width_factor": 0.1,
    "equation": "ab,bc->ac", "output_shape": 3,  # EinsumDense
    "output_size": 2,  # the adaptive poolings
    "num_bins": 3,  # Hashing
    "head_dim": 4, "num_query_heads": 2, "num_key_value_heads": 1,  # GroupQueryAttention
    "function": gpunet.ops.relu,  # Lambda (saved by module and name) and OpLambda ("relu")
    "inner_optimizer": {"class_name": "SGD", "config": {}},  # LossScaleOptimizer (fresh each)
}


def _unique(kind: str) -> list:
    seen, out = set(), []
    for name, obj in sorted(registry._REGISTRY.get(kind, {}).items()):
        if id(obj) not in seen:
            seen.add(id(obj))
            out.append(pytest.param(kind, obj, id=f"{kind}:{getattr(obj, '__name__', name)}"))
    return out


ALL = [p for k in KINDS for p in _unique(k)]


# Abstract bases registered under their kind: nothing to construct and round-trip.
ABSTRACT = {"Optimizer", "LearningRateSchedule"}


def _instantiate(cls, kind: str = "metric"):
    if cls.__name__ in ABSTRACT:
        pytest.skip(f"{cls.__name__} is an abstract base class")
    if cls is layers.InputLayer:
        return cls(shape=(4,))
    if cls is gpunet.models.Functional:
        x = layers.Input((4,))
        return cls(x, layers.Dense(2)(x))
    kwargs = {}
    for p in inspect.signature(cls).parameters.values():
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            if p.name == "layer":  # Bidirectional wraps a recurrent layer
                rnn = cls.__name__ == "Bidirectional"
                kwargs[p.name] = layers.LSTM(2) if rnn else layers.Dense(2)
            elif p.name == "cell":  # RNN(cell)
                kwargs[p.name] = layers.GRUCell(2)
            elif p.name == "layers":  # Pipeline
                kwargs[p.name] = [layers.Rescaling(2.0), layers.Dense(2)]
            elif p.name == "cells":  # StackedRNNCells
                kwargs[p.name] = [layers.SimpleRNNCell(2), layers.LSTMCell(3)]
            elif p.name == "fn":  # a wrapper of a registered function of its kind
                kwargs[p.name] = next(o for o in _catalogue(kind) if not inspect.isclass(o))
            elif p.name == "factor" and cls.__name__ == "RandomPosterization":
                kwargs[p.name] = 4  # bits to keep: an int in [1, 8]
            elif p.name in SAMPLES:
                kwargs[p.name] = SAMPLES[p.name]
            else:
                pytest.fail(f"{cls.__name__} needs argument {p.name!r}: add a sample value "
                            "to SAMPLES in tests/saving/test_config_roundtrip.py")
    return cls(**kwargs)


def _jsonable(cfg):
    return json.loads(json.dumps(cfg))


def _rebuild(kind: str, cfg):
    if kind == "layer":
        return deserialize_layer(cfg)
    if kind == "optimizer":
        return gpunet.optimizers.deserialize(cfg)
    return registry.deserialize(kind, cfg)


@pytest.mark.parametrize("kind,obj", ALL)
def test_registry_round_trip(kind, obj):
    if not inspect.isclass(obj):  # functions are saved by name
        name = registry.serialize(obj)
        assert isinstance(name, str)
        assert registry.lookup(kind, name) is obj
        return
    inst = _instantiate(obj, kind)
    cfg = _jsonable(registry.serialize(inst))
    assert cfg["class_name"] == obj.__dict__.get("_keras_name", obj.__name__)  # Keras's export
    back = _rebuild(kind, cfg)
    assert type(back) is obj
    assert _jsonable(back.get_config()) == cfg["config"]


def _catalogue(kind: str) -> list:
    return [p.values[1] for p in _unique(kind)]


@pytest.mark.parametrize("kind", ["activation", "initializer", "regularizer", "constraint"])
def test_every_catalogue_entry_round_trips_inside_a_layer(kind):
    arg = {"activation": "activation", "initializer": "kernel_initializer",
           "regularizer": "kernel_regularizer", "constraint": "kernel_constraint"}[kind]
    model = Sequential([layers.Input((4,))])
    objs = _catalogue(kind)
    for i, obj in enumerate(objs):
        value = obj if kind == "activation" else _instantiate(obj)
        model.add(layers.Dense(4, name=f"d{i}", **{arg: value}))
    text = model.to_json()
    clone = gpunet.models.model_from_json(text)
    assert json.loads(clone.to_json()) == json.loads(text)
    assert len(clone.layers) == len(objs)


@pytest.mark.parametrize("kind,obj", _unique("optimizer"))
def test_every_optimizer_survives_save_and_load(tmp_path, kind, obj):
    model = Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer=_instantiate(obj), loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.h5")
    loaded = gpunet.models.load_model(tmp_path / "m.h5")
    assert type(loaded.optimizer) is obj
    assert _jsonable(loaded.optimizer.get_config()) == _jsonable(model.optimizer.get_config())
    assert loaded.optimizer.iterations == 1
    for (_, a), (_, b) in zip(loaded.optimizer.get_slot_arrays(),
                              model.optimizer.get_slot_arrays(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind,obj", _unique("loss"))
def test_every_loss_survives_save_and_load(tmp_path, kind, obj):
    loss = _instantiate(obj, kind) if inspect.isclass(obj) else obj
    model = Sequential([layers.Input((3,)), layers.Dense(2, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss)
    model.save(tmp_path / "m.h5")
    loaded = gpunet.models.load_model(tmp_path / "m.h5")
    got = loaded._loss.fn
    if inspect.isclass(obj):
        assert type(got) is obj and _jsonable(got.get_config()) == _jsonable(loss.get_config())
    else:
        assert got is obj


# -- JSON / YAML -------------------------------------------------------------------------------
def _model():
    return Sequential([layers.Input((4,)), layers.Dense(5, activation="relu",
                                                        kernel_regularizer="l2"),
                       layers.Dropout(0.2), layers.Dense(2, activation="softmax")])


def test_json_round_trip_fresh_weights():
    model = _model()
    text = model.to_json()
    d = json.loads(text)
    assert d["class_name"] == "Sequential" and "keras_version" in d and "backend" in d
    clone = gpunet.models.model_from_json(text)
    assert clone.to_json() == text
    assert not clone.compiled
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])


def test_yaml_round_trip():
    pytest.importorskip("yaml")
    model = _model()
    text = model.to_yaml()
    assert "class_name: Sequential" in text
    clone = gpunet.models.model_from_yaml(text)
    assert clone.to_json() == model.to_json()


def test_yaml_missing_gives_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match="pip install pyyaml"):
        _model().to_yaml()
    with pytest.raises(ImportError, match="PyYAML"):
        gpunet.models.model_from_yaml("a: 1")


def test_invalid_json():
    with pytest.raises(ValueError, match="not valid JSON"):
        gpunet.models.model_from_json("{nope")


# -- custom objects ----------------------------------------------------------------------------
class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")

    def call(self, x, training=None):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def my_act(x):
    return gpunet.ops.tanh(x) * 2.0


def my_loss(y_true, y_pred):
    return gpunet.ops.mean(gpunet.ops.square(gpunet.ops.subtract(y_pred, y_true)), axis=-1)


def _custom_model():
    m = Sequential([layers.Input((3,)), Scale(3.0, name="scale"),
                    layers.Dense(2, activation=my_act)])
    m.compile(optimizer="adam", loss=my_loss)
    return m


def test_unknown_custom_class_is_named(tmp_path):
    _custom_model().save(tmp_path / "c.h5")
    with pytest.raises(ValueError, match=r"Unknown layer: 'Scale'.*custom_objects"):
        gpunet.models.load_model(tmp_path / "c.h5")
    with pytest.raises(ValueError, match=r"my_act.*custom_objects"):
        gpunet.models.load_model(tmp_path / "c.h5", custom_objects={"Scale": Scale})
    with pytest.raises(ValueError, match=r"my_loss"):
        gpunet.models.load_model(tmp_path / "c.h5",
                                 custom_objects={"Scale": Scale, "my_act": my_act})


def test_custom_objects(tmp_path):
    model = _custom_model()
    model.save(tmp_path / "c.h5")
    co = {"Scale": Scale, "my_act": my_act, "my_loss": my_loss}
    loaded = gpunet.models.load_model(tmp_path / "c.h5", custom_objects=co)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[0].factor == 3.0 and loaded.layers[1].activation is my_act
    assert loaded._loss.fn is my_loss
    assert "Scale" not in registry._CUSTOM  # the scope did not leak
    clone = gpunet.models.model_from_json(model.to_json(), custom_objects=co)
    assert isinstance(clone.layers[0], Scale)


def test_register_serializable(tmp_path):
    @registry.register_serializable(package="Tests")
    class Doubler(layers.Layer):
        def call(self, x, training=None):
            return x * 2.0

    @registry.register_serializable(package="Tests")
    def halve(x):
        return x * 0.5

    try:
        model = Sequential([layers.Input((2,)), Doubler(), layers.Activation(halve)])
        model.save(tmp_path / "r.h5")
        loaded = gpunet.models.load_model(tmp_path / "r.h5", compile=False)
        x = np.array([[1.0, -3.0]], "float32")
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), x)
        assert isinstance(loaded.layers[0], Doubler)
    finally:
        for k in ("Doubler", "Tests>Doubler", "halve", "Tests>halve"):
            registry._CUSTOM.pop(k, None)
