"""One update = one call over the whole flat buffer; the CuPy kernels agree with NumPy."""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib
import os
import sys

import numpy as np
import pytest

from gpunet import optimizers
from gpunet.autograd.variable import Variable
from gpunet.backend import kernels

# optimizer (kwargs) → (module that calls the kernel, kernel function name)
UPDATES = [
    ("SGD", {}, "sgd", "sgd_update"),
    ("SGD", {"momentum": 0.9}, "sgd", "sgd_momentum_update"),
    ("RMSprop", {"centered": True, "momentum": 0.5}, "rmsprop", "rmsprop_update"),
    ("Adagrad", {}, "adagrad", "adagrad_update"),
    ("Adadelta", {}, "adagrad", "adadelta_update"),
    ("Adam", {"amsgrad": True}, "adam", "adam_update"),
    ("AdamW", {}, "adam", "adam_update"),
    ("Adamax", {}, "adamax", "adamax_update"),
    ("Nadam", {}, "nadam", "nadam_update"),
    ("Ftrl", {}, "ftrl", "ftrl_update"),
    ("Lion", {}, "lion", "lion_update"),
]


def _two_dtype_variables():
    rng = np.random.default_rng(0)
    return [Variable(rng.normal(size=(6, 5)).astype(np.float32), name="k32"),
            Variable(rng.normal(size=(5,)).astype(np.float32), name="b32"),
            Variable(rng.normal(size=(3, 2)), name="k64"),
            Variable(rng.normal(size=(2,)), name="b64")]


@pytest.mark.parametrize("name,kwargs,module,fn", UPDATES, ids=[u[0] for u in UPDATES])
def test_update_is_one_call_per_group_over_the_whole_buffer(name, kwargs, module, fn,
                                                            monkeypatch):
    mod = importlib.import_module(f"gpunet.optimizers.{module}")
    real = getattr(mod, fn)
    calls = []

    def spy(b, w, g, *args, **kw):
        calls.append((w, g))
        return real(b, w, g, *args, **kw)

    monkeypatch.setattr(mod, fn, spy)
    vs = _two_dtype_variables()
    opt = getattr(optimizers, name)(**kwargs)
    opt.build(vs)
    assert len(opt._groups) == 2
    for step in range(3):
        opt.apply_gradients([(np.ones(v.shape, v.dtype), v) for v in vs])
        assert len(calls) == 2 * (step + 1)
    for (w, g), group in zip(calls[-2:], opt._groups):
        assert w is group.data and g is group.grad and w.ndim == 1
        assert w.size == sum(v.data.size for v in group.variables)


def _run(opt, backend, steps=3, dtype=np.float32, exclude_bias=False):
    rng = np.random.default_rng(1)
    vs = [Variable(rng.normal(size=(5, 4)).astype(dtype), name="kernel"),
          Variable(rng.normal(size=(4,)).astype(dtype), name="bias")]
    if exclude_bias:
        opt.exclude_from_weight_decay(var_names=["bias"])
    opt.build(vs)
    if backend is not None:
        for g in opt._groups:
            g.backend = backend
        opt.build(vs)  # slots and scratch for the (fake) CuPy backend
    for step in range(steps):
        scale = (1.0, 0.1, 3.0)[step % 3]
        opt.apply_gradients([(rng.normal(size=v.shape).astype(dtype) * scale, v) for v in vs])
    return [v.data.copy() for v in vs] + [a for _, a in opt.get_slot_arrays()]


CUPY_CASES = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.5}), ("RMSprop", {"centered": True}),
    ("RMSprop", {"centered": True, "momentum": 0.5}),
    ("Adagrad", {"learning_rate": 0.1}), ("Adadelta", {"learning_rate": 1.0}),
    ("Adam", {"learning_rate": 0.1}), ("Adam", {"amsgrad": True, "beta_2": 0.5}),
    ("AdamW", {"weight_decay": 0.1}), ("Adamax", {"learning_rate": 0.1}),
    ("Nadam", {"learning_rate": 0.1}),
    ("Ftrl", {"learning_rate": 0.5, "l1_regularization_strength": 0.05,
              "l2_regularization_strength": 0.1, "l2_shrinkage_regularization_strength": 0.1}),
    ("Ftrl", {"learning_rate": 0.5, "learning_rate_power": -0.7, "beta": 0.3}),
    ("Lion", {"learning_rate": 0.01}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.5, "use_ema": True,
             "ema_momentum": 0.5}),
]


def _masked_decay(kwargs):
    """Weight decay with the bias excluded (the masked kernel), except in the EMA case."""
    return "weight_decay" in kwargs and "use_ema" not in kwargs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", CUPY_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CUPY_CASES)])
def test_cupy_kernel_bodies_match_the_numpy_path(name, kwargs, dtype, fake_cupy):
    """The CUDA source of each kernel, run element-wise by the emulator, gives the NumPy result."""
    want = _run(getattr(optimizers, name)(**kwargs), None, dtype=dtype,
                exclude_bias=_masked_decay(kwargs))
    got = _run(getattr(optimizers, name)(**kwargs), fake_cupy, dtype=dtype,
               exclude_bias=_masked_decay(kwargs))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    used = {k for k, v in fake_cupy.kernels.items() if v.calls}
    assert used, "the CuPy path was not taken"
    assert all(v.calls == 3 for k, v in fake_cupy.kernels.items()
               if k not in ("ema", "decay_masked")), fake_cupy.kernels


def test_every_spec_is_exercised_by_the_emulator_tests(fake_cupy):
    names = set()
    for name, kwargs in CUPY_CASES:
        backend = type(fake_cupy)()
        _run(getattr(optimizers, name)(**kwargs), backend, steps=2,
             exclude_bias=_masked_decay(kwargs))
        names |= set(backend.kernels)
    assert names == set(kernels.SPECS)


def test_cupy_kernel_objects_construct_without_a_gpu():
    cp = pytest.importorskip("cupy")
    for spec in kernels.SPECS.values():
        k = spec.build(cp)
        assert k.name == f"gpunet_{spec.name}"
        assert k.nin + k.nout == len(spec.in_params.split(",")) + len(spec.out_params.split(","))


def _libnvrtc():
    """NVRTC from a CUDA install or the nvidia-cuda-nvrtc wheel, or None."""
    paths = [ctypes.util.find_library("nvrtc")]
    for base in sys.path:
        paths += sorted(glob.glob(os.path.join(base or ".", "nvidia", "*", "lib", "libnvrtc.so*")))
    paths += sorted(glob.glob("/usr/local/cuda*/lib64/libnvrtc.so*"))
    for p in paths:
        if p and "builtins" not in p:
            try:
                return ctypes.CDLL(p)
            except OSError:
                continue
    return None


def _nvrtc_compile(lib, src):
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), b"k.cu", 0, None, None) == 0
    opts = (ctypes.c_char_p * 1)(b"-std=c++17")
    rc = lib.nvrtcCompileProgram(prog, 1, opts)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return rc, log.value.decode(errors="replace")


def c_type(param_type: str) -> str:
    """The C type of a parameter: ``T`` (the buffer type) or a declared one (``float64``)."""
    return {"float64": "double", "float32": "float", "int64": "long long"}.get(param_type,
                                                                                 param_type)


@pytest.mark.parametrize("ctype", ["float", "double"])
def test_kernel_sources_compile_with_nvrtc(ctype):
    """Each body, wrapped the way CuPy wraps it (typedef T, one reference per argument),
    compiles with NVRTC; needs the NVRTC library, not a GPU."""
    lib = _libnvrtc()
    if lib is None:
        pytest.skip("NVRTC library not found")
    for spec in kernels.SPECS.values():
        params = [p.split() for p in spec.in_params.split(",")]
        ins = [p for p in params if "raw" not in p]
        pointers = [p[-1] for p in params if "raw" in p]  # per-step scalars: raw float64
        outs = [p.split() for p in spec.out_params.split(",")]
        args = ", ".join([f"const {c_type(p[0])}* _in_{p[-1]}" for p in ins] +
                         [f"{c_type(p[0])}* _out_{p[-1]}" for p in outs] +
                         [f"const double* {n}" for n in pointers])
        refs = " ".join([f"const {c_type(p[0])} {p[-1]} = _in_{p[-1]}[i];" for p in ins] +
                        [f"{c_type(p[0])} &{p[-1]} = _out_{p[-1]}[i];" for p in outs])
        src = (f"typedef {ctype} T;\n{spec.preamble}\nextern \"C\" __global__ void "
               f"gpunet_{spec.name}({args}, long long _size) {{\n"
               f"long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;\n"
               f"if (i >= _size) return;\n{refs}\n{spec.operation}\n}}\n")
        rc, log = _nvrtc_compile(lib, src)
        assert rc == 0, f"{spec.name} ({ctype}):\n{log}"


def test_legacy_kernel_names_stay_importable():
    from gpunet.backend.kernels import adam_update, sgd_momentum_update, sgd_update

    assert callable(sgd_update) and callable(sgd_momentum_update) and callable(adam_update)
