"""Utilities: data conversion, seeding, file download, the progress bar, data sequences,
model plots."""

from gpunet.callbacks.progbar import Progbar
from gpunet.utils.data_utils import DatasetNotFoundError, find_data_file, get_file
from gpunet.utils.dataset_utils import (
    image_dataset_from_directory,
    split_dataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
)
from gpunet.utils.numerical_utils import normalize, to_categorical
from gpunet.utils.random import set_random_seed
from gpunet.utils.sequence import PyDataset, Sequence
from gpunet.utils.vis_utils import model_to_dot, plot_model

__all__ = ["DatasetNotFoundError", "Progbar", "PyDataset", "Sequence", "find_data_file",
           "get_file", "model_to_dot", "normalize", "plot_model", "set_random_seed",
           "to_categorical"]
__all__ += ["image_dataset_from_directory", "split_dataset", "text_dataset_from_directory",
            "timeseries_dataset_from_array"]
