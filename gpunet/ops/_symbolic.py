"""The hook that lets ``gpunet.ops`` functions take Functional-API ``KerasTensor`` s.

The ops package sits below the layers, so it cannot import ``KerasTensor``: the layers
package installs the class and the recording function here when it is imported. An op
checks ``x.__class__ is _symbolic.KT`` (an attribute test, no extra call on the hot path)
and, for a KerasTensor, hands its name and arguments to ``call``, which records an op layer
in the graph and returns the output KerasTensor(s).
"""

from __future__ import annotations

from typing import Any


class _NoKerasTensor:
    """Placeholder until ``gpunet.layers.node`` installs ``KerasTensor``."""


KT: type = _NoKerasTensor
_HOOK: Any = None


def install(keras_tensor_class: type, hook: Any) -> None:
    """Called by ``gpunet.layers``: the KerasTensor class and ``hook(name, args, kwargs)``."""
    global KT, _HOOK
    KT, _HOOK = keras_tensor_class, hook


def call(name: str, args: tuple, kwargs: dict) -> Any:
    """Records ``gpunet.ops.<name>(*args, **kwargs)`` as an op layer of the symbolic graph."""
    return _HOOK(name, args, kwargs)


def any_symbolic(values: Any) -> bool:
    """Whether a list/tuple holds a KerasTensor (for ``concatenate`` / ``stack``)."""
    for v in values:
        if v.__class__ is KT:
            return True
    return False
