"""``gpunet.mixed_precision``: Keras 3's dtype-policy API, for the policies gpunet runs.

gpunet computes each layer in one dtype: the policies ``"float16"``, ``"float32"``,
``"float64"`` (and ``"bfloat16"`` where the array module has it) set the global float type
(``gpunet.config.floatx``). Mixed policies (``"mixed_float16"``, ``"mixed_bfloat16"``: float16
compute with float32 variables and loss scaling) are not supported: asking for one raises
``ValueError`` rather than silently training in float32. ``LossScaleOptimizer`` is therefore
not provided.

Example:

>>> gpunet.mixed_precision.set_global_policy("float64")
>>> gpunet.mixed_precision.global_policy().compute_dtype     # "float64"
"""

from __future__ import annotations

from typing import Any

from gpunet.backend import floatx, set_floatx

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy",
           "set_global_policy"]

_SUPPORTED = ("float16", "float32", "float64")


class DTypePolicy:
    """A dtype policy: the dtype of a layer's computations and of its variables.

    Args:
        name: ``"float16"``, ``"float32"`` or ``"float64"``; ``None`` takes ``floatx()``.

    Raises:
        ValueError: for mixed policies (``"mixed_float16"``, ``"mixed_bfloat16"``) and
            unknown names.
    """

    def __init__(self, name: str | None = None) -> None:
        name = floatx() if name is None else name
        if not isinstance(name, str):
            raise TypeError(f"DTypePolicy: `name` must be a string. Received: name={name!r}")
        if name.startswith("mixed_"):
            raise ValueError(
                f"DTypePolicy: gpunet does not support mixed precision ({name!r}: float16 "
                "compute with float32 variables and loss scaling). Use one dtype for both, "
                f"one of {_SUPPORTED}."
            )
        if name not in _SUPPORTED:
            raise ValueError(f"DTypePolicy: unknown policy {name!r}. Expected one of "
                             f"{_SUPPORTED}.")
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._name

    @property
    def variable_dtype(self) -> str:
        return self._name

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict) -> DTypePolicy:
        return cls(**config)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy


def set_global_policy(policy: str | DTypePolicy) -> None:
    """Sets the global policy: new layers and ``floatx()`` use its dtype."""
    p = policy if isinstance(policy, DTypePolicy) else DTypePolicy(policy)
    set_floatx(p.compute_dtype)


def global_policy() -> DTypePolicy:
    """The global policy (from ``floatx()``)."""
    return DTypePolicy(floatx())


set_dtype_policy = set_global_policy
dtype_policy = global_policy
