"""RNN(cell): built-in cells reproduce the fused layers; custom cells, stacking, masks, state,
save/load."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers, ops
from gpunet.autograd.tensor import Tensor

RNG = np.random.default_rng(0)


def _x(b=3, t=5, f=4):
    return RNG.normal(size=(b, t, f)).astype("float32")


@pytest.mark.parametrize("cell_cls,layer_cls,kw", [
    (layers.SimpleRNNCell, layers.SimpleRNN, {}),
    (layers.LSTMCell, layers.LSTM, {}),
    (layers.GRUCell, layers.GRU, {}),
    (layers.GRUCell, layers.GRU, {"reset_after": False}),
])
@pytest.mark.parametrize("seq,back", [(False, False), (True, True)])
def test_cells_match_the_fused_layers(backend, cell_cls, layer_cls, kw, seq, back):
    x = backend.asarray(_x())
    fused = layer_cls(6, return_sequences=seq, go_backwards=back, **kw)
    want = fused(Tensor(x))
    generic = layers.RNN(cell_cls(6, **kw), return_sequences=seq, go_backwards=back)
    generic(Tensor(x))
    generic.set_weights(fused.get_weights())
    got = generic(Tensor(x))
    np.testing.assert_allclose(backend.to_numpy(got.data), backend.to_numpy(want.data),
                               rtol=1e-5, atol=1e-6)
    assert [w.name for w in generic.weights] == [w.name for w in fused.weights]


def test_masked_steps_keep_the_state_like_the_fused_lstm(backend):
    ids = np.array([[3, 1, 2, 0, 0], [4, 4, 1, 2, 3]])
    emb = layers.Embedding(6, 4, mask_zero=True)
    fused, generic = layers.LSTM(5), layers.RNN(layers.LSTMCell(5))
    e = emb(Tensor(backend.asarray(ids)))
    want = fused(e)
    generic(e)
    generic.set_weights(fused.get_weights())
    np.testing.assert_allclose(backend.to_numpy(generic(e).data),
                               backend.to_numpy(want.data), rtol=1e-5, atol=1e-6)


class MinimalRNNCell(layers.Layer):
    """The cell of Keras's RNN documentation: h = x·W + tanh(h_prev)·U."""

    def __init__(self, units, **kw):
        super().__init__(**kw)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.w = self.add_weight("kernel", (input_shape[-1], self.units))
        self.u = self.add_weight("recurrent_kernel", (self.units, self.units))

    def call(self, x, states, training=None):
        h = ops.matmul(x, self.w) + ops.matmul(ops.tanh(states[0]), self.u)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_custom_cell_values_by_hand_and_gradients_flow(backend):
    x = _x(2, 3, 4)
    layer = layers.RNN(MinimalRNNCell(3), return_sequences=True, return_state=True)
    seq, state = layer(Tensor(backend.asarray(x)))
    w, u = (backend.to_numpy(v.data) for v in layer.weights)
    h = np.zeros((2, 3), "float32")
    outs = []
    for t in range(3):
        h = x[:, t] @ w + np.tanh(h) @ u
        outs.append(h)
    np.testing.assert_allclose(backend.to_numpy(seq.data), np.stack(outs, 1), rtol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(state.data), h, rtol=1e-5)
    ops.sum(seq).backward()
    assert all(v.grad is not None and np.abs(backend.to_numpy(v.grad)).sum() > 0
               for v in layer.weights)


def test_stacked_cells_equal_two_layers(backend):
    x = backend.asarray(_x())
    stacked = layers.RNN([layers.SimpleRNNCell(5), layers.GRUCell(3)])
    first = layers.RNN(layers.SimpleRNNCell(5), return_sequences=True)
    second = layers.RNN(layers.GRUCell(3))
    stacked(Tensor(x))
    first(Tensor(x))
    second(first(Tensor(x)))
    w = stacked.get_weights()
    first.set_weights(w[:3])
    second.set_weights(w[3:])
    np.testing.assert_allclose(backend.to_numpy(stacked(Tensor(x)).data),
                               backend.to_numpy(second(first(Tensor(x))).data), rtol=1e-5)


def test_stateful_continues_one_long_sequence(backend):
    x = _x(2, 6, 4)
    whole = layers.RNN(layers.GRUCell(3))
    want = whole(Tensor(backend.asarray(x)))
    parts = layers.RNN(layers.GRUCell(3), stateful=True)
    parts(Tensor(backend.asarray(x[:, :3])))
    parts.set_weights(whole.get_weights())
    parts.reset_states()
    parts(Tensor(backend.asarray(x[:, :3])))
    got = parts(Tensor(backend.asarray(x[:, 3:])))
    np.testing.assert_allclose(backend.to_numpy(got.data), backend.to_numpy(want.data),
                               rtol=1e-5, atol=1e-6)


def test_round_trip_with_custom_cell_and_training(backend, round_trip, tmp_path):
    gpunet.registry.register_serializable("test_cells")(MinimalRNNCell)
    m = Sequential([layers.Input((5, 4)), layers.RNN(layers.LSTMCell(4)),
                    layers.Dense(1)])
    round_trip(m, _x(6, 5, 4), RNG.normal(size=(6, 1)).astype("float32"), tmp_path)
    m2 = Sequential([layers.Input((5, 4)), layers.RNN(MinimalRNNCell(3)), layers.Dense(1)])
    m2.compile(optimizer="adam", loss="mse")
    h = m2.fit(_x(32, 5, 4), np.zeros((32, 1), "float32"), epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    path = tmp_path / "custom.h5"
    m2.save(path)
    back = gpunet.models.load_model(path)
    np.testing.assert_allclose(back.predict(_x(2, 5, 4) * 0 + 1, verbose=0),
                               m2.predict(_x(2, 5, 4) * 0 + 1, verbose=0), rtol=1e-6)


def test_bad_cell_and_input_rank_are_named():
    with pytest.raises(ValueError, match="state_size"):
        layers.RNN(object())
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.RNN(layers.SimpleRNNCell(2))(Tensor(np.ones((2, 3), "float32")))


def test_cell_dropout_one_mask_per_sequence_and_identity_at_inference(backend):
    x = Tensor(backend.asarray(np.ones((4, 6, 5), "float32")))
    cell = layers.SimpleRNNCell(3, dropout=0.5, recurrent_dropout=0.3, seed=3,
                                activation="linear", recurrent_initializer="zeros",
                                kernel_initializer="ones", use_bias=False)
    layer = layers.RNN(cell, return_sequences=True)
    train = backend.to_numpy(layer(x, training=True).data)
    # zero recurrent kernel: each step is x_t · (mask ⊙ 1) — the same mask at every step
    np.testing.assert_allclose(train, np.repeat(train[:, :1], 6, axis=1), rtol=1e-6)
    kept = train[:, 0, 0] / 2.0  # inputs are ones: (count of kept features) / (1 - 0.5)
    assert set(np.round(kept).astype(int)) <= set(range(6)) and kept.std() > 0
    infer = backend.to_numpy(layer(x, training=False).data)
    np.testing.assert_allclose(infer, 5.0)  # no dropout at inference
    again = backend.to_numpy(layer(x, training=True).data)
    assert not np.array_equal(again, train)  # a fresh mask for the next sequence
    cfg = cell.get_config()
    assert cfg["dropout"] == 0.5 and cfg["recurrent_dropout"] == 0.3 and cfg["seed"] == 3
