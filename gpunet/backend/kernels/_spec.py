"""CuPy elementwise kernels described as data, built lazily and cached per backend.

Every fused update is a ``KernelSpec``: the ``cupy.ElementwiseKernel`` arguments. Keeping
them as plain strings in one table (``SPECS``) lets tests build every kernel object (which
needs CuPy but no GPU) and check the arithmetic of the CUDA source without a device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpunet.backend.base import Backend

SIGN_PREAMBLE = ("template <typename T> __device__ T gpunet_sign(T x) "
                 "{ return (T)((x > (T)0) - (x < (T)0)); }")


@dataclass(frozen=True)
class KernelSpec:
    """The arguments of one ``cupy.ElementwiseKernel``.

    Attributes:
        name: cache key; the CUDA function is named ``gpunet_<name>``.
        in_params: e.g. ``"T g, T lr"`` (scalars are 0-d values of the buffer dtype).
        out_params: e.g. ``"T w, T m"`` (updated in place).
        operation: the per-element C++ body.
        preamble: helper device functions.
    """

    name: str
    in_params: str
    out_params: str
    operation: str
    preamble: str = ""

    def build(self, cp: Any) -> Any:
        """The ``ElementwiseKernel`` object (compiled on first launch, not here)."""
        return cp.ElementwiseKernel(self.in_params, self.out_params, self.operation,
                                    f"gpunet_{self.name}", preamble=self.preamble)


SPECS: dict[str, KernelSpec] = {}


def define(name: str, in_params: str, out_params: str, operation: str,
           preamble: str = "") -> KernelSpec:
    """Registers a kernel spec under ``name`` and returns it."""
    spec = KernelSpec(name, in_params, out_params, operation, preamble)
    SPECS[name] = spec
    return spec


def launch(b: Backend, spec: KernelSpec, *args: Any) -> None:
    """Runs ``spec`` on backend ``b`` (built once per backend through ``b.kernel``)."""
    b.kernel(spec.name, spec.build)(*args)
