"""Layer autocasting under a mixed policy, checked by hand: inputs and variables cast to the
compute dtype inside ``call``, gradients reaching the float32 variables, float32 inside the
normalization layers, float32 losses (Keras 3's rules: layers/layer.py, AutocastScope,
normalization layers, losses/loss.py)."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import layers, ops
from gpunet.autograd.gradcheck import check_grad
from gpunet.autograd.tensor import Tensor
from gpunet.autograd.variable import Variable

RNG = np.random.default_rng(3)
F16 = np.float16


def _x(backend, *shape, dtype="float32"):
    return Tensor(backend.asarray(RNG.normal(size=shape).astype(dtype)))


def _np(t, backend):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def test_dense_computes_in_float16_and_grads_reach_float32(backend):
    layer = layers.Dense(5, bias_initializer="glorot_uniform", dtype="mixed_float16")
    x = _x(backend, 4, 3)
    y = layer(x)
    assert isinstance(layer.kernel, Variable) and layer.kernel.dtype == np.float32
    assert y.dtype == np.float16
    k, b, xh = (_np(layer.kernel, backend), _np(layer.bias, backend), _np(x, backend))
    ref = xh.astype(F16) @ k.astype(F16) + b.astype(F16)  # every operand rounded to float16
    np.testing.assert_allclose(_np(y, backend).astype("f4"), ref.astype("f4"), rtol=2e-3,
                               atol=2e-3)
    gy = RNG.normal(size=(4, 5)).astype("float32")
    ops.sum(ops.cast(y, "float32") * backend.asarray(gy)).backward()
    assert layer.kernel.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32
    gk = xh.astype(F16).astype("f8").T @ gy.astype(F16).astype("f8")
    np.testing.assert_allclose(_np(layer.kernel.grad, backend), gk, rtol=5e-3, atol=5e-3)
    np.testing.assert_allclose(_np(layer.bias.grad, backend),
                               gy.astype(F16).astype("f8").sum(0), rtol=5e-3, atol=5e-3)


def test_inputs_autocast_as_keras(backend):
    layer = layers.Activation("linear", dtype="mixed_float16")
    assert layer(_x(backend, 2, 3)).dtype == np.float16
    assert layer(_x(backend, 2, 3, dtype="float64")).dtype == np.float16
    assert layer(RNG.normal(size=(2, 3))).dtype == np.float16  # a NumPy array
    ints = Tensor(backend.asarray(np.arange(6).reshape(2, 3)))
    assert layer(ints).dtype.kind == "i"  # only floating inputs are cast
    off = layers.Activation("linear", dtype="mixed_float16", autocast=False)
    raw = layers.Lambda(lambda t: t)
    seen = {}

    class Probe(layers.Layer):
        def call(self, a, b=None):
            seen["a"], seen["b"] = a.dtype, b.dtype
            return a

    Probe(dtype="mixed_float16")(_x(backend, 2, 3), b=_x(backend, 2, 3))
    assert seen == {"a": np.float16, "b": np.float16}  # keyword tensors too
    assert raw(_x(backend, 2, 3)).dtype == np.float32
    assert off(_x(backend, 2, 3)).dtype == np.float16  # outputs still in the compute dtype


def test_float32_layer_after_mixed_layer_gives_float32(backend):
    dense = layers.Dense(4, dtype="mixed_float16")
    soft = layers.Activation("softmax", dtype="float32")
    x = _x(backend, 3, 2)
    h = dense(x)
    y = soft(h)
    assert h.dtype == np.float16 and y.dtype == np.float32
    ref = _np(h, backend).astype("f4")
    ref = np.exp(ref - ref.max(-1, keepdims=True))
    np.testing.assert_allclose(_np(y, backend), ref / ref.sum(-1, keepdims=True), rtol=1e-6)
    ops.sum(y * backend.asarray(np.arange(4, dtype="float32"))).backward()
    assert dense.kernel.grad.dtype == np.float32
    assert np.all(np.isfinite(_np(dense.kernel.grad, backend)))


def test_variables_put_back_after_call_and_after_error(backend):
    class Boom(layers.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1],), initializer="ones")

        def call(self, x):
            assert self.w.dtype == np.float16 and not isinstance(self.w, Variable)
            raise RuntimeError("boom")

    layer = Boom(dtype="mixed_float16")
    with pytest.raises(RuntimeError, match="boom"):
        layer(_x(backend, 2, 3))
    assert isinstance(layer.w, Variable) and layer.w.dtype == np.float32
    assert layer.weights == [layer.w]


def test_add_weight_autocast_false_and_nested_policies(backend):
    seen = {}

    class Inner(layers.Layer):
        def build(self, shape):
            self.v = self.add_weight(shape=(shape[-1],), initializer="ones")

        def call(self, x):
            seen[self.name] = (x.dtype, self.v.dtype)
            return x * self.v

    class Outer(layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.same = Inner(name="same", dtype="mixed_float16")
            self.f32 = Inner(name="f32", dtype="float32")

        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1],), initializer="ones")
            self.keep = self.add_weight(shape=(shape[-1],), initializer="ones", autocast=False)
            self.listed = [self.add_weight(name="l", shape=(1,), initializer="ones")]
            self.free = Variable(initializer="ones", shape=(1,), dtype="float32", name="free",
                                 autocast=False)

        def call(self, x):
            seen["outer"] = (self.w.dtype, self.keep.dtype, self.listed[0].dtype,
                             self.free.dtype)
            return self.f32(self.same(x))

    layer = Outer(dtype="mixed_float16")
    y = layer(_x(backend, 2, 3))
    assert seen["outer"] == (np.float16, np.float32, np.float16, np.float32)
    assert seen["same"] == (np.float16, np.float16)
    assert seen["f32"] == (np.float32, np.float32)  # its own policy: float32 variables
    assert y.dtype == np.float16  # the outer layer's outputs in its compute dtype
    ops.sum(ops.cast(y, "float32")).backward()
    for v in layer.weights:
        assert isinstance(v, Variable) and v.dtype == np.float32
    assert layer.same.v.grad is not None and layer.same.v.grad.dtype == np.float32


def test_batch_normalization_float32_inside(backend):
    bn = layers.BatchNormalization(dtype="mixed_float16")
    x = _x(backend, 8, 3) * 3 + 1
    y = bn(x, training=True)
    assert y.dtype == np.float16
    assert bn.moving_mean.dtype == np.float32 and bn.gamma.dtype == np.float32
    xh = _np(x, backend).astype(F16).astype("f4")  # Keras casts to float16, then to float32
    mean, var = xh.mean(0), xh.var(0)
    ref = (xh - mean) / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(_np(y, backend).astype("f4"), ref, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(_np(bn.moving_mean, backend), 0.01 * mean, rtol=1e-5)
    ops.sum(ops.cast(y, "float32") * backend.asarray(xh)).backward()
    assert bn.gamma.grad.dtype == np.float32


def test_layer_normalization_float32_inside(backend):
    ln = layers.LayerNormalization(dtype="mixed_float16")
    x = _x(backend, 4, 6)  # float32 input: not cast to float16 first (autocast=False)
    y = ln(x)
    assert y.dtype == np.float16 and ln.gamma.dtype == np.float32
    xh = _np(x, backend).astype("f8")
    ref = (xh - xh.mean(-1, keepdims=True)) / np.sqrt(xh.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(_np(y, backend).astype("f8"), ref.astype(F16), rtol=1e-3,
                               atol=1e-3)


def test_embedding_returns_compute_dtype(backend):
    emb = layers.Embedding(10, 4, dtype="mixed_float16")
    ids = np.array([[1, 2], [3, 9]])
    y = emb(ids)
    assert y.dtype == np.float16 and emb.embeddings.dtype == np.float32
    np.testing.assert_array_equal(_np(y, backend),
                                  _np(emb.embeddings, backend)[ids].astype(F16))
    ops.sum(ops.cast(y, "float32")).backward()
    assert emb.embeddings.grad.dtype == np.float32


def test_loss_computed_in_float32(backend):
    y_true = backend.asarray(np.array([[0.0, 1.0], [1.0, 0.0]], "float32"))
    logits = Tensor(backend.asarray(np.array([[0.2, 0.7], [0.9, 0.3]], "float16")),
                    requires_grad=True)
    loss = gpunet.losses.MeanSquaredError()(y_true, logits)
    assert loss.dtype == np.float32
    p = _np(logits, backend).astype("f4")
    assert float(loss.data) == pytest.approx(float(((p - [[0, 1], [1, 0]]) ** 2).mean()),
                                             rel=1e-6)
    loss.backward()
    assert logits.grad.dtype == np.float16
    wide = gpunet.losses.MeanSquaredError(dtype="float64")(y_true, logits)
    assert wide.dtype == np.float64  # an explicit dtype takes effect


def test_cast_gradient_float64():
    # the cast every autocast goes through (ops.cast): its backward casts the gradient back.
    # A step of 1e-3 spans many float32 (1e-7) and float16 (spacing at most 2**-5 below 32) units.
    check_grad(lambda x: ops.cast(ops.cast(x, "float32"), "float64") * x,
               [RNG.normal(size=(3, 4))], eps=1e-3, atol=1e-3, rtol=1e-3)
    check_grad(lambda x: ops.cast(ops.cast(x, "float16"), "float64") * 3.0,
               [np.clip(RNG.normal(size=(3, 4)), -3, 3) * 10], eps=1.0, atol=2e-2, rtol=2e-2)


def test_metrics_compute_in_float32(backend):
    # Keras 3's metrics convert y_pred to their dtype (float32): 300**2 / 2 overflows float16
    m = gpunet.metrics.MeanSquaredError()
    m.update_state(backend.asarray(np.array([[300.0, 0.0]], "float32")),
                   backend.asarray(np.array([[0.0, 0.0]], "float16")))
    assert float(m.result()) == 45000.0
    gpunet.mixed_precision.set_global_policy("mixed_float16")
    model = gpunet.Sequential([layers.Input((2,)), layers.Dense(2, kernel_initializer="zeros")])
    model.compile(optimizer="sgd", loss="mae", metrics=["mse"])
    logs = model.evaluate(np.ones((4, 2), "float32"), np.full((4, 2), 300.0, "float32"),
                          verbose=0, return_dict=True)
    assert logs["mse"] == pytest.approx(90000.0) and logs["loss"] == pytest.approx(300.0)
