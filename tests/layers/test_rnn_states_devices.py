"""``reset_states`` takes states from any device (NumPy, CuPy, Tensors) and keeps them on the
layer's device; ``backend.device("gpu:<id>")`` makes that GPU current."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import backend as B
from gpunet import layers


def _stateful_lstm():
    return gpunet.Sequential([layers.Input(batch_shape=(2, 3, 4)),
                              layers.LSTM(5, stateful=True)])


def test_reset_states_accepts_host_arrays_and_tensors(backend):
    model = _stateful_lstm()
    lstm = model.layers[0]
    h = np.full((2, 5), 0.5, "float32")
    c = gpunet.Tensor(backend.asarray(np.full((2, 5), -1.0, "float32")))
    lstm.reset_states([h, c])
    assert all(backend.is_array(s) for s in lstm.states)
    np.testing.assert_array_equal(backend.to_numpy(lstm.states[0]), h)
    np.testing.assert_array_equal(backend.to_numpy(lstm.states[1]), -np.ones((2, 5)))
    with pytest.raises(ValueError, match="expects 2 state arrays"):
        lstm.reset_states([h])


@pytest.mark.gpu
def test_reset_states_moves_gpu_states_to_a_cpu_layer():
    gpu = B.backend_for("gpu")
    with B.device("cpu"):
        model = _stateful_lstm()
    states = [gpu.asarray(np.ones((2, 5), "float32")) for _ in range(2)]
    model.layers[0].reset_states(states)
    assert all(isinstance(s, np.ndarray) for s in model.layers[0].states)


@pytest.mark.gpu
def test_device_context_makes_the_gpu_current():
    import cupy

    n = cupy.cuda.runtime.getDeviceCount()
    with B.device(f"gpu:{n - 1}"):
        assert cupy.cuda.runtime.getDevice() == n - 1
        assert int(cupy.zeros(1).device.id) == n - 1
