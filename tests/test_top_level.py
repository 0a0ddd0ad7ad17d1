"""The top-level namespace as Keras 3's: ``gpunet.Layer``, ``gpunet.config``,
``gpunet.mixed_precision``, ``gpunet.saving``, ``gpunet.utils``, ``gpunet.backend``."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import gpunet

NAMES = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures",
                                    "keras_ops_names.json")))

# Keras 3 top-level names gpunet does not provide, and why.
TOP_LEFT_OUT = {
    "Function": "Keras's traced-graph function; gpunet runs eagerly",
    "Operation": "Keras's symbolic op base class; gpunet ops are plain functions",
    "Quantizer": "no quantization", "quantizers": "no quantization",
    "RematScope": "no rematerialisation", "remat": "no rematerialisation",
    "StatelessScope": "gpunet variables are stateful arrays",
    "SymbolicScope": "no symbolic tracing scope",
    "distillation": "no distillation API", "distribution": "see gpunet.distribute",
    "dtype_policies": "see gpunet.mixed_precision", "export": "no SavedModel export",
    "legacy": "Keras 2 spellings are accepted directly", "name_scope": "not implemented",
    "src": "Keras internals", "tree": "not provided", "visualization": "not provided",
    "wrappers": "no scikit-learn wrappers",
}


def test_keras_top_level_names():
    missing = [n for n in NAMES["keras"] if not hasattr(gpunet, n) and n not in TOP_LEFT_OUT]
    assert not missing, missing
    assert callable(gpunet.Input)
    for n in ("Layer", "Loss", "Metric", "Model", "Sequential", "Variable",
              "Optimizer", "KerasTensor"):
        assert isinstance(getattr(gpunet, n), type), n
    assert gpunet.Layer is gpunet.layers.Layer and gpunet.Loss is gpunet.losses.Loss
    assert gpunet.Metric is gpunet.metrics.Metric
    assert gpunet.version() == gpunet.__version__


def test_config():
    c = gpunet.config
    assert c.floatx() == "float32" and c.epsilon() == 1e-7
    assert c.image_data_format() == "channels_last" and c.backend() in ("numpy", "cupy")
    c.set_epsilon(1e-5)
    try:
        assert gpunet.backend.epsilon() == 1e-5
    finally:
        c.set_epsilon(1e-7)
    c.disable_interactive_logging()
    assert not c.is_interactive_logging_enabled()
    c.enable_interactive_logging()


def test_mixed_precision_policies():
    mp = gpunet.mixed_precision
    mp.set_global_policy("float64")
    try:
        assert gpunet.config.floatx() == "float64"
        assert mp.global_policy().compute_dtype == "float64"
        assert gpunet.layers.Dense(2).dtype in ("float64", np.dtype("float64"))
    finally:
        mp.set_global_policy("float32")
    assert mp.Policy("float32").variable_dtype == "float32"
    mp.set_global_policy("mixed_float16")
    try:  # a mixed policy leaves floatx alone (float32 variables)
        assert gpunet.config.floatx() == "float32"
        assert gpunet.layers.Dense(2).compute_dtype == "float16"
    finally:
        mp.set_global_policy("float32")
    with pytest.raises(ValueError, match="mixed precision DTypePolicy"):
        mp.DTypePolicy("float8")


def test_backend_functions():
    assert gpunet.backend.backend() == gpunet.backend.get_backend().name
    gpunet.layers.Dense(3)
    first = gpunet.layers.Dense(3).name
    gpunet.backend.clear_session()
    assert gpunet.layers.Dense(3).name == "dense" and first != "dense"


def test_utils_and_saving_names(tmp_path):
    u = gpunet.utils
    padded = u.pad_sequences([[1, 2, 3], [4]], maxlen=3)
    np.testing.assert_array_equal(padded, [[1, 2, 3], [0, 0, 4]])
    np.testing.assert_array_equal(u.to_categorical([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    for n in ("set_random_seed", "timeseries_dataset_from_array", "register_keras_serializable",
              "get_custom_objects", "custom_object_scope", "serialize_keras_object",
              "deserialize_keras_object", "get_registered_name", "get_registered_object",
              "clear_session", "is_keras_tensor", "standardize_dtype", "Progbar", "PyDataset"):
        assert callable(getattr(u, n)), n
    for n in ("load_model", "save_model", "register_keras_serializable", "get_custom_objects",
              "load_weights", "save_weights"):
        assert callable(getattr(gpunet.saving, n)), n
    assert u.is_keras_tensor(gpunet.Input((3,))) and not u.is_keras_tensor(np.ones(3))
    assert u.standardize_dtype(np.float32) == "float32"


def test_register_and_round_trip_a_custom_object():
    from gpunet import registry

    @gpunet.utils.register_keras_serializable(package="TopLevelTest")
    class TopLevelScale(gpunet.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    try:
        assert gpunet.utils.get_registered_name(TopLevelScale) == "TopLevelTest>TopLevelScale"
        assert gpunet.utils.get_registered_object("TopLevelTest>TopLevelScale") is TopLevelScale
        cfg = gpunet.utils.serialize_keras_object(TopLevelScale(3.0, name="s"))
        back = gpunet.utils.deserialize_keras_object(cfg)
        assert isinstance(back, TopLevelScale) and back.factor == 3.0 and back.name == "s"
        with pytest.raises(ValueError, match="unknown class"):
            gpunet.utils.deserialize_keras_object({"class_name": "Nope", "config": {}})
    finally:  # the registry is process-wide: leave it as it was
        registry._CUSTOM.pop("TopLevelScale", None)
        registry._CUSTOM.pop("TopLevelTest>TopLevelScale", None)
