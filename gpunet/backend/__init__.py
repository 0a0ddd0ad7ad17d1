"""Device selection: the NumPy (CPU) and CuPy (GPU) backends as objects.

The default backend comes from ``GPUNET_BACKEND`` (``numpy``, ``cupy`` or ``auto``; default
``auto``: CuPy when it imports and a CUDA device answers, else NumPy).

Example:

>>> from gpunet import backend
>>> b = backend.get_backend()          # the current default
>>> with backend.device("cpu"):        # temporarily use NumPy
...     pass
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from gpunet.backend.base import Array, Backend
from gpunet.backend.config import (
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from gpunet.backend.numpy_backend import NumpyBackend
from gpunet.backend.probe import cupy_status, has_gpu
from gpunet.backend.session import NAME_COUNTS

__all__ = [
    "Array", "Backend", "backend", "backend_for", "backend_of", "clear_session", "device",
    "epsilon", "floatx",
    "get_backend", "has_gpu", "image_data_format", "set_backend", "set_epsilon",
    "set_floatx", "set_image_data_format", "available_backends", "numpy_backend", "to_numpy",
]

_NUMPY = NumpyBackend()
_ndarray = NumpyBackend.xp.ndarray
_CUPY: dict[int, Backend] = {}
_state = threading.local()
_default: Backend | None = None
_device_seed: int | None = None


class _Devices:
    """``several``: a GPU other than device 0 has been used in this process. Then every op
    makes its input's device current (``Function.__call__``), so the arrays it creates land
    beside its inputs; a process on one GPU or the CPU skips that."""

    several = False


DEVICES = _Devices()


def numpy_backend() -> Backend:
    """The NumPy backend (there is one per process)."""
    return _NUMPY


def _cupy_backend(device_id: int = 0) -> Backend:
    b = _CUPY.get(device_id)
    if b is None:
        ok, reason = cupy_status()
        if not ok:
            raise RuntimeError(
                f"The CuPy backend was requested but cannot be used: {reason}. "
                "Install CuPy for your CUDA version (pip install 'gpunet[cuda13]') on a machine "
                "with an NVIDIA GPU, or use GPUNET_BACKEND=numpy (or auto)."
            )
        from gpunet.backend.cupy_backend import CupyBackend

        b = _CUPY[device_id] = CupyBackend(device_id)
        if device_id != 0:
            DEVICES.several = True
        if _device_seed is not None:
            b.seed(_device_seed)
    return b


def _parse(name: str | Backend) -> Backend:
    if isinstance(name, Backend):
        return name
    key = str(name).strip().lower()
    if key in ("numpy", "cpu", "np"):
        return _NUMPY
    if key in ("cupy", "gpu", "cuda", "cp"):
        return _cupy_backend(0)
    for prefix in ("gpu:", "cuda:"):
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            return _cupy_backend(int(key[len(prefix):]))
    if key == "auto":
        return _cupy_backend(0) if has_gpu() else _NUMPY
    raise ValueError(
        f"Unknown backend or device {name!r}. Expected 'numpy'/'cpu', 'cupy'/'gpu'/'gpu:<id>' "
        "or 'auto'."
    )


def backend_for(device: str | Backend) -> Backend:
    """Returns the backend for a device name: ``"cpu"``, ``"gpu"``, ``"gpu:1"``, ``"auto"``."""
    return _parse(device)


def backend_of(x: Any) -> Backend:
    """Returns the backend that owns array (or tensor) ``x``; NumPy for anything host-side."""
    if x.__class__ is _ndarray:  # the common case, first
        return _NUMPY
    if getattr(x, "_gpunet_tensor", False):
        x = x.data
    if type(x).__module__.startswith("cupy"):
        return _cupy_backend(x.device.id)
    return _NUMPY


def to_numpy(x: Any) -> Any:
    """A host NumPy copy of ``x`` (an array of any backend, a Tensor or Variable, a scalar or
    a sequence), made by the backend that owns it: the one way data leaves a device.

    Example:

    >>> gpunet.backend.to_numpy(gpunet.ops.ones((2,))).tolist()
    [1.0, 1.0]
    """
    if getattr(x, "_gpunet_tensor", False):
        x = x.data
    return backend_of(x).to_numpy(x)


def _initial_default() -> Backend:
    choice = os.environ.get("GPUNET_BACKEND", "auto").strip().lower() or "auto"
    if choice not in ("numpy", "cupy", "auto", "cpu", "gpu"):
        raise ValueError(
            f"GPUNET_BACKEND must be 'numpy', 'cupy' or 'auto'. Received: {choice!r}"
        )
    return _parse(choice)


def get_backend() -> Backend:
    """Returns the current default backend (the innermost ``device()`` context, if any)."""
    stack = getattr(_state, "stack", None)
    if stack:
        return stack[-1]
    global _default
    if _default is None:
        _default = _initial_default()
    return _default


def set_backend(name: str | Backend) -> Backend:
    """Sets the process-wide default backend (``"numpy"``, ``"cupy"`` or ``"auto"``)."""
    global _default
    _default = _parse(name)
    return _default


@contextlib.contextmanager
def device(name: str | Backend):
    """Context manager making ``name``'s backend the default inside the block.

    Example:

    >>> with gpunet.backend.device("cpu"):
    ...     model = build_model()   # weights live on the CPU
    """
    b = _parse(name)
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(b)
    try:
        with b.activate():  # on a GPU, arrays made inside land on its device
            yield b
    finally:
        stack.pop()


def available_backends() -> list[str]:
    """Names of the backends usable on this machine (``["numpy"]`` or ``["numpy", "cupy"]``)."""
    return ["numpy", "cupy"] if has_gpu() else ["numpy"]


def backend() -> str:
    """The name of the array backend the default device uses: ``"numpy"`` or ``"cupy"``.

    Keras 3 answers with its framework (``"jax"``, ``"torch"``, ...); gpunet is one framework
    over two array modules, so it names the array module.
    """
    return get_backend().name


def clear_session(free_memory: bool = True) -> None:
    """Resets gpunet's global state as Keras 3's ``clear_session``: the automatic layer and
    model name counters start again, and (``free_memory``) unreferenced memory is collected,
    including the cached blocks of CuPy's memory pools."""
    import gc

    NAME_COUNTS.clear()
    if free_memory:
        gc.collect()
        for b in _CUPY.values():
            b.free_memory()
