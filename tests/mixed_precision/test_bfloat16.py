"""``mixed_bfloat16``: on NumPy through ``ml_dtypes.bfloat16`` (inputs, variables and outputs
rounded to bfloat16, the kernels in float32 between them); a clear error without ml_dtypes
and on CuPy; never a LossScaleOptimizer (Keras 3 wraps only under mixed_float16)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd.tensor import Tensor
from gpunet.mixed_precision.bfloat16 import bfloat16_dtype

RNG = np.random.default_rng(11)


def test_cupy_is_refused_clearly():
    class FakeCupy:  # what the refusal reads of a device backend
        name = "cupy"
        is_host = False

    with pytest.raises(NotImplementedError, match="mixed_float16"):
        bfloat16_dtype(FakeCupy())


def test_missing_ml_dtypes_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # import ml_dtypes -> ImportError
    layer = layers.Dense(2, dtype="mixed_bfloat16")
    with pytest.raises(ImportError, match=r"ml_dtypes.*gpunet\[bfloat16\]"):
        layer(np.ones((1, 3), "float32"))


def _bf16(a, ml):
    return np.asarray(a, "float32").astype(ml.bfloat16)


def test_dense_rounds_to_bfloat16_and_grads_are_float32():
    ml = pytest.importorskip("ml_dtypes")
    b = gpunet.backend.backend_for("numpy")
    layer = layers.Dense(4, bias_initializer="glorot_uniform", dtype="mixed_bfloat16")
    x = RNG.normal(size=(3, 5)).astype("float32")
    y = layer(x)
    assert y.dtype == np.dtype(ml.bfloat16) and layer.kernel.dtype == np.float32
    k, bias = b.to_numpy(layer.kernel.data), b.to_numpy(layer.bias.data)
    ref = (_bf16(x, ml).astype("f4") @ _bf16(k, ml).astype("f4")
           + _bf16(bias, ml).astype("f4"))
    np.testing.assert_allclose(y.data.astype("f4"), _bf16(ref, ml).astype("f4"),
                               rtol=8e-3, atol=1e-6)
    gpunet.ops.sum(gpunet.ops.cast(y, "float32")).backward()
    assert layer.kernel.grad.dtype == np.float32
    np.testing.assert_allclose(layer.kernel.grad,
                               np.repeat(_bf16(x, ml).astype("f4").sum(0)[:, None], 4, 1),
                               rtol=1e-2)


def test_fit_under_mixed_bfloat16_without_loss_scaling():
    ml = pytest.importorskip("ml_dtypes")
    gpunet.mixed_precision.set_global_policy("mixed_bfloat16")
    gpunet.utils.set_random_seed(2)
    m = gpunet.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"),
                           layers.LayerNormalization(), layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    assert not isinstance(m.optimizer, gpunet.optimizers.LossScaleOptimizer)
    x = RNG.normal(size=(64, 6)).astype("float32")
    y = x[:, :1] * 2 - 1
    hist = m.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    out = m(Tensor(x[:4]))
    assert out.dtype == np.dtype(ml.bfloat16)
    assert m.predict(x[:4], verbose=0).dtype == np.dtype(ml.bfloat16)
    assert all(w.dtype == np.float32 for w in m.weights)
