"""Fashion-MNIST dataset."""

from __future__ import annotations

import gzip

import numpy as np

from gpunet.utils.data_utils import get_file

__all__ = ["load_data"]

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CACHE_SUBDIR = "datasets/fashion-mnist"
FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
# sha256 of each file, as in Keras.
FILE_HASHES: dict[str, str] = {
    "train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
    ),
}


def _read_idx(path: str, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads the Fashion-MNIST dataset.

    60,000 28x28 grayscale images of 10 fashion categories, and 10,000 test images; a drop-in
    replacement for MNIST. The four gzipped IDX files are looked up in ``$GPUNET_DATA_DIR``
    (directly or in its ``fashion-mnist/`` sub-folder), then in the cache
    (``datasets/fashion-mnist``), and otherwise downloaded from Keras's origin.

    | Label | Description |
    |:-----:|-------------|
    |   0   | T-shirt/top |
    |   1   | Trouser     |
    |   2   | Pullover    |
    |   3   | Dress       |
    |   4   | Coat        |
    |   5   | Sandal      |
    |   6   | Shirt       |
    |   7   | Sneaker     |
    |   8   | Bag         |
    |   9   | Ankle boot  |

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        - `x_train`: `uint8` array of shape `(60000, 28, 28)`.
        - `y_train`: `uint8` array of labels (0 to 9), shape `(60000,)`.
        - `x_test`: `uint8` array of shape `(10000, 28, 28)`.
        - `y_test`: `uint8` array of shape `(10000,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = gpunet.datasets.fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28)
    ```

    License:
        The copyright for Fashion-MNIST is held by Zalando SE; it is licensed under the MIT
        license.
    """
    paths = [
        get_file(
            fname,
            origin=ORIGIN_FOLDER + fname,
            cache_subdir=CACHE_SUBDIR,
            file_hash=FILE_HASHES[fname],
        )
        for fname in FILES
    ]
    y_train = _read_idx(paths[0], 8)
    x_train = _read_idx(paths[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx(paths[2], 8)
    x_test = _read_idx(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
