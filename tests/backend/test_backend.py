"""Backend selection (GPUNET_BACKEND), device contexts, backend_of, numeric settings, RNG."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import types

import numpy as np
import pytest

import gpunet
from gpunet import backend as B
from gpunet.autograd import Tensor
from gpunet.backend import probe
from gpunet.backend.base import Backend

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(gpunet.__file__)))
_SCRIPT = """
import sys
import gpunet.backend as b
print("CUPY_IMPORTED" if "cupy" in sys.modules else "CUPY_NOT_IMPORTED")
try:
    print("OK", b.get_backend().name)
except Exception as e:
    print("ERR", type(e).__name__, e)
"""


def _run_with_env(values: dict) -> dict:
    """Runs the script once per GPUNET_BACKEND value (None = unset), all in parallel."""
    procs = {}
    for key, value in values.items():
        env = dict(os.environ)
        env.pop("GPUNET_BACKEND", None)
        if value is not None:
            env["GPUNET_BACKEND"] = value
        env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
        procs[key] = subprocess.Popen([sys.executable, "-c", _SCRIPT], env=env, cwd=_ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True)
    return {k: p.communicate(timeout=120)[0] for k, p in procs.items()}


def test_gpunet_backend_environment_variable():
    gpu = B.has_gpu()
    auto = "cupy" if gpu else "numpy"
    out = _run_with_env({"numpy": "numpy", "spaced": "  NumPy ", "cpu": "cpu", "unset": None,
                         "empty": "", "auto": "auto", "cupy": "cupy", "bad": "tensorflow"})
    for key in ("numpy", "spaced", "cpu"):
        assert "OK numpy" in out[key], out[key]
        assert "CUPY_NOT_IMPORTED" in out[key]  # importing gpunet never imports CuPy
    for key in ("unset", "empty", "auto"):
        assert f"OK {auto}" in out[key], out[key]
    if gpu:
        assert "OK cupy" in out["cupy"], out["cupy"]
    else:
        assert "ERR RuntimeError" in out["cupy"], out["cupy"]
        assert "CuPy backend was requested" in out["cupy"]
        assert "GPUNET_BACKEND=numpy" in out["cupy"]
    assert "ERR ValueError" in out["bad"], out["bad"]
    assert "GPUNET_BACKEND" in out["bad"] and "'tensorflow'" in out["bad"]


# -- the probe ------------------------------------------------------------------------------------


@pytest.fixture
def fresh_probe():
    probe.cupy_status.cache_clear()
    yield
    probe.cupy_status.cache_clear()


def test_probe_reports_a_missing_cupy(monkeypatch, fresh_probe):
    monkeypatch.setitem(sys.modules, "cupy", None)  # "import cupy" raises ImportError
    ok, reason = probe.cupy_status()
    assert not ok and "not importable" in reason
    assert probe.has_gpu() is False


def _raise(exc):
    def f(*args, **kwargs):
        raise exc

    return f


def test_probe_never_raises_when_cuda_fails(monkeypatch, fresh_probe):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(is_available=_raise(RuntimeError("driver too old")))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    ok, reason = probe.cupy_status()
    assert not ok and "driver too old" in reason
    probe.cupy_status.cache_clear()
    fake.cuda = types.SimpleNamespace(is_available=lambda: True)
    fake.float32 = np.float32
    fake.arange = _raise(OSError("libnvrtc.so not found"))  # fails at the first allocation
    ok, reason = probe.cupy_status()
    assert not ok and "libnvrtc" in reason and "OSError" in reason
    probe.cupy_status.cache_clear()
    fake.cuda = types.SimpleNamespace(is_available=lambda: False)
    assert probe.cupy_status() == (False, "CuPy is installed but no CUDA device is available")


# -- backend objects -------------------------------------------------------------------------------


def test_backend_of():
    np_b = B.numpy_backend()
    assert B.backend_of(np.zeros(3)) is np_b
    assert B.backend_of(Tensor(np.zeros(3))) is np_b
    assert B.backend_of([1, 2]) is np_b and B.backend_of(3.0) is np_b
    assert B.backend_of(np.float32(1)) is np_b
    assert B.backend_for("cpu") is np_b and B.backend_for("numpy") is np_b
    assert B.backend_for(np_b) is np_b


class _FakeBackend(Backend):
    name = "fake"
    device = "fake:0"


def test_device_contexts_nest_and_restore():
    outer = B.get_backend()
    fake = _FakeBackend()
    with B.device("cpu") as cpu:
        assert cpu is B.numpy_backend() and B.get_backend() is cpu
        with B.device(fake) as inner:
            assert inner is fake and B.get_backend() is fake
            with B.device("numpy"):
                assert B.get_backend() is cpu
            assert B.get_backend() is fake
        assert B.get_backend() is cpu
        with pytest.raises(KeyError), B.device(fake):
            raise KeyError
        assert B.get_backend() is cpu
    assert B.get_backend() is outer


def test_device_context_is_per_thread():
    seen = []
    with B.device(_FakeBackend()):
        t = threading.Thread(target=lambda: seen.append(B.get_backend()))
        t.start()
        t.join()
    assert seen[0].name != "fake"


def test_bad_device_names():
    with pytest.raises(ValueError, match="'tpu'"):
        B.backend_for("tpu")
    with pytest.raises(ValueError, match="gpu:x"):
        B.backend_for("gpu:x")
    with pytest.raises(ValueError), B.device("bogus"):
        pass
    if not B.has_gpu():
        for name in ("gpu", "cupy", "gpu:1", "cuda:0"):
            with pytest.raises(RuntimeError, match="CuPy backend was requested"):
                B.backend_for(name)


def test_set_backend(monkeypatch):
    monkeypatch.setattr(B, "_default", None)
    assert B.set_backend("numpy") is B.numpy_backend()
    assert B.get_backend() is B.numpy_backend()
    with pytest.raises(ValueError):
        B.set_backend("jax")
    assert B.available_backends() == (["numpy", "cupy"] if B.has_gpu() else ["numpy"])


# -- numeric settings -----------------------------------------------------------------------------


def test_floatx():
    from gpunet.layers import Dense

    assert B.floatx() == "float32"
    try:
        B.set_floatx("float64")
        assert B.floatx() == "float64"
        layer = Dense(2)
        layer(np.ones((1, 3)))
        assert layer.kernel.dtype == np.float64 and layer.dtype == "float64"
        with pytest.raises(ValueError, match="'float8'"):
            B.set_floatx("float8")
        assert B.floatx() == "float64"
    finally:
        B.set_floatx("float32")


def test_epsilon():
    from gpunet.constraints import UnitNorm

    assert B.epsilon() == 1e-7
    try:
        B.set_epsilon(1.0)
        assert B.epsilon() == 1.0
        np.testing.assert_allclose(UnitNorm()(np.array([3.0, 4.0])), [0.5, 4 / 6])
    finally:
        B.set_epsilon(1e-7)


def test_image_data_format():
    assert B.image_data_format() == "channels_last"
    with pytest.raises(ValueError, match="'nhwc'"):
        B.set_image_data_format("nhwc")
    assert B.image_data_format() == "channels_last"


# -- the NumPy backend -----------------------------------------------------------------------------


def test_numpy_backend_arrays_and_rng():
    b = B.numpy_backend()
    assert b.name == "numpy" and b.device == "cpu" and b.xp is np
    a = b.asarray([1, 2], dtype="float32")
    assert a.dtype == np.float32 and b.is_array(a) and not b.is_array([1])
    assert isinstance(b.to_numpy(a), np.ndarray)
    b.synchronize()
    b.seed(9)
    u, p = b.random_uniform((1000,), "float64"), b.permutation(10)
    b.seed(9)
    np.testing.assert_array_equal(u, b.random_uniform((1000,), "float64"))
    np.testing.assert_array_equal(p, b.permutation(10))
    assert u.dtype == np.float64 and 0 <= u.min() and u.max() < 1
    assert b.random_uniform((3,)).dtype == np.float32
    assert sorted(p) == list(range(10))
    np.testing.assert_array_equal(b.relu_grad(np.array([1.0, 2.0, 3.0]),
                                              np.array([0.0, 5.0, -1.0])), [0.0, 2.0, 0.0])
    assert "numpy" in repr(b)


def test_set_random_seed_seeds_the_backend_generators():
    gpunet.utils.set_random_seed(77)
    a = B.numpy_backend().random_uniform((5,))
    gpunet.utils.set_random_seed(77)
    np.testing.assert_array_equal(a, B.numpy_backend().random_uniform((5,)))
    with pytest.raises(ValueError, match="seed"):
        gpunet.utils.set_random_seed(1.5)
