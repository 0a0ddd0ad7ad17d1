"""Every CuPy kernel of gpunet compiles with NVRTC, for float32 and float64, without a GPU.

For each ``KernelSpec`` in ``ALL_SPECS`` the test asks CuPy itself for the full CUDA source it
generates for that ``ElementwiseKernel`` at launch (the argument kinds, ranks and dtypes gpunet
launches it with), prepends CuPy's headers, and compiles it with NVRTC under CuPy's own
options. That needs CuPy and the NVRTC library (``pip install -e ".[kernels-ci]"``: CuPy, the
NVRTC and CUDA-runtime-header wheels), but no GPU and no driver. Without them the NVRTC tests
skip, saying why; the source scan below always runs.
"""

from __future__ import annotations

import pathlib
import re
from types import SimpleNamespace

import numpy as np
import pytest

import gpunet
from gpunet.backend.kernels import ALL_SPECS, SPECS, KernelSpec
from gpunet.backend.kernels._spec import define

ARCH = "90"  # sm_90: the H100/H200 the GPU path targets (the full cubin, ptxas included)
DTYPES = [np.float32, np.float64]
# CuPy's _ArgKind values (cupy/_core/_kernel.pxd)
ARG_NDARRAY, ARG_INDEXER, ARG_SCALAR = 1, 2, 3


def _cupy_compiler():
    """CuPy's kernel-source generator and NVRTC, or a skip saying what is missing."""
    cp = pytest.importorskip("cupy", reason="CuPy is not installed (extra: kernels-ci)")
    try:
        from cupy.cuda import nvrtc

        nvrtc.getVersion()
    except Exception as e:  # the NVRTC library is loaded lazily
        pytest.skip(f"NVRTC is not available ({type(e).__name__}: {e}); "
                    "install nvidia-cuda-nvrtc-cu12 (extra: kernels-ci)")
    try:
        from cupy._core import _carray, _kernel, _scalar, core
        from cupy.cuda import compiler

        for mod, attr in [(_kernel, "_get_elementwise_kernel_code"), (_kernel, "_ArgInfo"),
                          (compiler, "_NVRTCProgram"), (core, "assemble_cupy_compiler_options"),
                          (core, "_cupy_header_list"), (_scalar, "CScalar"),
                          (_carray, "Indexer")]:
            getattr(mod, attr)
    except (ImportError, AttributeError) as e:
        if not cp.__version__.startswith("14."):
            pytest.skip(f"CuPy {cp.__version__} lacks the source generator this test uses "
                        f"(CuPy 14): {e}")
        raise
    try:
        core.assemble_cupy_compiler_options(())
    except RuntimeError as e:  # no CUDA headers found
        pytest.skip(f"{e} (extra: kernels-ci installs nvidia-cuda-runtime-cu12)")
    return SimpleNamespace(cp=cp, kernel=_kernel, scalar=_scalar, carray=_carray, core=core,
                           compiler=compiler)


def kernel_code(spec: KernelSpec, dtype) -> str:
    """The code ``ElementwiseKernel.__call__`` generates for ``spec`` launched with
    ``T = dtype`` and the argument kinds gpunet passes (host scalars as scalars, contiguous
    buffers reduced to rank 1, raw arrays at their launch rank, 32-bit indexing)."""
    c = _cupy_compiler()
    k = spec.build(c.cp)
    dt = np.dtype(dtype)

    def array_dtype(p):
        return None if p.name in spec.scalars else (p.dtype if p.dtype is not None else dt)

    in_types, out_types, type_map = k._decide_params_type(
        tuple(array_dtype(p) for p in k.in_params), tuple(array_dtype(p) for p in k.out_params))
    infos = []
    for p, t in zip(k.in_params + k.out_params, in_types + out_types):
        if p.name in spec.scalars:
            infos.append(c.kernel._ArgInfo(ARG_SCALAR, c.scalar.CScalar, np.dtype(t), 0, True,
                                           True))
        else:
            ndim = spec.ndim_of(p.name) if p.raw else 1
            infos.append(c.kernel._ArgInfo(ARG_NDARRAY, c.cp.ndarray, np.dtype(t), ndim, True,
                                           True))
    infos.append(c.kernel._ArgInfo(ARG_INDEXER, c.carray.Indexer, None, 1, True, True))
    return c.kernel._get_elementwise_kernel_code(tuple(infos), type_map, k.params, k.operation,
                                                 k.name, k.preamble, **k.kwargs)


def cuda_source(spec: KernelSpec, dtype) -> str:
    """The whole source CuPy hands NVRTC: its headers, then ``kernel_code``."""
    headers = _cupy_compiler().core._cupy_header_list
    return "".join(f"#include <{h}>\n" for h in headers) + kernel_code(spec, dtype)


def nvrtc_log(spec: KernelSpec, dtype, arch: str = ARCH) -> str | None:
    """Compiles ``cuda_source(spec, dtype)`` as CuPy would (its options, ``-ftz=true``, a cubin
    for ``sm_<arch>``); ``None`` when it compiles, else NVRTC's log."""
    c = _cupy_compiler()
    src = cuda_source(spec, dtype)
    options = c.core.assemble_cupy_compiler_options(
        tuple(spec.build(c.cp).kwargs.get("options", ())))
    options += ("-ftz=true", f"-arch=sm_{arch}", "--device-as-default-execution-space")
    try:
        c.compiler._NVRTCProgram(src, f"{spec.kernel_name}.cu", method="cubin").compile(options)
    except c.compiler.CompileException as e:
        return e.get_message()
    return None


def check_compiles(spec: KernelSpec, dtype) -> None:
    """Fails with the kernel's name, the dtype and NVRTC's log unless it compiles."""
    log = nvrtc_log(spec, dtype)
    if log is not None:
        pytest.fail(f"CuPy kernel {spec.kernel_name} ({np.dtype(dtype).name}) does not "
                    f"compile with NVRTC:\n{log}", pytrace=False)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_every_kernel_compiles_with_nvrtc(name, dtype):
    check_compiles(ALL_SPECS[name], dtype)


def test_the_generated_source_is_the_launch_form():
    """Scalars are plain values of the buffer type, buffers rank-1 ``CArray``s read through
    the indexer, raw arrays at their launch rank, typed scalars (``int32``) as declared; an
    optimizer's per-step scalar (the learning rate) is a float64 array read by pointer and
    rounded to the buffer type."""
    src = cuda_source(SPECS["sgd"], np.float32)
    assert "typedef float T;" in src and "#include <cupy/carray.cuh>" in src
    sig = re.sub(r"\s+", " ", src[src.index("gpunet_sgd("):src.index(")")])
    assert sig == ("gpunet_sgd(const CArray<float, 1, 1, 1> _raw_g, "
                   "const CArray<double, 1, 1, 1> lr_, "
                   "CArray<float, 1, 1, 1> _raw_w, CIndexer<1, 1> _ind")
    assert "const T &g = _raw_g[_ind.get()];" in src and "T &w = _raw_w[_ind.get()];" in src
    assert "T lr = T(lr_[0]);" in src
    src = cuda_source(SPECS["sgd_momentum"], np.float64)
    assert "const double mu" in src and "const CArray<double, 1, 1, 1> lr_" in src
    src = cuda_source(ALL_SPECS["gru_step_fwd"], np.float64)
    assert "typedef double T;" in src
    for decl in ("const CArray<double, 2, 1, 1> rec", "const CArray<double, 1, 1, 1> bh",
                 "const CArray<bool, 1, 1, 1> mk", "const int u", "CArray<double, 2, 1, 1> z"):
        assert decl in src, decl


BROKEN = [
    ("an undefined name", KernelSpec("broken_name", "T g, T lr", "T w", "w -= lr * gg;",
                                     scalars=("lr",)), 'identifier "gg" is undefined'),
    ("a missing operand", KernelSpec("broken_syntax", "T g, T lr", "T w", "w -= lr * ;",
                                     scalars=("lr",)), "expected an expression"),
    ("a scalar indexed as an array",
     KernelSpec("broken_type", "raw T z, int32 u", "raw T h", "h[i] = z[i] + u[i];",
                scalars=("u",), group="layer"), "expression must have pointer-to-object type"),
]


@pytest.mark.parametrize("what,spec,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_kernel_body_fails_with_its_name_and_the_nvrtc_log(what, spec, message):
    with pytest.raises(pytest.fail.Exception) as err:
        check_compiles(spec, np.float32)
    text = str(err.value)
    assert f"CuPy kernel gpunet_{spec.name} (float32) does not compile" in text
    assert message in text, text


@pytest.mark.gpu
def test_the_generated_code_is_what_cupy_compiles_on_a_gpu():
    """On a GPU, CuPy's own record of the code it compiled at launch equals ``kernel_code``."""
    from gpunet import backend as B

    b = B.backend_for("gpu")
    xp = b.xp
    w, g = xp.ones(5, xp.float32), xp.ones(5, xp.float32)
    sgd = b.kernel("sgd", SPECS["sgd"].build)
    sgd(g, np.float32(0.5), w)
    assert sgd.cached_code == kernel_code(SPECS["sgd"], np.float32)
    n, u = 2, 3
    z, r = xp.zeros((n, 4 * u)), xp.zeros((n, 4 * u))
    c0, h0, c1, tc, h1 = xp.ones((n, u)), *(xp.zeros((n, u)) for _ in range(4))
    fwd, _ = b.lstm_step_kernels()
    fwd(r, c0, h0, xp.ones((1,), bool), u, 0, z, c1, tc, h1, size=n * u)
    assert fwd.cached_code == kernel_code(ALL_SPECS["lstm_step_fwd"], np.float64)
    np.testing.assert_allclose(b.to_numpy(h1), np.full((n, u), 0.5 * np.tanh(0.5)))


def test_every_cupy_kernel_in_the_package_is_a_spec():
    """Kernels are built only from ``KernelSpec`` (``_spec.py``), so ``ALL_SPECS`` is every
    kernel gpunet launches and the compile test above misses none."""
    root = pathlib.Path(gpunet.__file__).parent
    pattern = re.compile(r"\b(ElementwiseKernel|RawKernel|ReductionKernel|RawModule|fuse)\s*\(")
    found = {str(p.relative_to(root)) for p in root.rglob("*.py")
             if pattern.search(p.read_text(encoding="utf-8"))}
    assert found == {"backend/kernels/_spec.py"}, found


def test_specs_name_their_scalars_and_ranks():
    for spec in ALL_SPECS.values():
        ins = [p.split()[-1] for p in spec.in_params.split(",")]
        assert set(spec.scalars) <= set(ins), spec.name
    assert ALL_SPECS["lstm_step_bwd"].ndim_of("mk") == 1
    assert ALL_SPECS["lstm_step_bwd"].ndim_of("dz") == 2
    assert SPECS["adam"].scalars == ("b1", "b2", "eps")  # alpha: a pointer (raw float64)
    assert "raw float64 alpha_" in SPECS["adam"].in_params
    with pytest.raises(ValueError, match="'nope'.*not parameters"):
        define("bad_scalars", "T g", "T w", "w = g;", scalars=("nope",))
    with pytest.raises(ValueError, match="'adam' is defined twice"):
        define("adam", "T g", "T w", "w = g;")
    assert "bad_scalars" not in ALL_SPECS


def _schedules():
    s = gpunet.optimizers.schedules
    return [s.ExponentialDecay(0.1, 7, 0.6, staircase=True), s.InverseTimeDecay(0.2, 3, 0.7),
            s.PiecewiseConstantDecay([4, 9], [0.5, 0.2, 0.1]),
            s.PolynomialDecay(0.1, 6, cycle=True), s.PolynomialDecay(0.1, 6, power=0.5),
            s.CosineDecay(0.1, 20, alpha=0.05),
            s.CosineDecay(0.0, 12, warmup_target=0.1, warmup_steps=5),
            s.CosineDecayRestarts(0.1, 5), s.CosineDecayRestarts(0.1, 4, t_mul=1.0, m_mul=0.5)]


@pytest.mark.parametrize("schedule", _schedules(),
                         ids=lambda s: f"{type(s).__name__}")
def test_traced_schedule_kernels_compile_with_nvrtc(schedule):
    """A device optimizer's learning-rate schedule is a kernel traced from the schedule's
    formula (``gpunet.optimizers.traced``): not in ``ALL_SPECS``, so compiled here."""
    from gpunet.optimizers.traced import schedule_spec

    spec = schedule_spec(schedule)
    assert spec is not None and spec.name not in ALL_SPECS
    check_compiles(spec, np.float64)
