"""CuPy elementwise kernels described as data, built lazily and cached per backend.

Every CuPy kernel gpunet launches is a ``KernelSpec``: the ``cupy.ElementwiseKernel``
arguments plus how it is launched (which inputs are host scalars, the rank of its ``raw``
arrays). Keeping them as plain strings in one table (``ALL_SPECS``; the optimizer updates
also in ``SPECS``) lets tests build every kernel object (which needs CuPy but no GPU),
generate the CUDA source CuPy would compile and compile it with NVRTC, without a device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gpunet.backend.base import Backend

SIGN_PREAMBLE = ("template <typename T> __device__ T gpunet_sign(T x) "
                 "{ return (T)((x > (T)0) - (x < (T)0)); }")


def param_names(params: str) -> list[str]:
    """The names in a CuPy parameter list such as ``"raw T z, int32 u"``."""
    return [p.split()[-1] for p in params.split(",") if p.strip()]


@dataclass(frozen=True)
class KernelSpec:
    """The arguments of one ``cupy.ElementwiseKernel`` and how gpunet launches it.

    Attributes:
        name: cache key; the CUDA function is named ``gpunet_<name>``.
        in_params: e.g. ``"T g, T lr"``.
        out_params: e.g. ``"T w, T m"`` (updated in place).
        operation: the per-element C++ body.
        preamble: helper device functions.
        scalars: the inputs passed as host scalars (cast to the parameter's type); the
            others are device arrays (a per-step scalar of an optimizer is a ``raw float64``
            one-element array the body reads through its pointer: see ``pointers``).
        raw_ndim: the rank of the ``raw`` array arguments at launch (non-raw arrays are
            contiguous buffers of one shape, which CuPy reduces to rank 1).
        ndims: ``(name, rank)`` pairs for the ``raw`` arrays whose rank differs.
        group: ``"optimizer"`` for the fused updates (also in ``SPECS``), else ``"layer"``.
    """

    name: str
    in_params: str
    out_params: str
    operation: str
    preamble: str = ""
    scalars: tuple[str, ...] = ()
    raw_ndim: int = 1
    ndims: tuple[tuple[str, int], ...] = ()
    group: str = "optimizer"

    @property
    def kernel_name(self) -> str:
        """The CUDA function's name."""
        return f"gpunet_{self.name}"

    def ndim_of(self, param: str) -> int:
        """The rank of the ``raw`` array argument ``param`` at launch."""
        return dict(self.ndims).get(param, self.raw_ndim)

    def build(self, cp: Any) -> Any:
        """The ``ElementwiseKernel`` object (compiled on first launch, not here)."""
        return cp.ElementwiseKernel(self.in_params, self.out_params, self.operation,
                                    self.kernel_name, preamble=self.preamble)


SPECS: dict[str, KernelSpec] = {}  # the fused optimizer updates
# every CuPy kernel of gpunet (SPECS included), except the learning-rate schedules that
# gpunet.optimizers.traced writes from each schedule's formula (their NVRTC test makes them)
ALL_SPECS: dict[str, KernelSpec] = {}


def define(name: str, in_params: str, out_params: str, operation: str, preamble: str = "",
           *, scalars: tuple[str, ...] | None = None, raw_ndim: int = 1,
           ndims: tuple[tuple[str, int], ...] = (), group: str = "optimizer") -> KernelSpec:
    """Registers a kernel spec under ``name`` and returns it.

    ``scalars`` defaults to the optimizer convention: the first input is the one array
    (gradient, mask or weights), every later input that is not ``raw`` a host scalar (a
    constant hyper-parameter; the per-step values come as ``raw`` pointers).
    """
    ins = param_names(in_params)
    if scalars is None:
        scalars = tuple(n for p, n in zip(in_params.split(","), ins)
                        if "raw" not in p.split())[1:] if group == "optimizer" else ()
    unknown = [s for s in scalars if s not in ins]
    unknown += [n for n, _ in ndims if n not in ins + param_names(out_params)]
    if unknown:
        raise ValueError(f"Kernel spec {name!r}: {unknown} are not parameters of "
                         f"({in_params}) -> ({out_params})")
    if name in ALL_SPECS:
        raise ValueError(f"Kernel spec {name!r} is defined twice")
    spec = KernelSpec(name, in_params, out_params, operation, preamble, tuple(scalars),
                      raw_ndim, tuple(ndims), group)
    ALL_SPECS[name] = spec
    if group == "optimizer":
        SPECS[name] = spec
    return spec


def pointers(*names: str) -> tuple[str, str]:
    """``(params, prelude)`` for per-step scalars read from device memory: each ``x`` is a
    ``raw float64 x_`` one-element array, and the body starts with ``T x = T(x_[0]);`` (the
    host float64 value rounded to the buffer type, as a host scalar argument would be).

    A captured CUDA graph replays a kernel with the arguments it was recorded with; a pointer
    argument lets it read the value the step computed on the device instead.
    """
    params = ", ".join(f"raw float64 {n}_" for n in names)
    prelude = "".join(f"T {n} = T({n}_[0]); " for n in names)
    return params, prelude


def device_scalar(b: Backend, x: Any) -> Any:
    """``x`` as the one-element float64 array of ``b`` that a kernel reads by pointer: a view
    of a device scalar (0-d float64 array), else a new array (a host-to-device copy)."""
    if b.is_array(x):
        return (x if x.dtype == np.float64 else x.astype(np.float64)).reshape(1)
    return b.asarray(np.array([x], dtype=np.float64))


def launch(b: Backend, spec: KernelSpec, *args: Any, **kwargs: Any) -> Any:
    """Runs ``spec`` on backend ``b`` (built once per backend through ``b.kernel``)."""
    return b.kernel(spec.name, spec.build)(*args, **kwargs)
