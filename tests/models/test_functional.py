"""The Functional API: graphs of layers on Input tensors, checked against NumPy formulas."""

from __future__ import annotations

import io

import numpy as np
import pytest

import gpunet
from gpunet import Input, Model, Sequential, layers, optimizers
from gpunet.models import Functional

RNG = np.random.default_rng(0)


def _w(layer):
    return [np.asarray(a, np.float64) for a in layer.get_weights()]


def _dense(x, layer, act=None):
    k, b = _w(layer)
    y = x @ k + b
    return np.maximum(y, 0) if act == "relu" else y


def _shared_dag():
    a, b = Input((3,), name="a"), Input((3,), name="b")
    shared = layers.Dense(4, activation="relu", name="shared")
    ha, hb = shared(a), shared(b)
    merged = layers.concatenate([layers.add([ha, hb]), layers.multiply([ha, hb])], name="cat")
    score = layers.Dense(1, name="score")(merged)
    cls = layers.Dense(3, activation="softmax", name="cls")(layers.subtract([ha, hb]))
    return Model([a, b], [score, cls], name="dag")


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _dag_numpy(model, xa, xb):
    sh = model.get_layer("shared")
    ha, hb = _dense(xa, sh, "relu"), _dense(xb, sh, "relu")
    score = _dense(np.concatenate([ha + hb, ha * hb], 1), model.get_layer("score"))
    cls = _softmax(_dense(ha - hb, model.get_layer("cls")))
    return score, cls


def test_model_new_dispatch_and_structure():
    model = _shared_dag()
    assert type(model) is Functional and isinstance(model, Model)
    assert [lyr.name for lyr in model.layers] == [
        "a", "b", "shared", "add", "multiply", "cat", "subtract", "score", "cls"]
    assert model.get_layer("shared") is model.get_layer(index=2)
    assert model.input_shape == [(None, 3), (None, 3)]
    assert model.output_shape == [(None, 1), (None, 3)]
    assert model.input_names == ["a", "b"] and model.output_names == ["score", "cls"]
    assert len(model.inputs) == 2 and model.outputs[1].shape == (None, 3)
    assert len(model.weights) == 6  # the shared layer counts once
    sh = model.get_layer("shared")
    assert sh.get_output_at(1).shape == (None, 4)
    with pytest.raises(AttributeError, match="multiple inbound nodes"):
        _ = sh.output
    assert model.get_layer("score").output is model.outputs[0]


def test_shared_layer_dag_values(backend):
    model = _shared_dag()
    xa, xb = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
    score, cls = model.predict([xa.astype("float32"), xb.astype("float32")], verbose=0)
    ref_s, ref_c = _dag_numpy(model, xa, xb)
    np.testing.assert_allclose(score, ref_s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cls, ref_c, rtol=1e-5, atol=1e-6)
    out = model({"a": xa.astype("float32"), "b": xb.astype("float32")})
    np.testing.assert_allclose(out[0].numpy(), ref_s, rtol=1e-5, atol=1e-6)


def test_two_inputs_two_outputs_logged_losses_match_numpy(backend):
    model = _shared_dag()
    model.compile(optimizers.SGD(0.0), loss={"score": "mse",
                                             "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"score": 0.5, "cls": 2.0}, metrics={"cls": ["accuracy"]})
    xa, xb = RNG.normal(size=(12, 3)).astype("float32"), RNG.normal(size=(12, 3)).astype("float32")
    ys, yc = RNG.normal(size=(12, 1)).astype("float32"), RNG.integers(0, 3, 12)
    hist = model.fit([xa, xb], {"score": ys, "cls": yc}, batch_size=12, epochs=1, verbose=0)
    ref_s, ref_c = _dag_numpy(model, xa.astype(np.float64), xb.astype(np.float64))
    mse = np.mean((ref_s - ys) ** 2)
    ce = -np.mean(np.log(ref_c[np.arange(12), yc]))
    acc = np.mean(ref_c.argmax(1) == yc)
    logs = {k: v[0] for k, v in hist.history.items()}
    assert list(logs) == sorted(["loss", "score_loss", "cls_loss", "cls_accuracy"])  # as Keras 3
    np.testing.assert_allclose(logs["score_loss"], mse, rtol=1e-5)
    np.testing.assert_allclose(logs["cls_loss"], ce, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], 0.5 * mse + 2.0 * ce, rtol=1e-5)
    np.testing.assert_allclose(logs["cls_accuracy"], acc)
    ev = model.evaluate({"a": xa, "b": xb}, [ys, yc], verbose=0, return_dict=True)
    np.testing.assert_allclose(ev["loss"], logs["loss"], rtol=1e-5)
    assert model.metrics_names == ["loss", "score_loss", "cls_loss", "cls_accuracy"]


def test_two_output_training_reduces_both_losses(backend):
    gpunet.utils.set_random_seed(1)
    model = _shared_dag()
    model.compile(optimizers.Adam(0.02), loss=["mse", "sparse_categorical_crossentropy"],
                  loss_weights=[1, 1], metrics=[["mae"], ["accuracy"]])
    xa, xb = RNG.normal(size=(64, 3)).astype("float32"), RNG.normal(size=(64, 3)).astype("float32")
    ys, yc = (xa + xb).sum(1, keepdims=True), (xa[:, 0] > xb[:, 0]).astype("int64")
    h = model.fit([xa, xb], [ys, yc], batch_size=16, epochs=15, verbose=0)
    assert h.history["score_loss"][-1] < 0.5 * h.history["score_loss"][0]
    assert h.history["cls_loss"][-1] < h.history["cls_loss"][0]
    assert "score_mae" in h.history and "cls_accuracy" in h.history


def test_validation_split_and_shuffle_apply_to_every_array(backend):
    a, b = Input((2,), name="a"), Input((2,), name="b")
    model = Model([a, b], layers.subtract([a, b]))
    model.compile(optimizers.SGD(0.0), "mse")
    xa = np.arange(40, dtype="float32").reshape(20, 2)
    xb = xa[::-1].copy()
    y = xa - xb  # loss 0 only when all three arrays keep their rows aligned
    h = model.fit([xa, xb], y, batch_size=3, epochs=2, shuffle=True, validation_split=0.25,
                  verbose=0)
    assert h.history["loss"] == [0.0, 0.0] and h.history["val_loss"] == [0.0, 0.0]
    y_bad = y.copy()
    y_bad[15:] += 1.0  # only the validation rows (the last 25%) are off by one
    h = model.fit([xa, xb], y_bad, batch_size=3, validation_split=0.25, verbose=0)
    assert h.history["loss"] == [0.0] and h.history["val_loss"] == [1.0]


def test_nested_sequential_inside_functional(backend):
    inner = Sequential([layers.Dense(5, activation="relu"), layers.Dense(2)], name="inner")
    x = Input((3,), name="x")
    model = Model(x, layers.Dense(1, name="head")(inner(x)))
    assert [lyr.name for lyr in model.layers] == ["x", "inner", "head"]
    data = RNG.normal(size=(4, 3))
    h = _dense(_dense(data, inner.layers[0], "relu"), inner.layers[1])
    np.testing.assert_allclose(model.predict(data.astype("float32"), verbose=0),
                               _dense(h, model.get_layer("head")), rtol=1e-5, atol=1e-6)
    model.compile("sgd", "mse")
    before = [w.copy() for w in inner.get_weights()]
    model.fit(data.astype("float32"), np.ones((4, 1), "float32"), verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, inner.get_weights()))


def test_nested_functional_model_as_a_layer(backend):
    x = Input((3,))
    sub = Model(x, layers.Dense(2, name="sub_dense")(x), name="sub")
    a, b = Input((3,)), Input((3,))
    model = Model([a, b], layers.add([sub(a), sub(b)]))
    xa, xb = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    d = sub.get_layer("sub_dense")
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0),
                               _dense(xa, d) + _dense(xb, d), rtol=1e-5, atol=1e-6)


def test_feature_extraction_from_a_sequential(backend):
    base = Sequential([layers.Input((4,)), layers.Dense(6, activation="relu", name="h1"),
                       layers.Dense(3, name="h2"), layers.Dense(2, name="top")])
    feats = Model(base.inputs, base.layers[-2].output)
    assert [lyr.name for lyr in feats.layers][1:] == ["h1", "h2"]
    x = RNG.normal(size=(5, 4))
    ref = _dense(_dense(x, base.layers[0], "relu"), base.layers[1])
    np.testing.assert_allclose(feats.predict(x.astype("float32"), verbose=0), ref, rtol=1e-5,
                               atol=1e-6)
    head = Model(inputs=base.input, outputs=layers.Dense(1)(base.get_layer("h1").output))
    assert head.get_layer("h1") is base.layers[0]  # weights are shared, as in Keras
    assert base.output.shape == (None, 2)


def test_rnn_with_states_in_a_graph(backend):
    x = Input((5, 3))
    seq, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(x)
    assert (seq.shape, h.shape, c.shape) == ((None, 5, 4), (None, 4), (None, 4))
    out = layers.LSTM(4)(seq, initial_state=[h, c])
    model = Model(x, layers.concatenate([out, h]))
    assert model.predict(RNG.normal(size=(2, 5, 3)).astype("float32"), verbose=0).shape == (2, 8)


def test_summary_has_connected_to_column(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    model = _shared_dag()
    buf = io.StringIO()
    model.summary(print_fn=buf.write)
    text = buf.getvalue()
    lines = text.splitlines()
    assert len(lines[1]) == 108 and "Connected to" in lines[2]
    assert "│ a (InputLayer)" in text and "│ (None, 3)" in text
    assert "a[0][0], b[0][0]" in text  # shared layer: two inbound nodes
    assert "shared[0][0], shared[1][0]" in text
    assert "Total params: 40" in text  # shared 3*4+4, score 8*1+1, cls 4*3+3


def test_clone_model_functional():
    model = _shared_dag()
    clone = gpunet.models.clone_model(model)
    assert type(clone) is Functional
    assert [lyr.name for lyr in clone.layers] == [lyr.name for lyr in model.layers]
    assert not any(a is b for a, b in zip(clone.layers, model.layers))
    clone.set_weights(model.get_weights())
    x = [RNG.normal(size=(3, 3)).astype("float32") for _ in range(2)]
    for p, q in zip(clone.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(p, q, rtol=1e-6)
    new_a, new_b = Input((3,), name="na"), Input((3,), name="nb")
    clone2 = gpunet.models.clone_model(model, input_tensors=[new_a, new_b])
    assert clone2.inputs[0] is new_a


def test_subclassed_model_still_works(backend):
    class TwoLayer(Model):
        def __init__(self):
            super().__init__(name="two")
            self.d1, self.d2 = layers.Dense(4, activation="relu"), layers.Dense(1)

        @property
        def layers(self):
            return [self.d1, self.d2]

        def call(self, x, training=None):
            return self.d2(self.d1(x))

    m = TwoLayer()
    assert type(m) is TwoLayer
    assert m(np.ones((2, 3), "float32")).shape == (2, 1)


def test_graph_errors():
    a, b = Input((3,), name="first"), Input((3,), name="second")
    out = layers.Dense(1)(layers.add([a, b]))
    with pytest.raises(ValueError, match="Graph disconnected.*'second'"):
        Model(a, out)
    x = Input((3,))
    y = layers.Dense(2, name="same")(layers.Dense(2, name="same")(x))
    with pytest.raises(ValueError, match='"same" is used 2 times'):
        Model(x, y)
    with pytest.raises(TypeError, match="KerasTensors"):
        Model(x, np.ones(3))
    with pytest.raises(ValueError, match="not an Input"):
        Model(layers.Dense(2)(x), y)


def test_wrong_number_of_inputs_in_fit_and_predict():
    model = _shared_dag()
    model.compile("sgd", ["mse", "sparse_categorical_crossentropy"])
    x = np.ones((4, 3), "float32")
    with pytest.raises(ValueError, match="expects 2 arrays for `x`.*received a single array"):
        model.predict(x, verbose=0)
    with pytest.raises(ValueError, match=r"expects 2 arrays for `x` \(\['a', 'b'\]\), but "
                                         "received 3"):
        model.fit([x, x, x], [np.ones((4, 1)), np.zeros(4)], verbose=0)
    with pytest.raises(ValueError, match="missing \\['b'\\]"):
        model.predict({"a": x}, verbose=0)
    with pytest.raises(ValueError, match="expects 2 arrays for `y`"):
        model.fit([x, x], [np.ones((4, 1))], verbose=0)
    with pytest.raises(ValueError, match="Input 1 \\('b'\\).*expected shape=\\(None, 3\\)"):
        model.predict([x, np.ones((4, 5), "float32")], verbose=0)
    with pytest.raises(ValueError, match="Unknown entries in loss dictionary"):
        model.compile("sgd", loss={"nope": "mse"})


def test_keras_tensor_attributes_and_operators(backend):
    a, b = Input((3,), name="ka"), Input((3,), name="kb")
    assert (a.shape, a.dtype, a.name, a.ndim) == ((None, 3), "float32", "ka", 2)
    layer, node_index, tensor_index = a._keras_history
    assert (layer.name, node_index, tensor_index) == ("ka", 0, 0)
    model = Model([a, b], (a + b) * a - b)
    assert [type(lyr).__name__ for lyr in model.layers[2:]] == ["Add", "Multiply", "Subtract"]
    xa, xb = RNG.normal(size=(2, 3)).astype("float32"), RNG.normal(size=(2, 3)).astype("float32")
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), (xa + xb) * xa - xb,
                               rtol=1e-6)
    plus_one = a + 1  # a number: an OpLambda of gpunet.ops.add (see test_lambda_and_ops.py)
    assert type(plus_one._keras_history[0]).__name__ == "OpLambda"
