"""The ``Backend`` object: one array module plus its device, transfers, RNG and kernels.

A backend is an object, not a module-level switch, so a NumPy model and a CuPy model can
live in one process. Code reached from an array finds its backend with ``backend_of``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any  # numpy.ndarray or cupy.ndarray


class Backend:
    """Base class of the NumPy and CuPy backends.

    Attributes:
        name: ``"numpy"`` or ``"cupy"``.
        device: ``"cpu"`` or ``"gpu:<id>"``.
        xp: the array module (``numpy`` or ``cupy``).
    """

    name = "base"
    device = "cpu"
    xp: Any = np

    # -- transfers ---------------------------------------------------------------------------
    def asarray(self, x: Any, dtype: Any = None) -> Array:
        """Returns ``x`` as an array of this backend (copies across devices when needed)."""
        raise NotImplementedError

    def to_numpy(self, x: Any) -> np.ndarray:
        """A NumPy copy (or view, on the CPU) of ``x``: the only way data leaves a device."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Waits until every queued kernel has finished (a no-op on the CPU)."""

    def activate(self) -> Any:
        """A context manager that makes this backend's device current (CUDA's current device
        on a GPU, so arrays made inside land on it; nothing on the CPU)."""
        import contextlib

        return contextlib.nullcontext()

    def free_memory(self) -> None:
        """Returns cached, unused device memory to the driver (a no-op on the CPU)."""

    def is_array(self, x: Any) -> bool:
        """True when ``x`` is an array of this backend."""
        return isinstance(x, self.xp.ndarray)

    # -- random numbers (device side: dropout masks, shuffles) ---------------------------------
    def seed(self, seed: int | None) -> None:
        """Re-seeds this backend's device generator."""
        raise NotImplementedError

    def random_uniform(self, shape: tuple, dtype: Any = "float32") -> Array:
        """Uniform ``[0, 1)`` samples drawn on this device."""
        raise NotImplementedError

    def permutation(self, n: int) -> Array:
        """A random permutation of ``range(n)`` as an int64 array on this device."""
        raise NotImplementedError

    # -- fused kernels used on the hot path ----------------------------------------------------
    def relu_grad(self, gy: Array, y: Array) -> Array:
        """Gradient of ReLU given the output ``y``: ``gy * (y > 0)``."""
        return gy * (y > 0)

    def __repr__(self) -> str:
        return f"<gpunet backend {self.name} on {self.device}>"
