"""CIFAR-100 small images classification dataset."""

from __future__ import annotations

import numpy as np

from gpunet.datasets.cifar10 import _load_parts, _to_output_layout

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
ARCHIVE_NAME = "cifar-100-python.tar.gz"
DIRNAME = "cifar-100-python"
ACCEPTED_HASHES: tuple[str, ...] = (
    "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
)


def load_data(
    label_mode: str = "fine",
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the CIFAR-100 dataset.

    50,000 32x32 colour training images and 10,000 test images, labelled over 100
    fine-grained classes grouped into 20 coarse-grained superclasses. See the
    [CIFAR homepage](https://www.cs.toronto.edu/~kriz/cifar.html).

    The data are read from an extracted ``cifar-100-python/`` folder if one is found in
    ``$GPUNET_DATA_DIR`` or the caches, otherwise from the archive
    ``cifar-100-python.tar.gz`` (found locally or downloaded, sha256-checked), parsed
    directly without unpacking it to disk.

    Args:
        label_mode: `"fine"` for the 100 classes or `"coarse"` for the 20 superclasses.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        - `x_train`: `uint8` array of shape `(50000, 32, 32, 3)` (channels last).
        - `y_train`: `int64` array of labels (0 to 99, or 0 to 19 in coarse mode), shape
          `(50000, 1)`. Keras returns `int64` here (unlike CIFAR-10's `uint8`), and so does
          gpunet.
        - `x_test`: `uint8` array of shape `(10000, 32, 32, 3)`.
        - `y_test`: `int64` array of shape `(10000, 1)`.

    Example:

    ```python
    (x_train, y_train), _ = gpunet.datasets.cifar100.load_data(label_mode="coarse")
    assert x_train.shape == (50000, 32, 32, 3) and int(y_train.max()) == 19
    ```
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(
            f'`label_mode` must be one of "fine", "coarse". Received: label_mode={label_mode!r}'
        )
    parts = _load_parts(
        archive_names=(ARCHIVE_NAME,),
        origin=ORIGIN,
        hashes=ACCEPTED_HASHES,
        dirname=DIRNAME,
        members=("train", "test"),
        label_key=label_mode + "_labels",
    )
    x_train, labels_train = parts["train"]
    x_test, labels_test = parts["test"]
    y_train = np.asarray(labels_train, dtype=np.int64).reshape(len(labels_train), 1)
    y_test = np.asarray(labels_test, dtype=np.int64).reshape(len(labels_test), 1)
    return (_to_output_layout(x_train), y_train), (_to_output_layout(x_test), y_test)
