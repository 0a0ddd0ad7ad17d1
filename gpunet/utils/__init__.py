"""Utilities: data conversion, seeding, file download, the progress bar, data sequences,
model plots, and the serialization helpers of Keras 3's ``keras.utils``."""

from gpunet.backend import clear_session
from gpunet.callbacks.progbar import Progbar
from gpunet.layers.node import KerasTensor
from gpunet.models.steps_api import pack_x_y_sample_weight, unpack_x_y_sample_weight
from gpunet.ops.creation import standardize_dtype
from gpunet.preprocessing.image import array_to_img, img_to_array, load_img, save_img
from gpunet.preprocessing.sequence import pad_sequences
from gpunet.saving.serialization import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
)
from gpunet.utils.data_utils import DatasetNotFoundError, find_data_file, get_file
from gpunet.utils.dataset_utils import (
    image_dataset_from_directory,
    split_dataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
)
from gpunet.utils.numerical_utils import normalize, to_categorical
from gpunet.utils.random import set_random_seed
from gpunet.utils.registration import (
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)
from gpunet.utils.sequence import PyDataset, Sequence
from gpunet.utils.vis_utils import model_to_dot, plot_model


def is_keras_tensor(x: object) -> bool:
    """Whether ``x`` is a symbolic Functional-API tensor (``gpunet.Input`` and the outputs
    of layers called on it)."""
    return isinstance(x, KerasTensor)


__all__ = ["DatasetNotFoundError", "Progbar", "PyDataset", "Sequence", "find_data_file",
           "get_file", "model_to_dot", "normalize", "plot_model", "set_random_seed",
           "to_categorical"]
__all__ += ["image_dataset_from_directory", "split_dataset", "text_dataset_from_directory",
            "timeseries_dataset_from_array"]
__all__ += ["CustomObjectScope", "array_to_img", "clear_session", "custom_object_scope",
            "deserialize_keras_object", "get_custom_objects", "get_registered_name",
            "get_registered_object", "img_to_array", "is_keras_tensor", "load_img",
            "pack_x_y_sample_weight", "pad_sequences", "register_keras_serializable",
            "save_img", "serialize_keras_object", "standardize_dtype",
            "unpack_x_y_sample_weight"]
