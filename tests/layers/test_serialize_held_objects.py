"""``keras.layers.serialize`` writes the Keras objects a custom layer's ``get_config`` holds
(a nested layer, a regularizer object) as their own Keras 3 configs, so the result is plain
JSON; the expected dicts are what Keras 3.15 prints for the saving guide's ``MyDense``
("Defining the config methods" and "How custom objects are serialized")."""

from __future__ import annotations

import json

import pytest

import gpunet
from gpunet import ops

DTYPE = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
         "registered_name": None}


@pytest.fixture
def my_dense():
    @gpunet.saving.register_keras_serializable(package="MyLayers", name="KernelMult")
    class MyDense(gpunet.layers.Layer):
        def __init__(self, units, *, kernel_regularizer=None, kernel_initializer=None,
                     nested_model=None, **kwargs):
            super().__init__(**kwargs)
            self.hidden_units = units
            self.kernel_regularizer = kernel_regularizer
            self.kernel_initializer = kernel_initializer
            self.nested_model = nested_model

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.hidden_units,
                           "kernel_regularizer": self.kernel_regularizer,
                           "kernel_initializer": self.kernel_initializer,
                           "nested_model": self.nested_model})
            return config

        def build(self, input_shape):
            self.kernel = self.add_weight(name="kernel",
                                          shape=(input_shape[-1], self.hidden_units),
                                          regularizer=self.kernel_regularizer,
                                          initializer=self.kernel_initializer)

        def call(self, inputs):
            return ops.matmul(inputs, self.kernel)

    yield MyDense
    gpunet.saving.get_custom_objects().pop("MyLayers>KernelMult", None)


def test_nested_layer_serialized_as_keras(my_dense):
    layer = my_dense(units=16, kernel_regularizer="l1", kernel_initializer="ones",
                     name="my_dense")
    layer3 = my_dense(units=64, nested_model=layer, name="my_dense_1")
    config = gpunet.layers.serialize(layer3)
    inner = {"module": None, "class_name": "MyDense",
             "config": {"name": "my_dense", "trainable": True, "dtype": DTYPE, "units": 16,
                        "kernel_regularizer": "l1", "kernel_initializer": "ones",
                        "nested_model": None},
             "registered_name": "MyLayers>KernelMult"}
    assert config == {"module": None, "class_name": "MyDense",
                      "config": {"name": "my_dense_1", "trainable": True, "dtype": DTYPE,
                                 "units": 64, "kernel_regularizer": None,
                                 "kernel_initializer": None, "nested_model": inner},
                      "registered_name": "MyLayers>KernelMult"}
    json.dumps(config)
    new_layer = gpunet.layers.deserialize(config)
    assert type(new_layer) is my_dense and new_layer.hidden_units == 64


def test_regularizer_object_serialized_as_keras(my_dense):
    layer = my_dense(units=16, kernel_regularizer=gpunet.regularizers.L1L2(l1=1e-5, l2=1e-4),
                     kernel_initializer="ones", name="my_dense_2")
    config = gpunet.layers.serialize(layer)
    reg = config["config"]["kernel_regularizer"]
    assert reg["module"] == "keras.regularizers" and reg["class_name"] == "L1L2"
    assert reg["config"] == pytest.approx({"l1": 1e-5, "l2": 1e-4})
    json.dumps(config)
