"""Embedding (lookup, scatter-add gradient, mask_zero, integer inputs end to end) and Masking."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.autograd.tensor import Tensor


def test_lookup_values_defaults_and_mask(backend):
    emb = layers.Embedding(6, 3, mask_zero=True)
    ids = np.array([[1, 5, 0], [0, 2, 2]])
    out = emb(Tensor(backend.asarray(ids)))
    table = emb.get_weights()[0]
    assert table.shape == (6, 3) and np.abs(table).max() <= 0.05  # uniform(-0.05, 0.05)
    assert [w.path for w in emb.weights] == ["embedding/embeddings"]
    np.testing.assert_array_equal(out.numpy(), table[ids])
    np.testing.assert_array_equal(backend.to_numpy(out._keras_mask), ids != 0)
    assert layers.Embedding(6, 3)(ids)._keras_mask is None
    assert emb.compute_output_shape((None, 3)) == (None, 3, 3)
    # float ids (Keras 2 models feed token ids as float32) are cast, not rounded away
    np.testing.assert_array_equal(emb(ids.astype("float32")).numpy(), table[ids])


def test_gradient_is_a_scatter_add_over_repeated_ids(backend):
    emb = layers.Embedding(5, 2)
    ids = Tensor(backend.asarray(np.array([[1, 1, 3], [3, 1, 0]])))
    out = emb(ids)
    g = np.arange(12.0, dtype="float32").reshape(2, 3, 2)
    out.backward(backend.asarray(g))
    want = np.zeros((5, 2), "float32")
    for (i, j), k in np.ndenumerate(ids.numpy()):
        want[k] += g[i, j]
    np.testing.assert_allclose(backend.to_numpy(emb.embeddings.grad), want)


def test_out_of_range_ids_raise():
    """Checked on the CPU (on a GPU the check would cost a device-to-host sync per batch)."""
    with gpunet.backend.device("cpu"):
        emb = layers.Embedding(4, 2)
        with pytest.raises(ValueError, match="index 4 is out of range.*input_dim=4"):
            emb(np.array([[1, 4]]))
        with pytest.raises(ValueError, match="index -1"):
            emb(np.array([[-1, 2]]))
    with pytest.raises(ValueError, match="positive"):
        layers.Embedding(0, 2)


def test_training_feeds_integer_ids_unchanged_and_only_used_rows_move(backend):
    seen = []

    class Spy(layers.Embedding):
        def call(self, inputs, training=None):
            seen.append(inputs.dtype)
            return super().call(inputs, training)

    gpunet.utils.set_random_seed(0)
    model = Sequential([layers.Input((4,), dtype="int32"), Spy(50, 3, name="spy"),
                        layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[1, 2, 3, 2], [3, 3, 1, 2]], "int64")
    before = model.get_weights()[0]
    model.fit(x, np.ones((2, 1), "float32"), epochs=1, batch_size=2, verbose=0)
    after = model.get_weights()[0]
    assert all(d.kind == "i" for d in seen), seen
    moved = np.flatnonzero(np.abs(after - before).sum(1))
    np.testing.assert_array_equal(moved, [1, 2, 3])
    model.predict(x, verbose=0)
    assert all(d.kind == "i" for d in seen)


def test_embedding_config_and_regularizer():
    # Keras 3.15: input_length is ignored with this warning and left out of the config
    with pytest.warns(UserWarning, match=r"Argument `input_length` is deprecated\. Just remove"):
        emb = layers.Embedding(10, 4, embeddings_regularizer="l2", mask_zero=True,
                               input_length=7, embeddings_constraint="non_neg")
    cfg = emb.get_config()
    assert "input_length" not in cfg and cfg["mask_zero"] is True
    assert cfg["embeddings_initializer"]["class_name"] == "RandomUniform"
    back = layers.Embedding.from_config(cfg)
    assert back.get_config() == cfg
    emb(np.array([[1, 2]]))
    assert len(emb.losses) == 1


def test_masking_zeroes_and_masks_padded_steps(backend):
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    x[0, 3:] = -1.0
    x[1, :2] = -1.0
    masking = layers.Masking(mask_value=-1.0)
    out = masking(Tensor(backend.asarray(x)))
    want_mask = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1]], bool)
    np.testing.assert_array_equal(backend.to_numpy(out._keras_mask), want_mask)
    np.testing.assert_array_equal(out.numpy(), x * want_mask[..., None])
    # Masking -> LSTM equals the LSTM on each sample's valid steps alone
    lstm = layers.LSTM(3)
    got = lstm(out).numpy()
    np.testing.assert_allclose(got[0], lstm(x[:1, :3]).numpy()[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], lstm(x[1:, 2:]).numpy()[0], rtol=1e-5, atol=1e-6)
    assert layers.Masking.from_config(masking.get_config()).mask_value == -1.0


def test_masked_sequence_loss_ignores_padded_steps(backend):
    """A mask that reaches the model output (return_sequences) is applied to the loss."""
    gpunet.utils.set_random_seed(1)
    model = Sequential([layers.Input((4,), dtype="int32"), layers.Embedding(5, 2, mask_zero=True),
                        layers.SimpleRNN(2, return_sequences=True)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[1, 2, 0, 0]])
    y = np.zeros((1, 4, 2), "float32")
    y_bad = y.copy()
    y_bad[0, 2:] = 100.0  # targets at padded steps must not matter
    assert model.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y_bad, verbose=0))
