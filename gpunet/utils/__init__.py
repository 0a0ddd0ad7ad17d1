"""Utilities: data conversion, seeding, file download, the progress bar."""

from gpunet.callbacks.progbar import Progbar
from gpunet.utils.data_utils import DatasetNotFoundError, find_data_file, get_file
from gpunet.utils.numerical_utils import normalize, to_categorical
from gpunet.utils.random import set_random_seed

__all__ = ["DatasetNotFoundError", "Progbar", "find_data_file", "get_file", "normalize",
           "set_random_seed", "to_categorical"]
