"""The per-step scalars of an optimizer: on the host (Python numbers) or in device memory.

An optimizer keeps its step count ``iterations``, its learning rate and its other per-step
scalars (Nadam's ``u_product``, a ``LossScaleOptimizer``'s scale and counter) either as Python
numbers (**host mode**: the NumPy backend, where reading a value back is free) or as 0-d arrays
of its variables' backend (**device mode**: a GPU, where a host read waits for the device and a
captured CUDA graph replays its kernels with the scalar arguments it was recorded with). In
device mode every per-step value (the learning rate of a schedule at the step, Adam's bias
corrections, ...) is computed from those arrays with backend operations, and the update kernels
read them through pointers, so a step needs nothing from the host.

``HOST`` and ``DeviceMath`` give the optimizers one vocabulary for that arithmetic: the same
formula runs on Python floats or on device scalars. The operators ``+ - * /`` work on both;
``pow``, ``sqrt`` and the others go through the namespace, because NumPy's vectorised
``power``/``log`` may differ from the C library's in the last bit: on a host backend in device
mode ``DeviceMath`` evaluates them with ``math`` so both modes give the same bits.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np


class _HostMath:
    """Scalar arithmetic on Python numbers (host mode)."""

    device = False
    kernels = False  # no per-step scalar kernels (``gpunet.backend.kernels.step_scalars``)
    pow = builtins.pow  # a builtin: no method binding, ``a ** b`` for Python numbers
    sqrt, log, cos, floor, ceil = math.sqrt, math.log, math.cos, math.floor, math.ceil
    minimum, maximum = staticmethod(min), staticmethod(max)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def cast(x: Any, dtype: Any) -> Any:
        """``x`` ready to combine with arrays of ``dtype`` as a Python float would."""
        return x


HOST = _HostMath()


def _on_host(fn: Any) -> Any:
    """``fn`` of Python floats as a float64 0-d value (the C library's result, bit for bit)."""
    def run(*args: Any) -> Any:
        return np.float64(fn(*(float(a) for a in args)))

    return run


class DeviceMath:
    """Scalar arithmetic on 0-d arrays of ``backend`` (device mode).

    Args:
        backend: the variables' backend.
    """

    device = True

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        # a device runs the per-step scalar kernels; a host backend the host formulas
        self.kernels = not backend.is_host
        xp = backend.xp
        if backend.is_host:  # the same C library calls as host mode: the same bits
            self.pow = _on_host(lambda a, b: a ** b)
            self.sqrt, self.log, self.cos = (_on_host(f) for f in (math.sqrt, math.log,
                                                                    math.cos))
        else:
            self.pow, self.sqrt, self.log, self.cos = xp.power, xp.sqrt, xp.log, xp.cos
        self.floor, self.ceil = xp.floor, xp.ceil
        self.minimum, self.maximum, self.where = xp.minimum, xp.maximum, xp.where

    def cast(self, x: Any, dtype: Any) -> Any:
        """``x`` ready to combine with arrays of ``dtype``: a 0-d array of that dtype on a
        device (what a Python float becomes there), a Python float on a host backend."""
        if self.backend.is_host:
            return float(x)
        return self.backend.xp.asarray(x).astype(dtype)

    def scalar(self, value: Any, dtype: Any = "float64") -> Any:
        """A new 0-d array of the backend holding ``value`` (a host-to-device copy)."""
        return self.backend.asarray(np.array(value, dtype=dtype))

    def read(self, x: Any) -> Any:
        """The value of a device scalar on the host (a device sync: logs and saving only)."""
        return self.backend.to_numpy(x)[()]


def math_for(x: Any) -> Any:
    """``HOST`` for a Python or NumPy number, else the ``DeviceMath`` of ``x``'s backend."""
    if isinstance(x, (int, float, np.integer, np.floating)):
        return HOST
    from gpunet.backend import backend_of

    return DeviceMath(backend_of(x))
