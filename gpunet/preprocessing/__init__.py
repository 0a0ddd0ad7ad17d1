"""Preprocessing: image augmentation, text tokenisation, sequence padding."""

from gpunet.preprocessing import image, sequence, text
from gpunet.utils.dataset_utils import (
    image_dataset_from_directory,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
)

__all__ = ["image", "image_dataset_from_directory", "sequence", "text",
           "text_dataset_from_directory", "timeseries_dataset_from_array"]
