"""Small benchmark datasets with Keras's loaders, formats, origins and checksums.

Each module has a ``load_data()`` returning ``(x_train, y_train), (x_test, y_test)`` exactly as
``keras.datasets`` does. Files are looked up in ``$GPUNET_DATA_DIR``, then in the cache
(``$GPUNET_HOME/datasets``, default ``~/.gpunet/datasets``, or an existing
``~/.keras/datasets``) and are otherwise downloaded from Keras's public origins and checked
against their sha256. `digits` is bundled with gpunet and always works offline.
"""

from gpunet.datasets import (
    boston_housing,
    cifar10,
    cifar100,
    digits,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

__all__ = [
    "boston_housing",
    "cifar10",
    "cifar100",
    "digits",
    "fashion_mnist",
    "imdb",
    "mnist",
    "reuters",
]
