"""fit / evaluate / predict / save / load under mixed precision with the common layers, and
when ``compile`` wraps the optimizer in a LossScaleOptimizer (Keras 3's trainer.compile:
exactly when ``auto_scale_loss`` and the model's policy is ``"mixed_float16"``)."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.mixed_precision import set_global_policy
from gpunet.optimizers import SGD, Adam, LossScaleOptimizer

RNG = np.random.default_rng(5)


def _dense_model():
    return gpunet.Sequential([layers.Input((4,)), layers.Dense(3)])


@pytest.mark.parametrize("policy,auto,wrapped", [
    ("mixed_float16", True, True), ("mixed_float16", False, False),
    ("mixed_bfloat16", True, False), ("float32", True, False)])
def test_compile_wraps_exactly_as_keras(policy, auto, wrapped):
    set_global_policy(policy)
    m = _dense_model()
    m.compile(optimizer=Adam(1e-3), loss="mse", auto_scale_loss=auto)
    assert isinstance(m.optimizer, LossScaleOptimizer) is wrapped
    if wrapped:
        assert m.optimizer.name == "loss_scale_optimizer"
        assert isinstance(m.optimizer.inner_optimizer, Adam)


def test_compile_keeps_a_given_loss_scale_optimizer_and_string_optimizers():
    set_global_policy("mixed_float16")
    m = _dense_model()
    lso = LossScaleOptimizer(SGD(0.1), initial_scale=8.0)
    m.compile(optimizer=lso, loss="mse")
    assert m.optimizer is lso
    m.compile(optimizer="adam", loss="mse")
    assert isinstance(m.optimizer, LossScaleOptimizer)
    assert isinstance(m.optimizer.inner_optimizer, Adam)
    set_global_policy("float32")
    m32 = gpunet.Sequential([layers.Input((4,)), layers.Dense(3, dtype="mixed_float16")])
    m32.compile(optimizer="adam", loss="mse")  # the model's policy decides, not its layers'
    assert not isinstance(m32.optimizer, LossScaleOptimizer)


SEQ = (16, 6)
MODELS = {  # made under the mixed policy inside the test
    "dense": ((8,), lambda: [layers.Dense(16, activation="relu"), layers.Dropout(0.2),
                             layers.BatchNormalization(), layers.Dense(3)]),
    "conv2d": ((8, 8, 2), lambda: [layers.Conv2D(4, 3, padding="same", activation="relu"),
                                   layers.MaxPooling2D(), layers.BatchNormalization(),
                                   layers.AveragePooling2D(), layers.Flatten(),
                                   layers.Dense(3)]),
    "conv1d": (SEQ, lambda: [layers.Conv1D(4, 3, activation="relu"), layers.MaxPooling1D(),
                             layers.LayerNormalization(), layers.GlobalAveragePooling1D(),
                             layers.Dense(3)]),
    "lstm": (SEQ, lambda: [layers.LSTM(5, return_sequences=True), layers.GRU(4),
                           layers.Dense(3)]),
    "embedding": ((7,), lambda: [layers.Embedding(20, 6, mask_zero=True), layers.LSTM(4),
                                 layers.Dense(3)]),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_evaluate_predict_save_load(backend, tmp_path, name):
    set_global_policy("mixed_float16")
    shape, make = MODELS[name]
    gpunet.utils.set_random_seed(1)
    n = 64
    if name == "embedding":
        x = RNG.integers(1, 20, size=(n,) + shape)
        x[:, :2] = 0
    else:
        x = RNG.normal(size=(n,) + shape).astype("float32")
    y = RNG.integers(0, 3, size=(n,))
    with gpunet.backend.device(backend):
        m = gpunet.Sequential([layers.Input(shape, dtype="int32" if name == "embedding" else
                                            None)] + make() + [
            layers.Activation("softmax", dtype="float32")])
    m.compile(optimizer=Adam(1e-2), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    assert isinstance(m.optimizer, LossScaleOptimizer)
    hist = m.fit(x, y, batch_size=16, epochs=4, verbose=0)
    losses = hist.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert 0.0 <= hist.history["accuracy"][-1] <= 1.0
    for w in m.weights:
        assert w.dtype == np.float32
    for layer in m.layers[:-1]:
        assert layer.compute_dtype == "float16"
    p = m.predict(x[:8], verbose=0)
    assert p.dtype == np.float32 and np.allclose(p.sum(-1), 1.0, atol=1e-3)
    ev = m.evaluate(x, y, verbose=0)
    assert np.all(np.isfinite(ev))
    for ext in ("h5", "keras"):
        m.save(tmp_path / f"m.{ext}")
        loaded = gpunet.models.load_model(tmp_path / f"m.{ext}")
        assert [la.dtype_policy.name for la in loaded.layers] == [
            la.dtype_policy.name for la in m.layers]
        np.testing.assert_array_equal(loaded.predict(x[:8], verbose=0), p)


def test_layer_outputs_stay_float16_through_a_functional_model(backend):
    set_global_policy("mixed_float16")
    with gpunet.backend.device(backend):
        inp = layers.Input((5, 6))
        att = layers.MultiHeadAttention(2, 3)(inp, inp)
        added = layers.Add()([att, inp])
        out = layers.Dense(2)(layers.Flatten()(added))
        m = gpunet.Model(inp, [att, added, out])
    x = RNG.normal(size=(3, 5, 6)).astype("float32")
    outs = m(x)
    assert [o.dtype for o in outs] == [np.float16] * 3
    m2 = gpunet.Model(inp, out)
    m2.compile(optimizer="sgd", loss="mse")
    assert np.isfinite(m2.train_on_batch(x, np.zeros((3, 2), "float32")))
