"""Lambda layers and gpunet.ops / operators on KerasTensors (OpLambda), with saving."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gpunet
from gpunet import Input, Model, Sequential, layers, ops, optimizers
from gpunet.layers import Lambda, OpLambda

X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]], dtype="float32")


def plus_one_squared(t):
    """A named module-level function: saved by module and name."""
    return ops.square(t + 1.0)


def scaled(t, factor=1.0):
    return t * factor


def _np(out):
    return [np.asarray(o) for o in out] if isinstance(out, list) else np.asarray(out)


# -- Lambda ----------------------------------------------------------------------------------
def test_lambda_eager_and_output_shape(backend):
    layer = Lambda(lambda t: ops.square(t) + 1.0)
    np.testing.assert_allclose(layer(X).numpy(), [[2, 5, 10], [2, 1.25, 17]])
    assert layer.compute_output_shape((None, 3)) == (None, 3)
    first_two = Lambda(lambda t: t[:, :2])
    assert first_two.compute_output_shape((None, 3)) == (None, 2)
    fixed = Lambda(lambda t: t[:, :2], output_shape=(2,))
    assert fixed.compute_output_shape((None, 3)) == (None, 2)
    by_fn = Lambda(lambda t: t, output_shape=lambda s: (s[0], 7))
    assert by_fn.compute_output_shape((None, 3)) == (None, 7)
    args = Lambda(scaled, arguments={"factor": 3.0})
    np.testing.assert_allclose(args(X).numpy(), 3 * X)
    pair = Lambda(lambda ts: ts[0] * ts[1])
    np.testing.assert_allclose(pair([X, X + 1]).numpy(), X * (X + 1))
    with pytest.raises(TypeError, match="callable"):
        Lambda(3)


def test_lambda_in_sequential_and_functional(backend):
    seq = Sequential([Input((3,)), Lambda(lambda t: t * 2.0),
                      layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")])
    assert seq.output_shape == (None, 1)
    np.testing.assert_allclose(seq.predict(X, verbose=0), 2 * X.sum(1, keepdims=True))
    a, b = Input((3,), name="a"), Input((3,), name="b")
    out = Lambda(lambda ts: ops.concatenate([ts[0], ts[1] - ts[0]], axis=-1), name="lam")([a, b])
    assert out.shape == (None, 6)
    model = Model([a, b], out)
    got = model.predict([X, 2 * X], verbose=0)
    np.testing.assert_allclose(got, np.concatenate([X, X], axis=1))


def test_gradient_flows_through_lambda(backend):
    # x -> Dense(1, kernel ones, no bias) -> square -> mse to 0; x = [1, 2]:
    # h = 3, p = 9, dL/dp = 18, dp/dh = 6, dh/dW = x  =>  grad W = [108, 216]
    x = Input((2,))
    dense = layers.Dense(1, use_bias=False, kernel_initializer="ones")
    model = Model(x, Lambda(lambda t: ops.square(t))(dense(x)))
    model.compile(optimizers.SGD(learning_rate=0.001), loss="mse")
    model.train_on_batch(np.array([[1.0, 2.0]], "float32"), np.zeros((1, 1), "float32"))
    np.testing.assert_allclose(dense.get_weights()[0][:, 0], [1 - 0.108, 1 - 0.216], rtol=1e-5)


def test_lambda_mask(backend):
    layer = Lambda(lambda t: t, mask=lambda inputs, mask: inputs.data[:, :] > 0)
    out = layer(X)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), X > 0)


# -- operators and ops on KerasTensors ---------------------------------------------------------
def test_operators_record_op_layers_with_hand_values(backend):
    x, y = Input((3,), name="x"), Input((3,), name="y")
    outs = [x * 2, x + 1, 1 - x, x / y, -x, x ** 2, x[:, 0], 2.0 ** x, abs(x),
            x @ np.eye(3, dtype="float32") * 3]
    model = Model([x, y], outs)
    assert all(isinstance(t._keras_history[0], OpLambda) for t in outs)
    assert outs[6].shape == (None,)
    yv = np.array([[2.0, 4.0, 1.0], [0.5, 2.0, 8.0]], "float32")
    got = model.predict([X, yv], verbose=0)
    want = [X * 2, X + 1, 1 - X, X / yv, -X, X ** 2, X[:, 0], 2.0 ** X, np.abs(X), 3 * X]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_common_ops_on_keras_tensors(backend):
    x, y = Input((2, 3), name="x"), Input((2, 3), name="y")
    pos = ops.abs(x) + 0.5
    outs = {
        "add": ops.add(x, y), "subtract": ops.subtract(x, y), "multiply": ops.multiply(x, y),
        "divide": ops.divide(x, pos), "matmul": ops.matmul(x, ops.transpose(y, (0, 2, 1))),
        "concatenate": ops.concatenate([x, y], axis=-1), "reshape": ops.reshape(x, (-1, 6)),
        "mean": ops.mean(x, axis=-1), "sum": ops.sum(x, axis=1, keepdims=True),
        "max": ops.max(x, axis=-1), "square": ops.square(x), "sqrt": ops.sqrt(pos),
        "exp": ops.exp(x), "log": ops.log(pos), "relu": ops.relu(x), "sigmoid": ops.sigmoid(x),
        "tanh": ops.tanh(x), "softmax": ops.softmax(x, axis=-1),
        "expand_dims": ops.expand_dims(x, 1), "squeeze": ops.squeeze(ops.expand_dims(x, 1), 1),
        "stack": ops.stack([x, y], axis=1),
    }
    model = Model([x, y], outs)
    xv = np.arange(12, dtype="float32").reshape(2, 2, 3) / 4 - 1
    yv = np.linspace(-2, 2, 12, dtype="float32").reshape(2, 2, 3)
    p = np.abs(xv) + 0.5
    e = np.exp(xv - xv.max(-1, keepdims=True))
    want = {
        "add": xv + yv, "subtract": xv - yv, "multiply": xv * yv, "divide": xv / p,
        "matmul": xv @ yv.transpose(0, 2, 1), "concatenate": np.concatenate([xv, yv], -1),
        "reshape": xv.reshape(2, 6), "mean": xv.mean(-1), "sum": xv.sum(1, keepdims=True),
        "max": xv.max(-1), "square": xv ** 2, "sqrt": np.sqrt(p), "exp": np.exp(xv),
        "log": np.log(p), "relu": np.maximum(xv, 0), "sigmoid": 1 / (1 + np.exp(-xv)),
        "tanh": np.tanh(xv), "softmax": e / e.sum(-1, keepdims=True),
        "expand_dims": xv[:, None], "squeeze": xv, "stack": np.stack([xv, yv], 1),
    }
    got = model.predict([xv, yv], verbose=0)
    for k, w in want.items():
        np.testing.assert_allclose(got[k], w, rtol=1e-5, atol=1e-6, err_msg=k)
        assert model.output_shape[k][1:] == w.shape[1:], k


def test_op_layer_trains_and_rejects_unsaveable_arguments(backend):
    x = Input((3,))
    h = layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")(x)
    model = Model(x, ops.mean(h * 0.5, axis=-1))
    model.compile(optimizers.SGD(0.01), loss="mse")
    loss0 = model.evaluate(X, np.zeros(2, "float32"), verbose=0)
    # mean over 2 equal units of 0.5 * sum(x): rows sum to 6 and 3.5 -> 3 and 1.75
    np.testing.assert_allclose(loss0, (3.0 ** 2 + 1.75 ** 2) / 2, rtol=1e-6)
    model.fit(X, np.zeros(2, "float32"), epochs=3, verbose=0)
    assert model.evaluate(X, np.zeros(2, "float32"), verbose=0) < loss0
    with pytest.raises(TypeError, match="Lambda"):
        ops.multiply(x, object())


# -- saving --------------------------------------------------------------------------------------
def _without_bytecode(cfg):
    """The config with lambda bytecode blanked (re-marshalling may set other ref flags)."""
    for lc in cfg["config"]["layers"]:
        if lc["config"].get("function_type") == "lambda":
            lc["config"]["function"][0] = "<bytecode>"
    return cfg


def _saving_model():
    a, b = Input((3,), name="a"), Input((3,), name="b")
    h = layers.Dense(4, name="d")(a)
    named = Lambda(plus_one_squared, name="named")(h)
    anon = Lambda(lambda t, k=2.0: t * k, name="anon")(b)
    args = Lambda(scaled, arguments={"factor": -1.0}, name="args")(b)
    mixed = ops.mean(ops.concatenate([named, anon[:, 1:], args], axis=-1), axis=-1)
    return Model([a, b], [(1 - mixed) / 2, ops.softmax(h * 3, axis=-1)], name="lam_ops")


def test_json_round_trip_and_safe_mode(backend):
    model = _saving_model()
    text = model.to_json()
    cfg = json.loads(text)
    by_name = {lc["name"]: lc for lc in cfg["config"]["layers"]}
    named = by_name["named"]["config"]
    assert (named["function_type"], named["function"]) == ("function", "plus_one_squared")
    anon = by_name["anon"]["config"]
    assert anon["function_type"] == "lambda" and isinstance(anon["function"][0], str)
    assert anon["function"][1] == [2.0]
    assert any(lc["class_name"] == "OpLambda" for lc in cfg["config"]["layers"])
    with pytest.raises(ValueError, match="safe_mode=False"):
        gpunet.models.model_from_json(text)
    clone = gpunet.models.model_from_json(text, safe_mode=False)
    assert _without_bytecode(json.loads(clone.to_json())) == _without_bytecode(cfg)
    clone.set_weights(model.get_weights())
    feed = [X, X[::-1].copy()]
    for g, w in zip(clone.predict(feed, verbose=0), model.predict(feed, verbose=0),
                    strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_h5_round_trip_custom_objects_and_safe_mode(backend, tmp_path):
    model = _saving_model()
    model.compile("adam", loss=["mse", "categorical_crossentropy"])
    feed, targets = [X, X + 1], [np.zeros(2, "float32"), np.full((2, 4), 0.25, "float32")]
    model.fit(feed, targets, epochs=2, verbose=0)
    path = tmp_path / "m.h5"
    model.save(path)
    with pytest.raises(ValueError, match="anon.*safe_mode=False"):
        gpunet.models.load_model(path)
    with pytest.raises(ValueError, match="anon.*safe_mode=False"):
        gpunet.saving.load_model(path)  # the lower-level entry point is safe by default too
    loaded = gpunet.models.load_model(path, safe_mode=False)
    for g, w in zip(loaded.predict(feed, verbose=0), model.predict(feed, verbose=0),
                    strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    # a named function that cannot be imported comes from custom_objects
    seq = Sequential([Input((3,)), Lambda(plus_one_squared, name="lam")])
    cfg = json.loads(seq.to_json())
    cfg["config"]["layers"][-1]["config"]["module"] = "no_such_module_anywhere"
    text = json.dumps(cfg)
    with pytest.raises(ValueError, match="custom_objects"):
        gpunet.models.model_from_json(text)

    def other(t):
        return t * 10.0

    other.__name__ = "plus_one_squared"
    restored = gpunet.models.model_from_json(text, custom_objects={"plus_one_squared": other})
    np.testing.assert_allclose(restored.predict(X, verbose=0), X * 10)


def test_clone_keeps_closures_and_saving_them_fails_clearly(backend):
    def make():
        scale = np.array([1.0, 2.0, 3.0], "float32")
        return Lambda(lambda t: t * scale, name="closure")

    x = Input((3,))
    model = Model(x, make()(x) - 1)
    clone = gpunet.models.clone_model(model)
    np.testing.assert_allclose(clone.predict(X, verbose=0), X * [1, 2, 3] - 1)
    with pytest.raises(ValueError, match="closure.*not JSON-serializable"):
        model.to_json()


def _k2_functional(layers_cfg, inputs, outputs):
    return json.dumps({"class_name": "Functional", "config": {
        "name": "model", "trainable": True, "layers": layers_cfg,
        "input_layers": inputs, "output_layers": outputs}})


def _k2_input(name):
    return {"class_name": "InputLayer", "name": name, "inbound_nodes": [], "config": {
        "batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
        "ragged": False, "name": name}}


def _k2_op(cls, fn, nodes):
    return {"class_name": cls, "name": f"tf.{fn}", "inbound_nodes": nodes, "config": {
        "name": f"tf.{fn}", "trainable": True, "dtype": "float32", "function": fn}}


def test_keras2_tfoplambda_configs_load(backend):
    text = _k2_functional([
        _k2_input("input_1"), _k2_input("input_2"),
        _k2_op("TFOpLambda", "math.multiply", [[["input_1", 0, 0, {"y": 2.0, "name": None}]]]),
        _k2_op("TFOpLambda", "__operators__.add",
               [[["tf.math.multiply", 0, 0, {"y": ["input_2", 0, 0], "name": None}]]]),
        _k2_op("TFOpLambda", "math.reduce_mean",
               [[["tf.__operators__.add", 0, 0, {"axis": -1, "keepdims": True,
                                                 "name": None}]]]),
        _k2_op("SlicingOpLambda", "__operators__.getitem",
               [[["input_1", 0, 0, {"slice_spec": [{"start": None, "stop": None,
                                                    "step": None}, 0]}]]]),
    ], [["input_1", 0, 0], ["input_2", 0, 0]],
        [["tf.math.reduce_mean", 0, 0], ["tf.__operators__.getitem", 0, 0]])
    model = gpunet.models.model_from_json(text)
    y = np.ones((2, 3), "float32")
    mean, first = model.predict([X, y], verbose=0)
    np.testing.assert_allclose(mean, (2 * X + y).mean(-1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(first, X[:, 0])
    again = gpunet.models.model_from_json(model.to_json())
    np.testing.assert_allclose(again.predict([X, y], verbose=0)[0], mean)
    bad = _k2_functional([_k2_input("input_1"), _k2_op(
        "TFOpLambda", "math.bessel_i0", [[["input_1", 0, 0, {"name": None}]]])],
        [["input_1", 0, 0]], [["tf.math.bessel_i0", 0, 0]])
    with pytest.raises(ValueError, match=r"tf\.math\.bessel_i0"):
        gpunet.models.model_from_json(bad)
