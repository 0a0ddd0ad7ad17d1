"""UCI optical recognition of handwritten digits (8x8), bundled with gpunet for offline use.

Data set
    1,797 grayscale images of the digits 0 to 9, each 8x8 with integer pixels in 0..16
    (a 32x32 bitmap divided into non-overlapping 4x4 blocks, counting the "on" pixels in each
    block). They are the test part of the UCI "Optical Recognition of Handwritten Digits" data
    set, in the copy that scikit-learn ships as ``sklearn/datasets/data/digits.csv.gz``.
    Classes have 174 to 183 images each.

Source
    E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
    Learning Repository, 1998. https://doi.org/10.24432/C50P49
    (https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits)

Licence
    Creative Commons Attribution 4.0 International (CC BY 4.0),
    https://creativecommons.org/licenses/by/4.0/. Redistributed here unchanged apart from the
    storage format.

File
    ``gpunet/datasets/_data/digits.npz`` (compressed): ``x``, ``uint8`` of shape
    ``(1797, 8, 8)``, and ``y``, ``uint8`` of shape ``(1797,)``, in the original order.
    scikit-learn was used once to obtain the file; gpunet does not depend on it.

Unlike the other datasets this one needs no download, so examples and tests that must run
offline can always use it.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["load_data", "NUM_SAMPLES"]

NUM_SAMPLES = 1797
_DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data", "digits.npz")


def _load_all() -> tuple[np.ndarray, np.ndarray]:
    with np.load(_DATA_FILE, allow_pickle=False) as f:
        return f["x"], f["y"]


def load_data(
    test_split: float = 0.2, seed: int = 113
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the bundled 8x8 handwritten digits (works offline).

    The 1,797 images are shuffled with `np.random.RandomState(seed)` and split, like
    `boston_housing`, so that the first `int(1797 * (1 - test_split))` shuffled samples form
    the training set. The same arguments always give the same split.

    Args:
        test_split: fraction of the samples kept as the test set, in `[0, 1)`.
        seed: random seed of the shuffle before the split.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        - `x_train`: `uint8` array of shape `(1437, 8, 8)` with the defaults, pixel values
          0 to 16.
        - `y_train`: `uint8` array of digit labels (0 to 9), shape `(1437,)`.
        - `x_test`: `uint8` array of shape `(360, 8, 8)`.
        - `y_test`: `uint8` array of shape `(360,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = gpunet.datasets.digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16.0
    ```
    """
    if isinstance(test_split, bool) or not 0 <= test_split < 1:
        raise ValueError(f"`test_split` must be in [0, 1). Received: test_split={test_split!r}")
    x, y = _load_all()
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])
