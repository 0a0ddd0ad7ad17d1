"""DTypePolicy, the global policy and the layer's dtype attributes, as Keras 3 has them
(names, dtypes, configs and error texts read from Keras 3.15's dtype_policies)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.mixed_precision import DTypePolicy, Policy, get, global_policy, set_global_policy

FIX = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "mixed_float16.npz"))
KERAS_MIXED = json.loads(str(FIX["policy_serialized"]))  # keras.dtype_policies.serialize


@pytest.mark.parametrize("name,compute,variable", [
    ("mixed_float16", "float16", "float32"), ("mixed_bfloat16", "bfloat16", "float32"),
    ("float32", "float32", "float32"), ("float64", "float64", "float64"),
    ("float16", "float16", "float16"), ("bfloat16", "bfloat16", "bfloat16"),
    ("int32", "int32", "int32")])
def test_policy_dtypes(name, compute, variable):
    p = DTypePolicy(name)
    assert (p.name, p.compute_dtype, p.variable_dtype) == (name, compute, variable)
    assert p.get_config() == {"name": name}
    assert DTypePolicy.from_config(p.get_config()) == p
    assert repr(p) == f'<DTypePolicy "{name}">'
    assert p.quantization_mode is None


def test_policy_errors_as_keras():
    with pytest.raises(TypeError, match="'name' must be a string"):
        DTypePolicy(16)
    with pytest.raises(ValueError, match="Cannot convert 'float8' to a mixed precision"):
        DTypePolicy("float8")
    with pytest.raises(ValueError, match="Cannot interpret `dtype` argument"):
        get(object())


def test_aliases_and_config_module():
    assert Policy is DTypePolicy
    assert gpunet.mixed_precision.FloatDTypePolicy is DTypePolicy
    gpunet.config.set_dtype_policy("mixed_float16")
    assert gpunet.config.dtype_policy() == DTypePolicy("mixed_float16")
    assert gpunet.mixed_precision.dtype_policy().name == "mixed_float16"
    gpunet.mixed_precision.set_dtype_policy(None)
    assert global_policy().name == "float32"


def test_serialize_is_keras_form():
    p = DTypePolicy("mixed_float16")
    assert gpunet.mixed_precision.serialize(p) == KERAS_MIXED
    assert gpunet.mixed_precision.deserialize(KERAS_MIXED) == p
    assert get(KERAS_MIXED) == p and get("mixed_float16") == p and get(p) is p
    with pytest.raises(ValueError, match="Cannot deserialize a dtype policy"):
        gpunet.mixed_precision.deserialize({"class_name": "Dense", "config": {}})


def test_global_policy_applies_to_layers_made_after():
    before = layers.Dense(2)
    set_global_policy("mixed_float16")
    assert gpunet.config.floatx() == "float32"  # a mixed policy leaves floatx alone
    after = layers.Dense(2)
    assert global_policy() == DTypePolicy("mixed_float16")
    assert before.dtype_policy.name == "float32"
    assert after.dtype_policy.name == "mixed_float16"
    assert (after.dtype, after.compute_dtype, after.variable_dtype) == (
        "float32", "float16", "float32")
    assert layers.Dense(2, dtype="float32").compute_dtype == "float32"
    set_global_policy("float64")  # a single-dtype policy sets floatx, as before
    try:
        assert gpunet.config.floatx() == "float64"
        assert layers.Dense(2).dtype_policy.name == "float64"
    finally:
        set_global_policy("float32")


@pytest.mark.parametrize("dtype", ["mixed_float16", DTypePolicy("mixed_float16"), KERAS_MIXED,
                                   {"class_name": "DTypePolicy",
                                    "config": {"name": "mixed_float16"}}])
def test_layer_dtype_argument_forms(dtype):
    layer = layers.Dense(3, dtype=dtype)
    assert layer.dtype_policy == DTypePolicy("mixed_float16")
    assert layer.compute_dtype == "float16" and layer.dtype == "float32"
    assert layer.input_dtype == "float16"


def test_layer_dtype_policy_setter():
    layer = layers.Dense(3)
    layer.dtype_policy = "mixed_float16"
    assert layer.compute_dtype == "float16"
    layer.dtype_policy = DTypePolicy("float32")
    assert layer.compute_dtype == "float32"
    with pytest.raises(ValueError, match="float8"):
        layers.Dense(3, dtype="float8")


def test_layer_config_dtype_as_keras():
    keras_cfg = json.loads(str(FIX["layer_config_dense"]))
    layer = layers.Dense(8, activation="tanh", name="dense", dtype="mixed_float16")
    cfg = layer.get_config()
    assert cfg["dtype"] == keras_cfg["dtype"]  # the Keras 3 policy dict
    clone = layers.Dense.from_config(json.loads(json.dumps(cfg)))
    assert clone.dtype_policy == layer.dtype_policy
    assert layers.Dense(2).get_config()["dtype"] == "float32"  # single dtype: its name
    via_registry = gpunet.layers.deserialize(gpunet.layers.serialize(layer))
    assert via_registry.dtype_policy.name == "mixed_float16"


def test_autocast_argument_kept():
    assert layers.Dense(2).autocast is True
    assert layers.Dense(2, autocast=False).autocast is False
    assert layers.LayerNormalization().autocast is False  # as Keras 3 sets it
