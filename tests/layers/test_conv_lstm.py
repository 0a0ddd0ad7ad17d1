"""ConvLSTM1D/2D against a NumPy reference with hand-written convolutions (Keras formulas)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import Sequential, layers
from gpunet.autograd.tensor import Tensor


def _conv2d(x, k, pad):
    """Stride-1 NHWC convolution with a (kh, kw, C, F) kernel by explicit loops."""
    kh, kw = k.shape[:2]
    if pad == "same":
        ph, pw = kh - 1, kw - 1
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    b, h, w, _ = x.shape
    out = np.zeros((b, h - kh + 1, w - kw + 1, k.shape[-1]))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = np.einsum("bhwc,hwcf->bf", x[:, i:i + kh, j:j + kw], k)
    return out


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _reference(x, kernel, rec, bias, padding, filters):
    b, t = x.shape[:2]
    out_hw = _conv2d(x[:, 0], kernel, padding).shape[1:3]
    h = np.zeros((b,) + out_hw + (filters,))
    c = np.zeros_like(h)
    seq = []
    for step in range(t):
        z = _conv2d(x[:, step], kernel, padding) + _conv2d(h, rec, "same") + bias
        f = filters
        i, fg = _sig(z[..., :f]), _sig(z[..., f:2 * f])
        g, o = np.tanh(z[..., 2 * f:3 * f]), _sig(z[..., 3 * f:])
        c = fg * c + i * g
        h = o * np.tanh(c)
        seq.append(h)
    return np.stack(seq, 1), h, c


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv_lstm2d_matches_the_formula(backend, padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 4, 2)).astype("float32")
    layer = layers.ConvLSTM2D(3, (3, 2), padding=padding, return_sequences=True,
                              return_state=True)
    seq, h, c = layer(Tensor(backend.asarray(x)))
    kernel, rec, bias = (backend.to_numpy(w.data).astype(np.float64) for w in layer.weights)
    assert np.allclose(bias[3:6], 1.0)  # unit_forget_bias
    want_seq, want_h, want_c = _reference(x.astype(np.float64), kernel, rec, bias, padding, 3)
    np.testing.assert_allclose(backend.to_numpy(seq.data), want_seq, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(h.data), want_h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(c.data), want_c, rtol=1e-4, atol=1e-5)


def test_conv_lstm1d_shapes_and_training(backend, round_trip, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 4, 6, 2)).astype("float32")
    layer = layers.ConvLSTM1D(3, 3)
    assert layer.compute_output_shape((None, 4, 6, 2)) == (None, 4, 3)
    m = Sequential([layers.Input((4, 6, 2)), layer, layers.Flatten(), layers.Dense(1)])
    assert m.output_shape == (None, 1)
    round_trip(m, x, rng.normal(size=(8, 1)).astype("float32"), tmp_path)


def test_conv_lstm2d_learns_and_errors_are_named(backend):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 3, 4, 4, 1)).astype("float32")
    y = (x[:, -1].mean(axis=(1, 2, 3)) > 0).astype("float32")
    m = Sequential([layers.Input((3, 4, 4, 1)), layers.ConvLSTM2D(4, 3, padding="same"),
                    layers.GlobalAveragePooling2D(), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy")
    h = m.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    with pytest.raises(ValueError, match="rank 5"):
        layers.ConvLSTM2D(2, 3)(Tensor(np.ones((2, 3, 4, 1), "float32")))
    with pytest.raises(ValueError, match="channels_last"):
        layers.ConvLSTM2D(2, 3, data_format="channels_first")


def test_conv_lstm_dropout_only_in_training(backend):
    x = Tensor(backend.asarray(np.ones((2, 3, 4, 4, 1), "float32")))
    layer = layers.ConvLSTM2D(2, 3, padding="same", dropout=0.5, recurrent_dropout=0.5, seed=1)
    infer1 = backend.to_numpy(layer(x, training=False).data)
    infer2 = backend.to_numpy(layer(x, training=False).data)
    np.testing.assert_array_equal(infer1, infer2)
    train = backend.to_numpy(layer(x, training=True).data)
    assert not np.allclose(train, infer1)
    cfg = layer.get_config()
    assert cfg["dropout"] == 0.5 and cfg["recurrent_dropout"] == 0.5 and cfg["seed"] == 1
    back = layers.ConvLSTM2D.from_config(cfg)
    assert back.cell.dropout == 0.5
