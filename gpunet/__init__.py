"""gpunet: a Keras-compatible deep-learning framework on NumPy (CPU) and CuPy (NVIDIA GPU).

Example:

>>> from gpunet import Sequential, layers, optimizers
>>> model = Sequential([layers.Input((784,)), layers.Dense(512, activation="relu"),
...                     layers.Dropout(0.2), layers.Dense(10, activation="softmax")])
>>> model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
...               metrics=["accuracy"])
"""

__version__ = "0.1.0"

from gpunet import (  # noqa: E402
    activations,
    applications,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    utils,
)
from gpunet.autograd import Tensor, Variable, no_grad  # noqa: E402
from gpunet.backend import device  # noqa: E402
from gpunet.initializers import Initializer  # noqa: E402
from gpunet.layers import Input, InputSpec, Layer  # noqa: E402
from gpunet.layers.node import KerasTensor  # noqa: E402
from gpunet.losses import Loss  # noqa: E402
from gpunet.metrics import Metric  # noqa: E402
from gpunet.mixed_precision import DTypePolicy  # noqa: E402
from gpunet.models import Model, Sequential, load_model  # noqa: E402
from gpunet.optimizers import Optimizer  # noqa: E402
from gpunet.registry import register_serializable  # noqa: E402
from gpunet.regularizers import Regularizer  # noqa: E402

FloatDTypePolicy = DTypePolicy


def version() -> str:
    """gpunet's version string."""
    return __version__


# Keras 3 also exports the dataset builders of `utils` under `keras.preprocessing`; preprocessing
# sits on the same floor as utils, so the package root (above both) attaches them.
for _name in ("image_dataset_from_directory", "text_dataset_from_directory",
              "timeseries_dataset_from_array"):
    setattr(preprocessing, _name, getattr(utils, _name))
    preprocessing.__all__.append(_name)
del _name

__all__ = [
    "Input", "Model", "Sequential", "Tensor", "Variable", "activations", "applications",
    "backend", "callbacks",
    "constraints", "datasets", "initializers", "layers", "load_model", "losses", "metrics",
    "models", "no_grad", "ops", "optimizers", "preprocessing", "regularizers",
    "register_serializable", "utils", "__version__",
]
__all__ += ["DTypePolicy", "FloatDTypePolicy", "Initializer", "InputSpec", "KerasTensor", "Layer",
            "Loss", "Metric", "Optimizer", "Regularizer", "config", "device", "mixed_precision",
            "random", "saving", "version"]
