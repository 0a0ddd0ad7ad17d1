"""SimpleRNN, LSTM, GRU, Bidirectional and TimeDistributed against a plain NumPy step-by-step
reference written from Keras's formulas (keras-semantics.md 4.6), plus masks, stateful
continuation, saving and a small learning task."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.autograd.tensor import Tensor


def sig(z):
    return 1 / (1 + np.exp(-z))


def ref_rnn(kind, x, weights, mask=None, go_backwards=False, h0=None, c0=None,
            reset_after=True, zero_output=False):
    """Keras's equations, one sample-batch step at a time, in float64.

    Returns (sequence output in processing order, final h, final c)."""
    W, U = weights[0].astype(np.float64), weights[1].astype(np.float64)
    b = weights[2].astype(np.float64) if len(weights) > 2 else None
    n, t_len, _ = x.shape
    u = U.shape[0]
    h = np.zeros((n, u)) if h0 is None else h0.astype(np.float64)
    c = np.zeros((n, u)) if c0 is None else c0.astype(np.float64)
    steps = range(t_len - 1, -1, -1) if go_backwards else range(t_len)
    outs = []
    for t in steps:
        xt = x[:, t].astype(np.float64)
        if kind == "simple":
            hn = np.tanh(xt @ W + (0 if b is None else b) + h @ U)
            cn = c
        elif kind == "lstm":
            z = xt @ W + h @ U + (0 if b is None else b)
            i, f, g, o = (z[:, k * u:(k + 1) * u] for k in range(4))
            cn = sig(f) * c + sig(i) * np.tanh(g)
            hn = sig(o) * np.tanh(cn)
        else:
            if reset_after:
                bx, bh = (b[0], b[1]) if b is not None else (0, 0)
                mx = xt @ W + bx
                mh = h @ U + bh
                zg = sig(mx[:, :u] + mh[:, :u])
                r = sig(mx[:, u:2 * u] + mh[:, u:2 * u])
                hh = np.tanh(mx[:, 2 * u:] + r * mh[:, 2 * u:])
            else:
                mx = xt @ W + (0 if b is None else b)
                zg = sig(mx[:, :u] + h @ U[:, :u])
                r = sig(mx[:, u:2 * u] + h @ U[:, u:2 * u])
                hh = np.tanh(mx[:, 2 * u:] + (r * h) @ U[:, 2 * u:])
            hn = zg * h + (1 - zg) * hh
            cn = c
        if mask is not None:
            m = mask[:, t:t + 1]
            hn = np.where(m, hn, h)
            cn = np.where(m, cn, c)
            out = np.where(m, hn, 0.0) if zero_output else hn
        else:
            out = hn
        h, c = hn, cn
        outs.append(out)
    return np.stack(outs, axis=1), h, c


def _x(seed=0, n=3, t=5, f=4):
    return np.random.default_rng(seed).normal(size=(n, t, f)).astype("float32")


def _random_weights(layer, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32")
                       for w in layer.get_weights()])


def _np(t):
    return t.numpy() if isinstance(t, Tensor) else np.asarray(t)


KINDS = {"simple": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}


def _make(kind, units=3, **kw):
    if kind == "gru_v1":
        return layers.GRU(units, reset_after=False, **kw), "gru", {"reset_after": False}
    return KINDS[kind](units, **kw), kind, {}


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "gru_v1"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_values_match_the_numpy_reference(backend, kind, go_backwards):
    x = _x()
    layer, ref_kind, extra = _make(kind, return_sequences=True, return_state=True,
                                   go_backwards=go_backwards)
    layer(x[:1])
    _random_weights(layer)
    outs = layer(x)
    seq, h, c = ref_rnn(ref_kind, x, layer.get_weights(), go_backwards=go_backwards, **extra)
    np.testing.assert_allclose(_np(outs[0]), seq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(outs[1]), h, rtol=1e-5, atol=1e-5)
    if kind == "lstm":
        np.testing.assert_allclose(_np(outs[2]), c, rtol=1e-5, atol=1e-5)
    last = KINDS[ref_kind](3, go_backwards=go_backwards, **extra)
    last(x[:1])
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(_np(last(x)), h, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "gru_v1"])
def test_masked_steps_carry_the_state_and_repeat_the_output(backend, kind):
    x = _x(2, n=3, t=6)
    mask = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 1]], bool)
    layer, ref_kind, extra = _make(kind, return_sequences=True, return_state=True)
    layer(x[:1])
    _random_weights(layer, 3)
    outs = layer(Tensor(backend.asarray(x)), mask=backend.asarray(mask))
    seq, h, _ = ref_rnn(ref_kind, x, layer.get_weights(), mask=mask, **extra)
    np.testing.assert_allclose(_np(outs[0]), seq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(outs[1]), h, rtol=1e-5, atol=1e-5)
    assert np.all(_np(outs[0])[1, :2] == 0)  # zeros before the first valid step
    np.testing.assert_array_equal(backend.to_numpy(outs[0]._keras_mask), mask)


def test_initial_state_and_shapes(backend):
    x = _x(4)
    h0 = np.random.default_rng(5).normal(size=(3, 2)).astype("float32")
    c0 = np.random.default_rng(6).normal(size=(3, 2)).astype("float32")
    lstm = layers.LSTM(2, return_state=True)
    out, h, c = lstm(x, initial_state=[h0, c0])
    _, rh, rc = ref_rnn("lstm", x, lstm.get_weights(), h0=h0, c0=c0)
    np.testing.assert_allclose(_np(h), rh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(c), rc, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_np(out), _np(h))
    assert lstm.compute_output_shape((None, 5, 4)) == [(None, 2), (None, 2), (None, 2)]
    gru = layers.GRU(7, return_sequences=True)
    assert gru(x).shape == (3, 5, 7)
    assert gru.compute_output_shape((None, 5, 4)) == (None, 5, 7)
    assert [w.shape for w in gru.weights] == [(4, 21), (7, 21), (2, 21)]
    assert gru.count_params() == 3 * 7 * (4 + 7 + 2)
    assert layers.LSTM(5)(x).shape == (3, 5) and layers.SimpleRNN(5)(x).shape == (3, 5)
    with pytest.raises(ValueError, match="initial state"):
        lstm(x, initial_state=[h0])


def test_keras_weight_layout_and_names():
    lstm = layers.LSTM(3)
    lstm.build((None, 4, 2))
    assert [w.path for w in lstm.weights] == ["lstm/lstm_cell/kernel",
                                               "lstm/lstm_cell/recurrent_kernel",
                                               "lstm/lstm_cell/bias"]
    np.testing.assert_array_equal(lstm.get_weights()[2], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    rk = lstm.get_weights()[1]  # orthogonal over the fused (3, 12) matrix: orthonormal rows
    np.testing.assert_allclose(rk @ rk.T, np.eye(3), atol=1e-5)
    no_fb = layers.LSTM(3, unit_forget_bias=False)
    no_fb.build((None, 4, 2))
    assert not no_fb.get_weights()[2].any()
    gru = layers.GRU(3, reset_after=False)
    gru.build((None, 4, 2))
    assert gru.bias.shape == (9,)
    with pytest.raises(ValueError, match="ndim=3"):
        layers.SimpleRNN(2).build((None, 4))


def test_embedding_mask_gives_the_unpadded_result(backend):
    """Padded (pre and post) batches through Embedding(mask_zero) give each sequence's own
    result, the same as running it alone without padding."""
    gpunet.utils.set_random_seed(0)
    emb = layers.Embedding(10, 4, mask_zero=True)
    lstm = layers.LSTM(3)
    seqs = [[3, 1, 4], [1, 5, 9, 2, 6], [5]]
    post = np.zeros((3, 6), "int64")
    pre = np.zeros((3, 6), "int64")
    for i, s in enumerate(seqs):
        post[i, :len(s)] = s
        pre[i, 6 - len(s):] = s
    got_post = _np(lstm(emb(post)))
    got_pre = _np(lstm(emb(pre)))
    for i, s in enumerate(seqs):
        alone = _np(lstm(emb(np.array([s]))))[0]
        np.testing.assert_allclose(got_post[i], alone, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got_pre[i], alone, rtol=1e-5, atol=1e-6)


def test_stateful_continuation_equals_one_long_sequence(backend):
    x = _x(7, n=2, t=8)
    full = layers.GRU(3, return_sequences=True)
    want = _np(full(x))
    st = layers.GRU(3, return_sequences=True, stateful=True)
    st(x[:, :1])
    st.set_weights(full.get_weights())
    st.reset_states()
    parts = [_np(st(x[:, :3])), _np(st(x[:, 3:5])), _np(st(x[:, 5:]))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), want, rtol=1e-5, atol=1e-6)
    st.reset_states()
    np.testing.assert_allclose(_np(st(x[:, :3])), want[:, :3], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch"):
        st(x[:1, :3])
    with pytest.raises(AttributeError, match="not stateful"):
        full.reset_states()


def test_stateful_lstm_in_a_model_continues_across_predict_batches(backend):
    x = _x(8, n=4, t=6)
    model = Sequential([layers.Input(batch_shape=(4, None, 4)),
                        layers.LSTM(3, stateful=True, name="s")])
    ref = layers.LSTM(3)
    ref(x[:1])
    ref.set_weights(model.get_weights())
    model.predict(x[:, :2], batch_size=4, verbose=0)
    got = model.predict(x[:, 2:], batch_size=4, verbose=0)
    np.testing.assert_allclose(got, _np(ref(x)), rtol=1e-5, atol=1e-6)
    model.layers[0].reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=4, verbose=0), _np(ref(x)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(backend, merge_mode):
    x = _x(9)
    bi = layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode=merge_mode)
    out = bi(x)
    assert [lyr.name for lyr in bi._sublayers()] == ["forward_lstm", "backward_lstm"]
    w = bi.get_weights()
    assert len(w) == 6
    fwd, _, _ = ref_rnn("lstm", x, w[:3])
    bwd, _, _ = ref_rnn("lstm", x, w[3:], go_backwards=True)
    bwd = bwd[:, ::-1]
    want = {"concat": np.concatenate([fwd, bwd], -1), "sum": fwd + bwd, "mul": fwd * bwd,
            "ave": (fwd + bwd) / 2, None: [fwd, bwd]}[merge_mode]
    if merge_mode is None:
        for o, e in zip(out, want):
            np.testing.assert_allclose(_np(o), e, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(_np(out), want, rtol=1e-5, atol=1e-6)
        assert bi.compute_output_shape((None, 5, 4)) == (None, 5, want.shape[-1])


def test_bidirectional_masks_states_training_and_saving(backend, tmp_path, round_trip):
    x = _x(10, n=4, t=5)
    mask = np.array([[1, 1, 1, 0, 0]] * 2 + [[1, 1, 1, 1, 1]] * 2, bool)
    bi = layers.Bidirectional(layers.GRU(2, return_state=True))
    out, hf, hb = bi(Tensor(backend.asarray(x)), mask=backend.asarray(mask))
    w = bi.get_weights()
    _, rf, _ = ref_rnn("gru", x, w[:3], mask=mask)
    _, rb, _ = ref_rnn("gru", x, w[3:], mask=mask, go_backwards=True)
    np.testing.assert_allclose(_np(out), np.concatenate([rf, rb], -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(hb), rb, rtol=1e-5, atol=1e-6)
    # with return_sequences Keras forces zeros at masked steps in both directions
    seq = layers.Bidirectional(layers.SimpleRNN(2, return_sequences=True), merge_mode="sum")
    s = _np(seq(Tensor(backend.asarray(x)), mask=backend.asarray(mask)))
    assert np.all(s[:2, 3:] == 0)
    model = Sequential([layers.Input((5, 4)), layers.Bidirectional(layers.LSTM(3)),
                        layers.Dense(1)])
    assert [w.path for w in model.layers[0].weights][0] == \
        "bidirectional_2/forward_lstm/lstm_cell/kernel"
    round_trip(model, x, np.ones((4, 1), "float32"), tmp_path, atol=1e-6)


def test_time_distributed(backend, tmp_path, round_trip):
    x = _x(11, n=2, t=3, f=4)
    td = layers.TimeDistributed(layers.Dense(5))
    out = _np(td(x))
    k, b = td.get_weights()
    np.testing.assert_allclose(out, x @ k + b, rtol=1e-5, atol=1e-6)
    assert td.compute_output_shape((None, 3, 4)) == (None, 3, 5)
    model = Sequential([layers.Input((3, 4)), layers.LSTM(6, return_sequences=True),
                        layers.TimeDistributed(layers.Dense(2))])
    assert model.output_shape == (None, 3, 2)
    round_trip(model, x, np.zeros((2, 3, 2), "float32"), tmp_path, atol=1e-6)


def test_dropout_masks_are_fixed_over_time_and_off_at_inference(backend):
    """With U = 0, b = 0 and a linear activation, h_t = (x_t * mask) W: identical inputs
    at every step must give identical outputs when the mask is drawn once per call."""
    rnn = layers.SimpleRNN(6, activation=None, dropout=0.5, return_sequences=True,
                           recurrent_initializer="zeros")
    x = np.repeat(np.random.default_rng(0).normal(size=(4, 1, 8)), 5, axis=1).astype("float32")
    train = _np(rnn(x, training=True))
    assert np.allclose(train, train[:, :1])
    infer = _np(rnn(x, training=False))
    assert not np.allclose(train, infer)
    np.testing.assert_allclose(infer, np.repeat(x[:, :1] @ rnn.get_weights()[0], 5, 1),
                               rtol=1e-5, atol=1e-6)
    lstm = layers.LSTM(4, dropout=0.3, recurrent_dropout=0.3)
    a, b = _np(lstm(x, training=True)), _np(lstm(x, training=True))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(_np(lstm(x)), _np(lstm(x)))


def test_save_load_embedding_lstm_dense(backend, tmp_path, round_trip):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, (8, 7)).astype("int32")
    x[:, 5:] = 0
    model = Sequential([layers.Input((7,), dtype="int32"),
                        layers.Embedding(20, 4, mask_zero=True), layers.LSTM(5),
                        layers.Dense(1, activation="sigmoid")])
    loaded = round_trip(model, x, (x.sum(1, keepdims=True) % 2).astype("float32"), tmp_path,
                        loss="binary_crossentropy")
    assert loaded.layers[0].mask_zero and loaded.layers[1].units == 5


def test_save_load_gru_model(backend, tmp_path, round_trip):
    x = _x(12, n=6, t=4)
    model = Sequential([layers.Input((4, 4)),
                        layers.GRU(3, return_sequences=True, go_backwards=True),
                        layers.GRU(2, reset_after=False, dropout=0.2, recurrent_dropout=0.2),
                        layers.Dense(2)])
    loaded = round_trip(model, x, np.ones((6, 2), "float32"), tmp_path, atol=1e-6)
    assert loaded.layers[1].reset_after is False and loaded.layers[0].go_backwards


def test_embedding_lstm_learns_contains_a_digit(backend):
    """Does the sequence (length 3..8, right-padded with 0) contain the token 7?"""
    gpunet.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n, t = 1200, 8
    x = rng.integers(1, 10, (n, t))
    lengths = rng.integers(3, t + 1, n)
    x[np.arange(t)[None, :] >= lengths[:, None]] = 0
    y = (x == 7).any(axis=1).astype("float32")[:, None]
    model = Sequential([layers.Input((t,), dtype="int32"), layers.Embedding(10, 8, mask_zero=True),
                        layers.LSTM(16), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=gpunet.optimizers.Adam(0.02), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:1000], y[:1000], batch_size=50, epochs=6, verbose=0)
    _, acc = model.evaluate(x[1000:], y[1000:], verbose=0)
    assert acc > 0.95


def test_regularizers_constraints_config_and_freezing():
    lstm = layers.LSTM(3, kernel_regularizer="l2", recurrent_regularizer="l1",
                       bias_constraint="non_neg", recurrent_activation="hard_sigmoid",
                       unroll=True, implementation=2)
    lstm(_x(13))
    assert len(lstm.losses) == 2
    act = layers.GRU(2, return_state=True, activity_regularizer="l2")
    out, _ = act(_x(13))
    assert float(act.losses[0].data) == pytest.approx(0.01 * float((out.numpy() ** 2).sum()) / 3,
                                                      rel=1e-5)
    cfg = lstm.get_config()
    back = layers.LSTM.from_config(cfg)
    assert back.get_config() == cfg and back.recurrent_activation.__name__ == "hard_sigmoid"
    bi = layers.Bidirectional(layers.SimpleRNN(2), name="bi")
    bi(_x(14))
    assert len(bi.trainable_weights) == 6 and bi.count_params() == 2 * 2 * (4 + 2 + 1)
    bi.trainable = False
    assert not bi.trainable_weights and len(bi.non_trainable_weights) == 6
    with pytest.raises(ValueError, match="recurrent layer"):
        layers.Bidirectional(layers.Dense(2))
    with pytest.raises(ValueError, match="units"):
        layers.GRU(0)
