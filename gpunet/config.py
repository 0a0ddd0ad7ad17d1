"""``gpunet.config``: the global settings of Keras 3's ``keras.config``.

Example:

>>> gpunet.config.floatx()              # "float32"
>>> gpunet.config.set_epsilon(1e-6)
>>> gpunet.config.backend()             # "numpy" or "cupy"
"""

from __future__ import annotations

from gpunet.backend import (
    epsilon,
    floatx,
    get_backend,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from gpunet.backend.tf32 import (
    enable_tensor_float_32_execution,
    tensor_float_32_execution_enabled,
)
from gpunet.mixed_precision import dtype_policy, set_dtype_policy

__all__ = ["backend", "disable_interactive_logging", "dtype_policy",
           "enable_interactive_logging", "enable_tensor_float_32_execution",
           "enable_unsafe_deserialization", "epsilon", "floatx", "image_data_format",
           "is_interactive_logging_enabled", "set_backend", "set_dtype_policy", "set_epsilon",
           "set_floatx", "set_image_data_format", "tensor_float_32_execution_enabled"]

_INTERACTIVE = True


def backend() -> str:
    """The name of the array backend in use: ``"numpy"`` (CPU) or ``"cupy"`` (GPU).

    Keras returns its framework's name (``"jax"``, ``"torch"``, ...); gpunet has one
    framework over two array modules, and names the one the default device uses.
    """
    return get_backend().name


def set_backend(name: str) -> None:
    """Sets the default device backend: ``"numpy"``/``"cpu"``, ``"cupy"``/``"gpu"`` or
    ``"auto"`` (gpunet switches in process; Keras needs a restart for its frameworks)."""
    from gpunet.backend import set_backend as _set

    _set(name)


def enable_interactive_logging() -> None:
    """Turns on the progress bars and the printed summaries (the default)."""
    global _INTERACTIVE
    _INTERACTIVE = True


def disable_interactive_logging() -> None:
    """Records that interactive logging is off (see ``is_interactive_logging_enabled``)."""
    global _INTERACTIVE
    _INTERACTIVE = False


def is_interactive_logging_enabled() -> bool:
    """Whether interactive logging is on."""
    return _INTERACTIVE


def enable_unsafe_deserialization() -> None:
    """Allows loading configs that hold Python code (``Lambda`` layers) in this process."""
    from gpunet import registry

    registry.enable_unsafe_deserialization()
