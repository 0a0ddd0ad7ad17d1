"""A stand-in GPU for CPU tests: the CuPy code paths of gpunet run on NumPy, and every
device-to-host read is counted (see ``test_fit_no_host_sync.py``).

``DeviceArray`` is a NumPy array whose type gpunet takes for a CuPy one (``backend_of`` reads
the type's module); ``StandInDevice`` is the backend object it returns for them (install it as
GPU 0 with ``monkeypatch.setitem(gpunet.backend._CUPY, 0, StandInDevice())``). Reductions keep
0-d device arrays, as CuPy's do, so reading a loss or a norm is a counted conversion.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import types

import numpy as np

import gpunet
from gpunet import backend as B
from gpunet.backend.base import Backend
from gpunet.backend.philox import PhiloxStream
from gpunet.backend.philox import words as philox_words

_REAL = {n: getattr(np, n) for n in ("asarray", "array", "ascontiguousarray", "asanyarray")}
_PKG = os.path.dirname(gpunet.__file__)
_DEVICE = types.SimpleNamespace(id=0)


class Reads:
    """Every device-to-host read, with the gpunet functions on the stack when it happened."""

    def __init__(self) -> None:
        self.on = False
        self.records: list[tuple[str, list[str]]] = []

    def hit(self, kind: str) -> None:
        if not self.on:
            return
        stack, f = [], sys._getframe(2)
        while f is not None:
            path = f.f_code.co_filename
            if path.startswith(_PKG):
                stack.append(f"{os.path.relpath(path, _PKG)}:{f.f_code.co_name}")
            f = f.f_back
        self.records.append((kind, stack))

    def where(self, func: str) -> list:
        return [r for r in self.records if any(s.endswith(func) for s in r[1])]


READS = Reads()


def _counted(kind: str):
    """``ndarray.<kind>`` (a conversion that reads the value on the host), counted."""
    def conv(self, *args):
        READS.hit(kind)
        return getattr(np.ndarray, kind)(self.view(np.ndarray), *args)

    return conv


class DeviceArray(np.ndarray):
    """A NumPy array gpunet takes for a CuPy one (``backend_of`` reads the type's module)."""

    __module__ = "cupy_standin"

    @property
    def device(self):
        return _DEVICE

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        return arr if type(arr) is DeviceArray else arr.view(DeviceArray)  # 0-d stays an array

    def __getitem__(self, key):
        r = super().__getitem__(key)
        return r if isinstance(r, np.ndarray) else _REAL["asarray"](r).view(DeviceArray)

    __float__, __int__, __bool__, __index__ = (_counted(k) for k in (
        "__float__", "__int__", "__bool__", "__index__"))
    __complex__, __format__, item, tolist = (_counted(k) for k in (
        "__complex__", "__format__", "item", "tolist"))

    def get(self):
        READS.hit("get")
        return _REAL["array"](self.view(np.ndarray))


def _dev(r):
    if isinstance(r, DeviceArray):
        return r
    if isinstance(r, np.ndarray):
        return r.view(DeviceArray)
    if isinstance(r, np.generic):
        return _REAL["asarray"](r).view(DeviceArray)
    if isinstance(r, (tuple, list)):
        return type(r)(_dev(x) for x in r)
    return r


class _Xp:
    """NumPy as the stand-in device's array module: results are device arrays."""

    ndarray = DeviceArray

    def __init__(self, mod) -> None:
        self._mod = mod

    def __getattr__(self, name):
        attr = _REAL.get(name) if self._mod is np and name in _REAL else getattr(self._mod, name)
        if isinstance(attr, types.ModuleType):
            return _Xp(attr)
        if isinstance(attr, (type, np.ufunc)) or not callable(attr):
            return attr

        @functools.wraps(attr)
        def on_device(*args, **kwargs):
            return _dev(attr(*args, **kwargs))

        return on_device


_C_FUNCS = {"sqrt": np.sqrt, "pow": np.power, "max": np.maximum, "min": np.minimum,
            "fabs": np.abs, "exp": np.exp, "tanh": np.tanh, "gpunet_sign": np.sign,
            "gpunet_where": np.where, "floor": np.floor, "ceil": np.ceil, "cos": np.cos,
            "log": np.log, "fmin": np.fmin, "fmax": np.fmax}


class _EmulatedKernel:
    """Runs an ``ElementwiseKernel`` body (a C subset that is also Python) on whole arrays."""

    def __init__(self, in_params, out_params, operation, name, preamble="") -> None:
        def names(p):
            return [s.split()[-1] for s in p.split(",") if s.strip()]

        self.ins, self.outs = names(in_params), names(out_params)
        self.body = [s.strip().removeprefix("T ") for s in operation.split(";") if s.strip()]

    def __call__(self, *args):
        ns = dict(_C_FUNCS, **dict(zip(self.ins + self.outs, args)))
        ns["T"] = args[len(self.ins)].dtype.type  # the cast T(x) of a pointer's value
        with np.errstate(all="ignore"):
            for s in self.body:
                exec(s, {}, ns)
        for n, a in zip(self.outs, args[len(self.ins):]):
            if ns[n] is not a:
                a[...] = ns[n]


class StandInDevice(Backend):
    """The CuPy backend's contract on NumPy, counting every host read."""

    name = "cupy"
    device = "gpu:0"
    is_host = False

    def __init__(self) -> None:
        self.xp = _Xp(np)
        self._device = contextlib.nullcontext()
        self._rng = np.random.default_rng(0)
        self.philox = PhiloxStream(0)
        self._kernels: dict = {}

    def asarray(self, x, dtype=None):
        if isinstance(x, DeviceArray):
            return x if dtype is None else x.astype(dtype, copy=False)
        return _REAL["array"](x, dtype=dtype).view(DeviceArray)  # a host-to-device copy

    def to_numpy(self, x):
        if isinstance(x, DeviceArray):
            READS.hit("to_numpy")
            return _REAL["array"](x.view(np.ndarray))
        return _REAL["asarray"](x)

    def seed(self, seed):
        self._rng = np.random.default_rng(seed)
        self.philox = PhiloxStream(seed)

    def random_uniform(self, shape, dtype="float32"):
        return self.philox.uniform(self, shape, dtype)

    def philox_words(self, start, n, key):  # the CUDA kernel's bits, made on the host
        if isinstance(start, DeviceArray):  # the kernel reads the counter on the device
            start = int(start.view(np.ndarray))
        return _dev(philox_words(start, n, key))

    def permutation(self, n):
        return _dev(self._rng.permutation(n))

    def generator(self, key=None):
        host = B.numpy_backend().generator(key)
        return types.SimpleNamespace(**{m: (lambda f: lambda *a: _dev(f(*a)))(getattr(host, m))
                                        for m in ("uniform", "normal", "integers", "gamma",
                                                  "binomial", "beta", "permutation")})

    def scatter_add(self, out, indices, values):
        np.add.at(out, indices, values)

    def scatter_add_rows(self, out, ids, values):
        self.scatter_add(out, ids.reshape(-1), values.reshape(-1, out.shape[-1]))

    def bincount(self, idx, size, weights=None):
        out = self.xp.zeros(size, np.int32 if weights is None else np.float32)
        self.scatter_add(out, idx, 1 if weights is None else weights.astype(np.float32))
        return out

    def argsort(self, x, axis=-1):
        return self.xp.argsort(x, axis=axis, kind="stable")

    def kernel(self, name, factory):
        if name not in self._kernels:
            self._kernels[name] = factory(types.SimpleNamespace(ElementwiseKernel=_EmulatedKernel))
        return self._kernels[name]


def count_np_conversions(monkeypatch) -> None:
    """``np.asarray(device_array)`` and co. in gpunet's code count as host reads (CuPy would
    refuse them); NumPy's own functions calling them on their inputs do not."""
    for n, real in _REAL.items():
        def conv(a, *args, _real=real, _n=n, **kwargs):
            if isinstance(a, DeviceArray) and \
                    sys._getframe(1).f_code.co_filename.startswith(_PKG):
                READS.hit(f"np.{_n}")
            return _real(a, *args, **kwargs)

        monkeypatch.setattr(np, n, conv)
