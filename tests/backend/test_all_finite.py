"""``Backend.all_finite``: the NaN guard's check. Any NaN, +Inf or -Inf, in any position and
in float16/32/64, makes it False; finite values never do (the largest finite values, whose
squares overflow, subnormals, -0.0). Reference: ``numpy.isfinite(x).all()``."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet.backend.kernels import numba_cpu

FLOATS = ["float16", "float32", "float64"]
BAD = [np.nan, np.inf, -np.inf]


def _paths():
    """The Numba kernel (where installed) and the pure-NumPy form."""
    return [pytest.param("1", id="numba"), pytest.param("0", id="numpy")]


@pytest.fixture(params=_paths())
def numba_flag(request, monkeypatch):
    if request.param == "1":
        pytest.importorskip("numba")
    monkeypatch.setenv("GPUNET_NUMBA", request.param)
    return request.param


def _check(backend, a) -> bool:
    return bool(backend.to_numpy(backend.all_finite(backend.asarray(a))))


@pytest.mark.parametrize("dtype", FLOATS)
def test_every_position_of_nan_and_inf_is_found(backend, numba_flag, dtype):
    n = 67  # a vector loop's body and an odd tail
    base = np.linspace(-3, 3, n).astype(dtype)
    assert _check(backend, base) is True
    for bad in BAD:
        for i in range(n):
            a = base.copy()
            a[i] = bad
            assert _check(backend, a) is False, (dtype, bad, i)


@pytest.mark.parametrize("dtype", FLOATS)
def test_large_finite_values_are_never_a_false_positive(backend, numba_flag, dtype):
    info = np.finfo(dtype)
    a = np.array([info.max, -info.max, info.tiny, info.smallest_subnormal, -0.0, 0.0,
                  info.max / 3] * 11, dtype=dtype)
    with np.errstate(over="ignore"):
        assert np.isfinite(a).all() and not np.isfinite(a * a).all()  # squares overflow
    assert _check(backend, a) is True


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("where", [0, "middle", -1])
def test_threaded_check_of_a_large_buffer(numba_flag, monkeypatch, dtype, where):
    monkeypatch.setattr(numba_cpu, "FINITE_BLOCK", 1000)  # split over the CPU threads
    a = np.random.default_rng(0).standard_normal(10_001).astype(dtype)
    assert numba_cpu.all_finite(a) is True
    i = a.size // 2 if where == "middle" else where
    for bad in BAD:
        b = a.copy()
        b[i] = bad
        assert numba_cpu.all_finite(b) is False


def test_shapes_layouts_and_non_float_dtypes(numba_flag):
    a = np.ones((6, 5), "float32")
    a[4, 3] = np.inf
    assert numba_cpu.all_finite(a) is False            # 2-D, contiguous
    assert numba_cpu.all_finite(a[:, :3]) is True      # a strided view without the Inf
    assert numba_cpu.all_finite(a[:, 3]) is False      # a strided view with it
    assert numba_cpu.all_finite(a.T) is False          # Fortran order
    assert numba_cpu.all_finite(np.float32(np.nan).reshape(())) is False
    assert numba_cpu.all_finite(np.empty(0, "float64")) is True
    assert numba_cpu.all_finite(np.arange(10)) is True
    assert numba_cpu.all_finite(np.ones(3, bool)) is True
    assert numba_cpu.all_finite(np.array([1 + 1j, complex(0, np.inf)])) is False


def test_the_numpy_backend_answers_a_python_bool(backend):
    out = backend.all_finite(backend.asarray(np.ones(4, "float32")))
    if backend.name == "numpy":
        assert out is True
    else:  # on a GPU a 0-d device array: no host read
        assert out.shape == () and bool(backend.to_numpy(out))
