"""``keras.saving.serialize_keras_object`` / ``deserialize_keras_object`` write and read the
dicts Keras 3.15 writes (the expected dicts below are Keras 3.15.1's own output for the same
objects; float32 rounding of 0.005 aside)."""

import numpy as np
import pytest

import gpunet as keras
from gpunet import registry
from gpunet.saving import deserialize_keras_object, serialize_keras_object


@pytest.fixture
def custom():
    before = dict(registry._CUSTOM)

    @keras.saving.register_keras_serializable(package="MyLayers")
    class CustomLayer(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def get_config(self):
            return {"factor": self.factor}

    @keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
    def custom_fn(x):
        return x**2

    yield CustomLayer, custom_fn
    registry._CUSTOM.clear()
    registry._CUSTOM.update(before)


def test_builtin_objects_as_keras_writes_them():
    cfg = serialize_keras_object(keras.regularizers.L1(0.005))
    assert cfg["module"] == "keras.regularizers" and cfg["class_name"] == "L1"
    assert cfg["registered_name"] is None
    assert cfg["config"]["l1"] == pytest.approx(0.005)
    cfg = serialize_keras_object(keras.initializers.GlorotUniform(seed=1))
    assert (cfg["module"], cfg["class_name"], cfg["config"]["seed"]) == (
        "keras.initializers", "GlorotUniform", 1)
    cfg = serialize_keras_object(keras.losses.MeanSquaredError())
    assert (cfg["module"], cfg["class_name"]) == ("keras.losses", "MeanSquaredError")
    dense = serialize_keras_object(keras.layers.Dense(3, activation="relu", name="d"))
    assert (dense["module"], dense["class_name"], dense["registered_name"]) == (
        "keras.layers", "Dense", None)
    assert dense["config"]["units"] == 3 and dense["config"]["name"] == "d"
    assert serialize_keras_object("relu") == "relu"
    assert serialize_keras_object(keras.activations.relu) == {
        "module": "builtins", "class_name": "function", "config": "relu",
        "registered_name": "function"}


def test_registered_custom_objects_as_keras_writes_them(custom):
    CustomLayer, custom_fn = custom
    assert serialize_keras_object(CustomLayer(0.5)) == {
        "module": None, "class_name": "CustomLayer", "config": {"factor": 0.5},
        "registered_name": "MyLayers>CustomLayer"}
    assert serialize_keras_object(custom_fn) == {
        "module": "builtins", "class_name": "function", "config": "my_package>custom_fn",
        "registered_name": "function"}


def test_round_trips_and_keras_written_dicts(custom):
    CustomLayer, custom_fn = custom
    reg = deserialize_keras_object({"module": "keras.regularizers", "class_name": "L1",
                                    "config": {"l1": 0.005}, "registered_name": None})
    assert isinstance(reg, keras.regularizers.L1)
    assert float(reg.get_config()["l1"]) == pytest.approx(0.005)
    layer = deserialize_keras_object(serialize_keras_object(CustomLayer(0.5)))
    assert type(layer) is CustomLayer and layer.factor == 0.5
    assert deserialize_keras_object(serialize_keras_object(custom_fn)) is custom_fn
    assert deserialize_keras_object("relu") == "relu"  # a string stays a string, as in Keras
    dense = deserialize_keras_object(serialize_keras_object(keras.layers.Dense(3, name="d")))
    assert isinstance(dense, keras.layers.Dense) and dense.units == 3
    x = np.ones((2, 4), "float32")
    assert np.asarray(dense(x)).shape == (2, 3)


def test_unknown_objects_are_named():
    with pytest.raises(ValueError, match="NoSuchLayer"):
        deserialize_keras_object({"module": "keras.layers", "class_name": "NoSuchLayer",
                                  "config": {}, "registered_name": None})
    with pytest.raises(ValueError, match="no_such_fn"):
        deserialize_keras_object({"module": "builtins", "class_name": "function",
                                  "config": "no_such_fn", "registered_name": "function"})
    with pytest.raises(TypeError, match="cannot serialize"):
        serialize_keras_object(object())


def test_custom_objects_argument():
    class Scale(keras.layers.Layer):
        def __init__(self, k=2.0, **kwargs):
            super().__init__(**kwargs)
            self.k = k

        def get_config(self):
            return {**super().get_config(), "k": self.k}

    cfg = {"module": "my_module", "class_name": "Scale", "config": {"k": 3.0},
           "registered_name": None}
    with pytest.raises(ValueError, match="Scale"):
        deserialize_keras_object(cfg)
    assert deserialize_keras_object(cfg, custom_objects={"Scale": Scale}).k == 3.0


def test_objects_inside_a_config_are_serialized_as_keras_does():
    class Holder(keras.layers.Layer):
        def __init__(self, reg=None, inner=None, **kwargs):
            super().__init__(**kwargs)
            self.reg, self.inner = reg, inner

        def get_config(self):
            return {**super().get_config(), "reg": self.reg, "inner": self.inner,
                    "act": keras.activations.relu}

    cfg = serialize_keras_object(Holder(keras.regularizers.L1L2(l1=1e-5, l2=1e-4),
                                        keras.layers.Dense(2, name="dd"), name="h"))["config"]
    # Keras 3.15.1 writes these three values exactly so
    assert {k: cfg["reg"][k] for k in ("module", "class_name", "registered_name")} == {
        "module": "keras.regularizers", "class_name": "L1L2", "registered_name": None}
    assert cfg["reg"]["config"] == pytest.approx({"l1": 1e-5, "l2": 1e-4})
    assert {k: v for k, v in cfg["inner"].items() if k != "config"} == {
        "module": "keras.layers", "class_name": "Dense", "registered_name": None}
    assert cfg["act"] == {"module": "builtins", "class_name": "function", "config": "relu",
                          "registered_name": "function"}


def test_functional_config_with_a_layer_held_in_a_layer_config(custom):
    """The saving guide's pattern: a custom layer's ``get_config`` returns the layers it holds
    and its ``from_config`` rebuilds them with ``keras.layers.deserialize``."""

    @keras.saving.register_keras_serializable(package="MyLayers", name="KernelMult")
    class MyDense(keras.layers.Layer):
        def __init__(self, units, *, kernel_initializer=None, **kwargs):
            super().__init__(**kwargs)
            self.hidden_units = units
            self.kernel_initializer = kernel_initializer

        def get_config(self):
            return {**super().get_config(), "units": self.hidden_units,
                    "kernel_initializer": self.kernel_initializer}

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.hidden_units),
                                          initializer=self.kernel_initializer)

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.kernel)

    @keras.saving.register_keras_serializable(package="ComplexModels")
    class Holder(keras.layers.Layer):
        def __init__(self, first_layer, second_layer=None, **kwargs):
            super().__init__(**kwargs)
            self.first_layer = first_layer
            self.second_layer = second_layer or keras.layers.Dense(8)

        def get_config(self):
            return {**super().get_config(), "first_layer": self.first_layer,
                    "second_layer": self.second_layer}

        @classmethod
        def from_config(cls, config):
            config["first_layer"] = keras.layers.deserialize(config["first_layer"])
            config["second_layer"] = keras.layers.deserialize(config["second_layer"])
            return cls(**config)

        def call(self, inputs):
            return self.first_layer(self.second_layer(inputs))

    inputs = keras.Input((32,))
    model = keras.Model(inputs, Holder(MyDense(16, kernel_initializer="ones"))(inputs))
    config = model.get_config()
    held = config["layers"][1]["config"]["first_layer"]
    assert held["class_name"] == "MyLayers>KernelMult" and held["config"]["units"] == 16
    new_model = keras.Model.from_config(config)
    new_model.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 32)).astype("float32")
    np.testing.assert_allclose(new_model.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
