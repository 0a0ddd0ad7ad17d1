"""Every op runs on its input's device once a second GPU is in use (issue: arrays made by an
op landed on device 0 whatever its inputs' device)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import gpunet
from gpunet import backend as B
from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor

CURRENT = []  # the device made current by the fake backend, innermost last


class _FakeDevice:
    id = 1


class FakeGpuArray(np.ndarray):
    """A NumPy array that ``backend_of`` takes for a CuPy array on GPU 1."""

    __module__ = "cupy_fake"
    __cuda_array_interface__ = {}

    @property
    def device(self):
        return _FakeDevice()


class _FakeBackend:
    @contextlib.contextmanager
    def activate(self):
        CURRENT.append(1)
        try:
            yield
        finally:
            CURRENT.pop()


class Probe(Function):
    def forward(self, x):
        self.seen = list(CURRENT)
        return np.asarray(x) * 2


@pytest.fixture
def gpu1(monkeypatch):
    monkeypatch.setitem(B._CUPY, 1, _FakeBackend())
    monkeypatch.setattr(B.DEVICES, "several", True)


def test_an_op_on_a_second_gpu_runs_with_that_device_current(gpu1):
    x = np.ones(3, "float32").view(FakeGpuArray)
    f = Probe()
    f(Tensor(x))
    assert f.seen == [1] and CURRENT == []
    g = Probe()
    g(Tensor(np.ones(3, "float32")))  # host inputs: nothing made current
    assert g.seen == []


def test_one_device_processes_do_not_enter_any_device(monkeypatch):
    monkeypatch.setitem(B._CUPY, 1, _FakeBackend())
    assert not B.DEVICES.several
    f = Probe()
    f(Tensor(np.ones(3, "float32").view(FakeGpuArray)))
    assert f.seen == []


def test_a_backend_for_a_device_other_than_0_turns_it_on(monkeypatch):
    from gpunet.backend import cupy_backend

    class Dummy:
        def __init__(self, device_id):
            self.device_id = device_id

        def seed(self, s):
            pass

    monkeypatch.setattr(B, "cupy_status", lambda: (True, ""))
    monkeypatch.setattr(cupy_backend, "CupyBackend", Dummy)
    monkeypatch.setattr(B.DEVICES, "several", False)
    monkeypatch.setattr(B, "_CUPY", {})  # this test's backends, dropped afterwards
    B._cupy_backend(0)
    assert not B.DEVICES.several
    B._cupy_backend(3)
    assert B.DEVICES.several


@pytest.mark.gpu
def test_ops_on_gpu_1_keep_their_arrays_there():
    cp = pytest.importorskip("cupy")
    if cp.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    with gpunet.backend.device("gpu:1"):
        layer = gpunet.layers.Dense(4)
        x = gpunet.ops.ones((2, 3))
        y = layer(x)
    assert y.data.device.id == 1 and layer.kernel.data.device.id == 1
    (y * y).sum().backward()
    assert layer.kernel.grad.device.id == 1
