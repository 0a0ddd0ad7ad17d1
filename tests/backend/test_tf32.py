"""The explicit TF32 option: off by default, CuPy's float32 compute type when on, a warning
where no GPU can use it (TensorFlow's names and example)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpunet
from gpunet.backend import tf32


@pytest.fixture(autouse=True)
def _restore():
    yield
    tf32._STATE["enabled"] = False


def test_off_by_default_and_a_bool_only():
    assert gpunet.config.tensor_float_32_execution_enabled() is False
    with pytest.raises(TypeError, match="`enabled` must be a bool"):
        gpunet.config.enable_tensor_float_32_execution(1)


def test_without_a_gpu_it_says_it_has_no_effect(monkeypatch):
    monkeypatch.setattr(tf32, "cupy_status", lambda: (False, "no CUDA device"))
    with pytest.warns(UserWarning, match=r"no effect on the CPU .*no CUDA device"):
        gpunet.config.enable_tensor_float_32_execution(True)
    assert gpunet.config.tensor_float_32_execution_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpunet.config.enable_tensor_float_32_execution(False)  # turning it off: silent


def test_with_a_gpu_it_sets_cupys_float32_compute_type(monkeypatch):
    cp = pytest.importorskip("cupy")
    from cupy._core import _routines_linalg as linalg

    calls = []
    monkeypatch.setattr(tf32, "cupy_status", lambda: (True, ""))
    monkeypatch.setattr(linalg, "set_compute_type", lambda dt, kind: calls.append((dt, kind)))
    gpunet.config.enable_tensor_float_32_execution(True)
    gpunet.config.enable_tensor_float_32_execution(False)
    assert calls == [(cp.float32, linalg.COMPUTE_TYPE_TF32),
                     (cp.float32, linalg.COMPUTE_TYPE_DEFAULT)]


@pytest.mark.gpu
def test_tf32_rounds_the_inputs_of_a_product_on_ampere_and_later():
    cp = pytest.importorskip("cupy")
    if cp.cuda.Device().compute_capability < "80":
        pytest.skip("TF32 needs compute capability 8.0 or later")
    x = cp.full((1024, 1024), 1.0001, cp.float32)
    y = cp.ones((1024, 1024), cp.float32)
    exact = float((x @ y)[0, 0])
    gpunet.config.enable_tensor_float_32_execution(True)
    try:
        fast = float((x @ y)[0, 0])
    finally:
        gpunet.config.enable_tensor_float_32_execution(False)
    np.testing.assert_allclose(exact, 1024.1, rtol=1e-5)
    assert fast == 1024.0  # 1.0001 rounds to 1.0 in TF32's 10-bit mantissa
