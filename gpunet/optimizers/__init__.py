"""Optimizers: each step is a few in-place passes over flat buffers (one kernel on a GPU).

Keras 3 numerics, defaults and argument names; names are case-insensitive (``"adam"``,
``"RMSprop"``, ``"sgd"``...). Learning-rate schedules live in ``gpunet.optimizers.schedules``.

On a GPU an optimizer's step count, learning rate (a built-in schedule evaluated at the step)
and per-step scalars live in device memory, so a training step reads nothing back
(``optimizer.device_resident``; ``optimizer.host_step_reason`` names what keeps a step on the
host, such as a Python callable as the learning rate).
"""

from __future__ import annotations

from typing import Any

from gpunet.optimizers import schedules
from gpunet.optimizers.adafactor import Adafactor
from gpunet.optimizers.adagrad import Adadelta, Adagrad
from gpunet.optimizers.adam import Adam, AdamW
from gpunet.optimizers.adamax import Adamax
from gpunet.optimizers.base import Optimizer
from gpunet.optimizers.ftrl import Ftrl
from gpunet.optimizers.lamb import Lamb
from gpunet.optimizers.lion import Lion
from gpunet.optimizers.loss_scale import LossScaleOptimizer
from gpunet.optimizers.nadam import Nadam
from gpunet.optimizers.rmsprop import RMSprop
from gpunet.optimizers.sgd import SGD
from gpunet.registry import lookup

__all__ = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "Ftrl",
           "Lion", "Adafactor", "Lamb", "LossScaleOptimizer", "Optimizer", "schedules", "get",
           "serialize", "deserialize"]


def get(identifier: Any) -> Optimizer:
    """An optimizer from a case-insensitive name (``"adam"``), a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return lookup("optimizer", identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(f"Could not interpret optimizer identifier: {identifier!r}")


def serialize(opt: Optimizer) -> dict:
    """``{"class_name", "config"}`` of an optimizer."""
    return {"class_name": type(opt).__name__, "config": opt.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """Builds an optimizer from ``{"class_name", "config"}``."""
    cls = lookup("optimizer", config["class_name"], custom_objects)
    return cls.from_config(config.get("config", {}), custom_objects)
