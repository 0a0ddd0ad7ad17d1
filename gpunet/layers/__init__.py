"""Layers: the building blocks of models."""

from gpunet.layers.core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    KerasTensor,
)
from gpunet.layers.layer import Layer, clear_session

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "KerasTensor",
           "Layer", "clear_session"]
