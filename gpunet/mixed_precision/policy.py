"""``DTypePolicy`` and the global policy (Keras 3's ``keras.dtype_policies``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpunet.backend import floatx, set_floatx

_MIXED = {"mixed_float16": ("float16", "float32"), "mixed_bfloat16": ("bfloat16", "float32")}
_FLOATS = ("float16", "bfloat16", "float32", "float64")
_CLASS_NAMES = ("DTypePolicy", "FloatDTypePolicy", "Policy")
# the global policy when it is a mixed one; None: the single-dtype policy of ``floatx()``
_GLOBAL: list = [None]


class DTypePolicy:
    """A dtype policy: the dtype of a layer's computations and of its variables.

    ``"float32"``, ``"float64"``, ``"float16"`` and ``"bfloat16"`` use one dtype for both;
    (integer and bool dtypes too, for layers such as ``IntegerLookup``);
    ``"mixed_float16"`` and ``"mixed_bfloat16"`` compute in float16 / bfloat16 and keep the
    variables in float32 (layers cast their floating inputs and, inside ``call``, their
    variables to the compute dtype; the gradients reach the float32 variables cast back).

    Args:
        name: the policy name; ``None`` takes the global policy's.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: ``name`` is not one of the names above.

    Example:

    >>> policy = gpunet.mixed_precision.DTypePolicy("mixed_float16")
    >>> policy.compute_dtype, policy.variable_dtype      # ("float16", "float32")
    >>> gpunet.layers.Dense(10, dtype=policy)
    """

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            name = global_policy().name
        if not isinstance(name, str):
            raise TypeError("'name' must be a string, such as 'mixed_float16'. Received: "
                            f"name={name!r} (of type {type(name)})")
        if name in _MIXED:
            compute, variable = _MIXED[name]
        else:
            compute = variable = _standardize(name)
        self._name = name
        self._compute_dtype = compute
        self._variable_dtype = variable

    @property
    def name(self) -> str:
        """The policy's name (``"mixed_float16"``, ``"float32"``, ...)."""
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's computations and outputs."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype in which the layer creates its variables."""
        return self._variable_dtype

    @property
    def quantization_mode(self) -> None:
        """Always ``None`` (gpunet has no quantized policies)."""
        return None

    @property
    def is_mixed(self) -> bool:
        """Whether the compute dtype differs from the variable dtype."""
        return self._compute_dtype != self._variable_dtype

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
FloatDTypePolicy = DTypePolicy


def _standardize(name: str) -> str:
    if name in _FLOATS or name == "string":
        return name
    try:
        dt = np.dtype(name)
    except TypeError:
        dt = None
    if dt is None or dt.kind not in "biuf":
        raise ValueError(
            f"Cannot convert '{name}' to a mixed precision DTypePolicy. Valid policies include "
            "'mixed_float16', 'mixed_bfloat16', and the name of any float dtype such as "
            "'float32'.")
    return dt.name


def get(identifier: Any) -> DTypePolicy:
    """A ``DTypePolicy`` from ``None`` (the global policy), a name, a policy, or a config
    (``{"class_name": "DTypePolicy", "config": {"name": ...}}``, as Keras 3 writes it).

    Raises:
        ValueError: an unknown name or class, or an identifier of another type.
    """
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    try:
        return DTypePolicy(np.dtype(identifier).name)
    except TypeError:
        raise ValueError("Cannot interpret `dtype` argument. Expected a string or an instance "
                         f"of DTypePolicy. Received: dtype={identifier!r}") from None


def serialize(policy: DTypePolicy) -> dict:
    """The policy as Keras 3 serializes it: ``{"module": "keras", "class_name":
    "DTypePolicy", "config": {"name": ...}, "registered_name": None}``."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(),
            "registered_name": None}


def deserialize(config: dict, custom_objects: Any = None) -> DTypePolicy:
    """A policy from ``serialize``'s dict (``class_name`` DTypePolicy, FloatDTypePolicy or
    Policy, with ``config["name"]``).

    Raises:
        ValueError: another class name, or no ``config`` with a ``name``.
    """
    cls = config.get("class_name")
    inner = config.get("config")
    if cls not in _CLASS_NAMES or not isinstance(inner, dict) or "name" not in inner:
        raise ValueError(f"Cannot deserialize a dtype policy from {config!r}: expected "
                         "{'class_name': 'DTypePolicy', 'config': {'name': ...}}.")
    return DTypePolicy(inner["name"])


def set_global_policy(policy: str | DTypePolicy | dict | None) -> None:
    """Sets the global policy: layers created afterwards take it as their ``dtype_policy``.

    A single-dtype policy (``"float64"``, ...) also sets ``floatx()``, as gpunet did before
    mixed policies; a mixed policy leaves ``floatx()`` (float32) unchanged, as Keras 3 does.
    ``None`` goes back to ``floatx()``'s policy.

    Args:
        policy: a policy name, a ``DTypePolicy`` or its config.

    Example:

    >>> gpunet.mixed_precision.set_global_policy("mixed_float16")
    >>> gpunet.layers.Dense(10).compute_dtype                # "float16"
    """
    if policy is None:
        _GLOBAL[0] = None
        return
    p = get(policy)
    if p.is_mixed:
        _GLOBAL[0] = p
    else:
        _GLOBAL[0] = None
        set_floatx(p.compute_dtype)


def global_policy() -> DTypePolicy:
    """The global policy: the mixed one set by ``set_global_policy``, else ``floatx()``'s."""
    p = _GLOBAL[0]
    return p if p is not None else DTypePolicy(floatx())


set_dtype_policy = set_global_policy
dtype_policy = global_policy
