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
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    regularizers,
    utils,
)
from gpunet.autograd import Tensor, Variable, no_grad  # noqa: E402
from gpunet.layers import Input  # noqa: E402
from gpunet.models import Model, Sequential, load_model  # noqa: E402
from gpunet.registry import register_serializable  # noqa: E402

__all__ = [
    "Input", "Model", "Sequential", "Tensor", "Variable", "activations", "applications",
    "backend", "callbacks",
    "constraints", "datasets", "initializers", "layers", "load_model", "losses", "metrics",
    "models", "no_grad", "ops", "optimizers", "preprocessing", "regularizers",
    "register_serializable", "utils", "__version__",
]
