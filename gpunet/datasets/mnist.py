"""MNIST handwritten digits dataset."""

from __future__ import annotations

import numpy as np

from gpunet.utils.data_utils import get_file

__all__ = ["load_data"]

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# sha256 of Keras's file, and of a known mirror with the same arrays in the same layout.
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MIRROR_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
ACCEPTED_HASHES: tuple[str, ...] = (KERAS_SHA256, MIRROR_SHA256)


def load_data(
    path: str = "mnist.npz",
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the MNIST dataset.

    60,000 28x28 grayscale training images of the 10 digits, and 10,000 test images. The file
    is looked up in ``$GPUNET_DATA_DIR``, then in the cache (``$GPUNET_HOME/datasets`` or
    ``~/.gpunet/datasets``, or ``~/.keras/datasets``), and otherwise downloaded from Keras's
    origin. Its sha256 must be Keras's or that of a known mirror (`ACCEPTED_HASHES`).

    Args:
        path: file name of the dataset (relative to the data and cache directories).

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        - `x_train`: `uint8` array of shape `(60000, 28, 28)`, pixel values 0 to 255.
        - `y_train`: `uint8` array of digit labels (0 to 9), shape `(60000,)`.
        - `x_test`: `uint8` array of shape `(10000, 28, 28)`.
        - `y_test`: `uint8` array of shape `(10000,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = gpunet.datasets.mnist.load_data()
    assert x_train.shape == (60000, 28, 28)
    assert y_test.shape == (10000,)
    ```

    License:
        Yann LeCun and Corinna Cortes hold the copyright of MNIST, a derivative work of
        the NIST datasets, made available under the Creative Commons Attribution-Share Alike
        3.0 license.
    """
    fpath = get_file(path, origin=ORIGIN, file_hash=ACCEPTED_HASHES)
    with np.load(fpath, allow_pickle=False) as f:
        x_train, y_train = f["x_train"], f["y_train"]
        x_test, y_test = f["x_test"], f["y_test"]
    return (x_train, y_train), (x_test, y_test)
