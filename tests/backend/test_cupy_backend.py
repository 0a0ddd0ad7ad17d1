"""The CuPy backend: importable without a GPU, a clear answer from the probe, GPU behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import backend as B
from gpunet.autograd import Tensor
from gpunet.backend.base import Backend

cupy = pytest.importorskip("cupy")


def test_cupy_backend_module_imports_without_a_gpu():
    from gpunet.backend import cupy_backend

    assert issubclass(cupy_backend.CupyBackend, Backend)
    assert cupy_backend.CupyBackend.name == "cupy"


def test_probe_answers_without_crashing():
    ok, reason = B.probe.cupy_status()
    assert isinstance(ok, bool) and isinstance(reason, str) and reason
    assert B.has_gpu() is ok
    if ok:
        assert reason == "ok"
    else:
        assert "CUDA" in reason or "CuPy" in reason
        with pytest.raises(RuntimeError, match="CuPy backend was requested"):
            B.backend_for("gpu")


@pytest.mark.gpu
def test_cupy_arrays_round_trip():
    b = B.backend_for("gpu")
    assert b.name == "cupy" and b.device == "gpu:0" and b.xp is cupy
    a = b.asarray(np.arange(6.0).reshape(2, 3), dtype="float32")
    assert isinstance(a, cupy.ndarray) and a.dtype == np.float32 and b.is_array(a)
    back = b.to_numpy(a)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, np.arange(6.0).reshape(2, 3))
    assert B.backend_of(a) is b and B.backend_of(Tensor(a)) is b
    host = B.numpy_backend().asarray(a)  # explicit device-to-host copy
    assert isinstance(host, np.ndarray)
    b.synchronize()


@pytest.mark.gpu
def test_cupy_rng_is_seeded_and_relu_grad_kernel_matches_numpy():
    b = B.backend_for("gpu")
    b.seed(5)
    u = b.to_numpy(b.random_uniform((100,), "float32"))
    b.seed(5)
    np.testing.assert_array_equal(u, b.to_numpy(b.random_uniform((100,), "float32")))
    assert 0 <= u.min() and u.max() < 1
    assert sorted(b.to_numpy(b.permutation(7))) == list(range(7))
    gy, y = np.array([1.0, 2.0, 3.0], "float32"), np.array([0.0, 5.0, -1.0], "float32")
    np.testing.assert_array_equal(b.to_numpy(b.relu_grad(b.asarray(gy), b.asarray(y))),
                                  [0.0, 2.0, 0.0])
    assert b.kernel("relu_grad", None) is b.kernel("relu_grad", None)  # cached


@pytest.mark.gpu
def test_device_context_selects_the_gpu():
    with B.device("gpu") as b:
        assert B.get_backend() is b
        with B.device("cpu"):
            assert B.get_backend() is B.numpy_backend()
        assert B.get_backend() is b
