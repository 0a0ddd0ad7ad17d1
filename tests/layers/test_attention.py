"""Attention, AdditiveAttention and MultiHeadAttention: values against NumPy formulas written
from Keras's (masks, causal masks, returned scores), Keras 3 weight layout, Functional models
(a Transformer block that trains, save/load), and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Input, Model, layers
from gpunet.autograd import Tensor
from gpunet.models import Functional

RNG = np.random.default_rng(0)


def _np(b, t):
    return b.to_numpy(t.data)


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _causal(tq, tv):
    return np.array([[j <= i for j in range(tv)] for i in range(tq)])


# -- NumPy references (Keras's formulas) ------------------------------------------------------
def _luong_ref(q, v, k=None, q_mask=None, v_mask=None, causal=False, scale=None,
               mode="dot", concat_w=1.0):
    k = v if k is None else k
    if mode == "dot":
        s = np.einsum("bid,bjd->bij", q, k) * (1.0 if scale is None else scale)
    else:
        z = q[:, :, None, :] + k[:, None, :, :]
        s = concat_w * np.tanh(z * (1.0 if scale is None else scale)).sum(-1)
    return _apply_scores(s, v, q_mask, v_mask, causal)


def _additive_ref(q, v, k=None, scale=None, q_mask=None, v_mask=None, causal=False):
    k = v if k is None else k
    t = np.tanh(q[:, :, None, :] + k[:, None, :, :])
    s = (t * (1.0 if scale is None else scale)).sum(-1)
    return _apply_scores(s, v, q_mask, v_mask, causal)


def _apply_scores(s, v, q_mask, v_mask, causal):
    m = np.ones(s.shape, bool)
    if v_mask is not None:
        m &= v_mask[:, None, :]
    if causal:
        m &= _causal(*s.shape[1:])[None]
    s = s - 1e9 * (~m)  # Keras: scores -= 1e9 * padding_mask
    w = _softmax(s)
    out = w @ v
    if q_mask is not None:
        out = out * q_mask[:, :, None]
    return out, w


def _mha_ref(layer, q, v, k=None, attention_mask=None, q_mask=None, v_mask=None,
             causal=False):
    k = v if k is None else k
    ws = [np.asarray(a, np.float64) for a in layer.get_weights()]
    qk, qb, kk, kb, vk, vb, ok, ob = ws
    qp = np.einsum("btc,chd->bthd", q, qk) + qb
    kp = np.einsum("bsc,chd->bshd", k, kk) + kb
    vp = np.einsum("bsc,chd->bshd", v, vk) + vb
    s = np.einsum("bshd,bthd->bhts", kp, qp / np.sqrt(layer.key_dim))
    m = np.ones((q.shape[0], q.shape[1], v.shape[1]), bool)
    if q_mask is not None:
        m &= q_mask[:, :, None]
    if v_mask is not None:
        m &= v_mask[:, None, :]
    if causal:
        m &= _causal(q.shape[1], v.shape[1])[None]
    if attention_mask is not None:
        m &= attention_mask
    m = m[:, None]
    p = np.where(m, _softmax(np.where(m, s, -1e9)), 0.0)  # Keras 3 Softmax(mask)
    o = np.einsum("bhts,bshd->bthd", p, vp)
    return np.einsum("bthd,hde->bte", o, ok) + ob, p


# -- Attention / AdditiveAttention values -----------------------------------------------------
Q, V, K = RNG.normal(size=(2, 4, 3)), RNG.normal(size=(2, 5, 3)), RNG.normal(size=(2, 5, 3))
QM = np.array([[True, True, False, True], [True, True, True, True]])
VM = np.array([[True, False, True, True, False], [True, True, True, True, False]])


@pytest.mark.parametrize("mode", ["dot", "concat"])
@pytest.mark.parametrize("use_scale", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_values(backend, mode, use_scale, masked, causal):
    layer = layers.Attention(use_scale=use_scale, score_mode=mode, dtype="float64")
    mask = [QM, VM] if masked else None
    out, w = layer([Q, V, K], mask=mask, return_attention_scores=True, use_causal_mask=causal)
    scale = concat_w = None
    if use_scale:
        layer.scale.assign(np.asarray(1.7))
        scale = 1.7
    if mode == "concat":
        layer.concat_score_weight.assign(np.asarray(0.6))
        concat_w = 0.6
    out, w = layer([Q, V, K], mask=mask, return_attention_scores=True, use_causal_mask=causal)
    ref_out, ref_w = _luong_ref(Q, V, K, QM if masked else None, VM if masked else None, causal,
                                scale, mode, 1.0 if concat_w is None else concat_w)
    np.testing.assert_allclose(_np(backend, out), ref_out, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_np(backend, w), ref_w, rtol=1e-9, atol=1e-12)
    if masked:
        np.testing.assert_array_equal(backend.to_numpy(out._keras_mask), QM)


@pytest.mark.parametrize("use_scale", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_additive_attention_values(backend, use_scale, causal):
    layer = layers.AdditiveAttention(use_scale=use_scale, dtype="float64")
    out, w = layer([Q, V], mask=[QM, VM], return_attention_scores=True, use_causal_mask=causal)
    scale = layer.get_weights()[0] if use_scale else None
    ref_out, ref_w = _additive_ref(Q, V, None, scale, QM, VM, causal)
    np.testing.assert_allclose(_np(backend, out), ref_out, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_np(backend, w), ref_w, rtol=1e-9, atol=1e-12)
    plain = layer([Q, V, K])
    np.testing.assert_allclose(_np(backend, plain), _additive_ref(Q, V, K, scale)[0],
                               rtol=1e-9, atol=1e-12)


def test_dense_attention_weights_and_config(backend):
    a = layers.Attention(use_scale=True, score_mode="concat")
    a([Q.astype("float32"), V.astype("float32")])
    assert [(w.name, w.shape) for w in a.weights] == [("scale", ()),
                                                       ("concat_score_weight", ())]
    assert layers.Attention()([Q, V]).shape == (2, 4, 3)
    ad = layers.AdditiveAttention()
    ad([Q, V])
    assert [(w.name, w.shape) for w in ad.weights] == [("scale", (3,))]
    cfg = a.get_config()
    assert {k: cfg[k] for k in ("use_scale", "score_mode", "dropout")} == {
        "use_scale": True, "score_mode": "concat", "dropout": 0.0}
    assert "score_mode" not in ad.get_config()


def test_keras2_causal_argument(backend):
    layer = layers.Attention(causal=True, dtype="float64")
    np.testing.assert_allclose(_np(backend, layer([Q, V])), _luong_ref(Q, V, causal=True)[0],
                               rtol=1e-9)
    assert layers.Attention.from_config(layer.get_config()).causal


def test_attention_dropout_only_in_training(backend):
    layer = layers.Attention(dropout=0.5, seed=3, dtype="float64")
    ref = _luong_ref(Q, V)[0]
    np.testing.assert_allclose(_np(backend, layer([Q, V])), ref, rtol=1e-9)
    out, w = layer([Q, V], training=True, return_attention_scores=True)
    w = _np(backend, w)
    kept = w != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(w[kept], 2 * _luong_ref(Q, V)[1][kept], rtol=1e-9)
    np.testing.assert_allclose(_np(backend, out), w @ V, rtol=1e-9, atol=1e-12)


# -- MultiHeadAttention values and weights -----------------------------------------------------
def test_mha_weight_layout_and_names(backend):
    mha = layers.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, output_shape=7)
    y = mha(np.zeros((2, 6, 8), "float32"), np.zeros((2, 9, 10), "float32"),
            np.zeros((2, 9, 11), "float32"))
    assert y.shape == (2, 6, 7)
    assert [(w.name, tuple(w.shape)) for w in mha.weights] == [
        ("query/kernel", (8, 3, 4)), ("query/bias", (3, 4)),
        ("key/kernel", (11, 3, 4)), ("key/bias", (3, 4)),
        ("value/kernel", (10, 3, 5)), ("value/bias", (3, 5)),
        ("attention_output/kernel", (3, 5, 7)), ("attention_output/bias", (7,))]
    assert mha.weights[0].path == f"{mha.name}/query/kernel"
    assert mha.count_params() == 8 * 12 + 12 + 11 * 12 + 12 + 10 * 15 + 15 + 15 * 7 + 7
    nb = layers.MultiHeadAttention(2, 4, use_bias=False)
    nb(np.zeros((1, 3, 6), "float32"), np.zeros((1, 3, 6), "float32"))
    assert [w.name for w in nb.weights] == ["query/kernel", "key/kernel", "value/kernel",
                                            "attention_output/kernel"]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_key", [False, True])
def test_mha_values_with_masks(backend, causal, with_key):
    q, v, k = RNG.normal(size=(2, 4, 6)), RNG.normal(size=(2, 5, 6)), RNG.normal(size=(2, 5, 6))
    am = RNG.random((2, 4, 5)) > 0.3
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, dtype="float64")
    qt, vt = Tensor(backend.asarray(q)), Tensor(backend.asarray(v))
    qt._keras_mask, vt._keras_mask = backend.asarray(QM), backend.asarray(VM)
    kt = Tensor(backend.asarray(k)) if with_key else None
    out, scores = mha(qt, vt, kt, attention_mask=am, return_attention_scores=True,
                      use_causal_mask=causal)
    ref, ref_p = _mha_ref(mha, q, v, k if with_key else None, am, QM, VM, causal)
    np.testing.assert_allclose(_np(backend, out), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_np(backend, scores), ref_p, rtol=1e-9, atol=1e-12)
    assert scores.shape == (2, 2, 4, 5)
    np.testing.assert_array_equal(backend.to_numpy(out._keras_mask), QM)
    # the masks can also be given explicitly (Keras 3 call arguments)
    out2 = mha(q, v, k if with_key else None, attention_mask=am, query_mask=QM,
               value_mask=VM, use_causal_mask=causal)
    np.testing.assert_allclose(_np(backend, out2), ref, rtol=1e-9, atol=1e-12)


def test_mha_keras_weights_load_in_keras_order(backend):
    """Arrays in Keras's get_weights order load as they are and give Keras's formula."""
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, dtype="float64")
    q = RNG.normal(size=(3, 4, 5))
    mha(q, q)
    shapes = [(5, 2, 3), (2, 3), (5, 2, 3), (2, 3), (5, 2, 3), (2, 3), (2, 3, 5), (5,)]
    arrays = [RNG.normal(size=s) for s in shapes]
    mha.set_weights(arrays)
    np.testing.assert_allclose(_np(backend, mha(q, q)), _mha_ref(mha, q, q)[0], rtol=1e-9)
    assert all(np.array_equal(a, b) for a, b in zip(mha.get_weights(), arrays))


def test_mha_higher_rank_default_axes(backend):
    q = RNG.normal(size=(2, 2, 3, 4))
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=2, dtype="float64")
    out, scores = mha(q, q, return_attention_scores=True)
    assert out.shape == (2, 2, 3, 4) and scores.shape == (2, 2, 2, 3, 2, 3)
    flat = q.reshape(2, 6, 4)
    ref, ref_p = _mha_ref(mha, flat, flat)
    np.testing.assert_allclose(_np(backend, out), ref.reshape(2, 2, 3, 4), rtol=1e-9)
    np.testing.assert_allclose(_np(backend, scores), ref_p.reshape(2, 2, 2, 3, 2, 3), rtol=1e-9)


def test_mha_dropout_seeded_and_training_only(backend):
    q = RNG.normal(size=(2, 5, 4)).astype("float32")
    a = layers.MultiHeadAttention(2, 2, dropout=0.5, seed=1)
    ev = _np(backend, a(q, q))
    np.testing.assert_allclose(_np(backend, a(q, q, training=False)), ev)
    tr = _np(backend, a(q, q, training=True))
    assert not np.allclose(tr, ev)
    _, s_eval = a(q, q, return_attention_scores=True)
    _, s_train = a(q, q, training=True, return_attention_scores=True)
    np.testing.assert_allclose(_np(backend, s_train), _np(backend, s_eval), rtol=1e-6)


def test_mha_regularizers_constraints_and_gradients(backend):
    mha = layers.MultiHeadAttention(2, 3, kernel_regularizer="l2", bias_regularizer="l1",
                                    activity_regularizer="l2", kernel_constraint="non_neg")
    q = Tensor(backend.asarray(RNG.normal(size=(2, 4, 5)).astype("float32")))
    y = mha(q, q)
    assert len(mha.losses) == 8 + 4  # 4 kernels + 4 biases, 4 projection outputs
    assert mha.weights[0].constraint is not None
    y.sum().backward()
    assert all(w.grad is not None and np.any(backend.to_numpy(w.grad)) for w in mha.weights)
    cfg = mha.get_config()
    clone = layers.MultiHeadAttention.from_config(cfg)
    assert clone.get_config() == cfg


# -- Functional models -------------------------------------------------------------------------
def _transformer(vocab=8, t=8, causal=False, scores=False):
    gpunet.utils.set_random_seed(0)
    x = Input((t,), dtype="int32", name="tokens")
    e = layers.Embedding(vocab, 16, mask_zero=True)(x)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=8, name="mha")
    res = mha(e, e, use_causal_mask=causal, return_attention_scores=scores)
    a, s = res if scores else (res, None)
    h = layers.LayerNormalization()(layers.Add()([e, a]))
    h = layers.Dense(16, activation="relu")(h)
    h = layers.GlobalAveragePooling1D()(h)
    out = layers.Dense(2, activation="softmax", name="out")(h)
    return Model(x, [out, s] if scores else out, name="encoder")


def _task(n=256, t=8, vocab=8, seed=0):
    """Label 1 when token 1 appears before token 2 in the sequence (both always present)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(3, vocab, size=(n, t))
    for i in range(n):
        a, b = rng.choice(t - 2, 2, replace=False)
        x[i, a], x[i, b] = 1, 2
    x[:, -2:] = 0  # padding, masked by Embedding(mask_zero=True)
    y = np.array([np.argmax(r == 1) < np.argmax(r == 2) for r in x], "int64")
    return x.astype("int32"), y


def test_transformer_block_trains_to_high_accuracy():
    """Attention is order-blind; the causal mask is what lets the model see which came first."""
    model = _transformer(causal=True)
    x, y = _task()
    model.compile(gpunet.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=20, verbose=0)
    xt, yt = _task(128, seed=1)
    _, acc = model.evaluate(xt, yt, verbose=0)
    assert acc >= 0.9


def test_functional_config_records_value_as_keyword_tensor():
    model = _transformer(causal=True)
    entry = {e["name"]: e for e in model.get_config()["layers"]}["mha"]
    emb = model.get_layer(index=1).name
    assert entry["inbound_nodes"] == [[[emb, 0, 0, {"value": [emb, 0, 0],
                                                     "use_causal_mask": True}]]]
    assert model.get_layer("mha").output_shape_ == (None, 8, 16)


def test_functional_save_load_predictions_and_next_step(tmp_path):
    model = _transformer(causal=True, scores=True)
    x, y = _task(32)
    model.compile("adam", loss=["sparse_categorical_crossentropy", None])
    model.train_on_batch(x, [y, np.zeros((32, 2, 8, 8), "float32")])
    model.save(tmp_path / "enc.h5")
    loaded = gpunet.models.load_model(tmp_path / "enc.h5")
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    for a, b in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
    ys = [y, np.zeros((32, 2, 8, 8), "float32")]
    model.train_on_batch(x, ys)
    loaded.train_on_batch(x, ys)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_dense_attention_in_functional_model_save_load(tmp_path):
    gpunet.utils.set_random_seed(0)
    q, v = Input((4, 3), name="q"), Input((5, 3), name="v")
    h = layers.Attention(use_scale=True)([q, v])
    h = layers.AdditiveAttention(dropout=0.2)([h, v], use_causal_mask=True)
    out = layers.Dense(1)(layers.GlobalAveragePooling1D()(h))
    model = Model([q, v], out)
    assert model.output_shape == (None, 1)
    xs = [RNG.normal(size=(8, 4, 3)).astype("float32"), RNG.normal(size=(8, 5, 3)).astype(
        "float32")]
    y = RNG.normal(size=(8, 1)).astype("float32")
    model.compile("adam", "mse")
    model.train_on_batch(xs, y)
    model.save(tmp_path / "att.h5")
    loaded = gpunet.models.load_model(tmp_path / "att.h5")
    np.testing.assert_allclose(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0),
                               rtol=0, atol=0)
    gpunet.utils.set_random_seed(5)
    model.train_on_batch(xs, y)
    gpunet.utils.set_random_seed(5)
    loaded.train_on_batch(xs, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_keras3_node_form_loads():
    """Keras 3 configs record ``mha(q, v)`` as node args ``[q, v]`` plus every call keyword."""
    x = Input((5, 4), name="x")
    model = Model(x, layers.MultiHeadAttention(2, 2, name="mha")(x, x))
    cfg = model.get_config()
    kt = {"class_name": "__keras_tensor__",
          "config": {"shape": [None, 5, 4], "dtype": "float32", "keras_history": ["x", 0, 0]}}
    node = {"args": [kt, kt], "kwargs": {
        "query_mask": None, "value_mask": None, "key_mask": None, "attention_mask": None,
        "return_attention_scores": False, "training": None, "use_causal_mask": True}}
    next(e for e in cfg["layers"] if e["name"] == "mha")["inbound_nodes"] = [node]
    loaded = Functional.from_config(cfg)
    xs = RNG.normal(size=(2, 5, 4)).astype("float32")
    loaded.set_weights(model.get_weights())
    mha = loaded.get_layer("mha")
    ref = _mha_ref(mha, xs.astype("float64"), xs.astype("float64"), causal=True)[0]
    np.testing.assert_allclose(loaded.predict(xs, verbose=0), ref, rtol=1e-4, atol=1e-5)


def test_attention_mask_as_model_input(backend):
    x = Input((4, 6), name="x")
    am = Input((4, 4), dtype="bool", name="am")
    mha = layers.MultiHeadAttention(2, 3, dtype="float64")
    model = Model([x, am], mha(x, x, attention_mask=am))
    xs = RNG.normal(size=(2, 4, 6))
    ms = RNG.random((2, 4, 4)) > 0.4
    ms[..., 0] = True
    np.testing.assert_allclose(model.predict([xs, ms], verbose=0),
                               _mha_ref(mha, xs, xs, attention_mask=ms)[0], rtol=1e-5, atol=1e-6)


# -- errors ------------------------------------------------------------------------------------
def test_errors_name_layer_expected_and_received():
    q = np.zeros((2, 4, 6), "float32")
    mha = layers.MultiHeadAttention(2, 3, name="att")
    with pytest.raises(ValueError, match=r"'att'.*expects `query` and `value`.*Received only"):
        mha(q)
    mha(q, q)
    with pytest.raises(ValueError, match=r"'att'.*`value` with last dimension 6.*\(None, 4, 5\)"):
        mha(q, np.zeros((2, 4, 5), "float32"))
    with pytest.raises(ValueError, match=r"key_dim.*positive integer.*Received: key_dim=0"):
        layers.MultiHeadAttention(2, 0)
    with pytest.raises(NotImplementedError,
                       match=r"default attention_axes=\(1, 2\).*Received.*\(2,\)"):
        layers.MultiHeadAttention(2, 3, attention_axes=2)(np.zeros((1, 2, 3, 4)),
                                                           np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match=r"except the last one.*\(None, 5, 6\).*\(None, 4, 6\)"):
        layers.MultiHeadAttention(2, 3)(q, np.zeros((2, 5, 6)), np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match=r"'luong'.*list of inputs.*Received: inputs of type"):
        layers.Attention(name="luong")(q)
    with pytest.raises(ValueError, match=r"'luong2'.*length 2 or 3.*Received length: 1"):
        layers.Attention(name="luong2")([q])
    with pytest.raises(ValueError, match=r"'luong3'.*`mask` as a list"):
        layers.Attention(name="luong3")([q, q], mask=QM)
    with pytest.raises(ValueError, match=r"score_mode.*Received: score_mode='cos'"):
        layers.Attention(score_mode="cos")
    with pytest.raises(ValueError, match=r"same last dimension.*\(None, 4, 6\).*\(None, 4, 5\)"):
        layers.AdditiveAttention()([q, q, np.zeros((2, 4, 5), "float32")])


@pytest.mark.parametrize("which", ["query_mask", "value_mask", "key_mask"])
def test_mha_masks_given_as_model_inputs_are_applied(which, tmp_path):
    # query_mask / value_mask / key_mask passed as symbolic tensors belong to the Functional
    # graph (they were dropped, so the model ran unmasked without a word)
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, 4)).astype("float32")
    v = rng.standard_normal((2, 5, 4)).astype("float32")
    qm = np.array([[1, 1, 0], [1, 0, 1]], bool)
    vm = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
    mask = qm if which == "query_mask" else vm
    qi, vi = Input((3, 4)), Input((5, 4))
    mi = Input(mask.shape[1:], dtype="bool")
    mha = layers.MultiHeadAttention(2, 3, seed=1)
    model = Model([qi, vi, mi], mha(qi, vi, key=vi if which == "key_mask" else None,
                                    **{which: mi}))
    out = np.asarray(model([q, v, mask]))
    if which == "query_mask":  # Keras: attention_mask = query_mask[:, :, None] (rows)
        am = np.broadcast_to(qm[:, :, None], (2, 3, 5))
    else:
        am = np.broadcast_to(vm[:, None, :], (2, 3, 5))
    ref = np.asarray(mha(q, v, attention_mask=am))
    np.testing.assert_allclose(out, ref, atol=1e-6)
    if which != "query_mask":  # a query mask alone leaves every row's values unchanged
        assert not np.allclose(out, np.asarray(mha(q, v)), atol=1e-4)
    model.save(tmp_path / "m.keras")
    again = gpunet.models.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(np.asarray(again([q, v, mask])), out, atol=1e-6)
