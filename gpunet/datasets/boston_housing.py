"""Boston Housing price regression dataset."""

from __future__ import annotations

import numpy as np

from gpunet.utils.data_utils import get_file

__all__ = ["load_data"]

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
ACCEPTED_HASHES: tuple[str, ...] = (
    "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",
)


def load_data(
    path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the Boston Housing dataset.

    Taken from the StatLib library maintained at Carnegie Mellon University. **Warning:**
    the dataset has an ethical problem: one attribute, "B", may appear to assume that racial
    self-segregation influences house prices; use it only to illustrate such issues.

    Samples have 13 attributes of houses around Boston in the late 1970s; targets are the
    median values of the houses (in k$). The data are shuffled with
    `np.random.RandomState(seed)` and split exactly as Keras does.

    Args:
        path: file name of the dataset (relative to the data and cache directories).
        test_split: fraction of the data kept as the test set, in `[0, 1)`.
        seed: random seed for shuffling the data before the split.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        - `x_train`, `x_test`: `float64` arrays of shape `(num_samples, 13)`.
        - `y_train`, `y_test`: `float64` arrays of shape `(num_samples,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = gpunet.datasets.boston_housing.load_data()
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)
    ```
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"`test_split` must be in [0, 1). Received: test_split={test_split}")
    fpath = get_file(path, origin=ORIGIN, file_hash=ACCEPTED_HASHES)
    with np.load(fpath, allow_pickle=False) as f:
        x = f["x"]
        y = f["y"]

    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x = x[indices]
    y = y[indices]

    split = int(len(x) * (1 - test_split))
    x_train, y_train = np.array(x[:split]), np.array(y[:split])
    x_test, y_test = np.array(x[split:]), np.array(y[split:])
    return (x_train, y_train), (x_test, y_test)
