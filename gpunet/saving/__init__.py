"""Saving: Keras 3 ``.keras`` archives, Keras-layout HDF5 files (whole models and weights),
JSON/YAML configs.

Example:

>>> model.save("model.keras")  # Keras 3's zip archive; "model.h5" gives the legacy HDF5 file
>>> model = gpunet.models.load_model("model.keras")
>>> model.save_weights("w.weights.h5")  # Keras 3 layout; "w.h5" gives the Keras 2 layout
"""

from gpunet.registry import (
    SafeModeScope,
    enable_unsafe_deserialization,
    register_serializable,
    safe_mode_scope,
)
from gpunet.saving.hdf5 import load_model, save_model
from gpunet.saving.load_errors import ModelFileError
from gpunet.saving.object_serialization import deserialize_keras_object, serialize_keras_object
from gpunet.saving.serialization import (
    CustomObjectScope,
    clone_model,
    custom_object_scope,
    get_custom_objects,
    model_from_config,
    model_from_json,
    model_from_yaml,
)
from gpunet.saving.weights import load_weights, save_weights

register_keras_serializable = register_serializable

__all__ = [
    "ModelFileError",
    "CustomObjectScope", "SafeModeScope", "clone_model", "custom_object_scope",
    "enable_unsafe_deserialization", "get_custom_objects", "safe_mode_scope",
    "load_model", "load_weights", "model_from_config", "model_from_json", "model_from_yaml",
    "register_keras_serializable", "register_serializable", "save_model", "save_weights",
    "deserialize_keras_object", "serialize_keras_object",
]
