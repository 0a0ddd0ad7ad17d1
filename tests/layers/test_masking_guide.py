"""Masks as the keras.io guide "Understanding masking & padding" uses them, against what Keras
3.15 (JAX) printed for the same code: a layer returning a list gets one mask per output from
its ``compute_mask`` list; a Functional-API tensor has the symbolic ``_keras_mask`` Keras
gives it; a mask consumer finds its mask during the symbolic build; a layer that drops a mask
says so with Keras's warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpunet as keras
from gpunet import layers, ops
from gpunet.autograd.tensor import Tensor

PADDED = np.array([[711, 632, 71, 0, 0, 0], [73, 8, 3215, 55, 927, 0],
                   [83, 91, 1, 645, 1253, 927]])


class TemporalSplit(layers.Layer):
    """The guide's layer: splits the time axis in two and the mask with it."""

    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.split(mask, 2, axis=1)


class NoMasking(layers.Layer):
    def call(self, x):
        return x * 2


class ZeroMasked(layers.Layer):
    """A mask consumer that refuses to run without a mask (as the guide's TemporalSoftmax)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        return inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)


def _mask(t, backend):
    m = t._keras_mask
    return backend.to_numpy(m.data if isinstance(m, Tensor) else m)


def test_list_outputs_get_one_mask_each(backend):
    embedded = Tensor(backend.asarray(np.repeat(PADDED[..., None], 10, -1).astype("float32")))
    masked = layers.Masking()(embedded)
    first, second = TemporalSplit()(masked)
    # printed by Keras 3.15 for the guide's `print(first_half._keras_mask)` and second half
    np.testing.assert_array_equal(_mask(first, backend), np.ones((3, 3), bool))
    np.testing.assert_array_equal(_mask(second, backend), [[False, False, False],
                                                           [True, True, False],
                                                           [True, True, True]])
    assert first.shape == (3, 3, 10) and second.shape == (3, 3, 10)


def test_symbolic_masks_are_the_ones_keras_gives():
    inp = keras.Input(shape=(None,), dtype="int32")
    emb = layers.Embedding(10, 4, mask_zero=True)(inp)
    # Keras 3.15: <KerasTensor shape=(None, None), dtype=bool, ...> where a mask flows
    for t in (emb, layers.Dense(3)(emb), layers.LSTM(2, return_sequences=True)(emb),
              layers.Masking()(keras.Input((None, 5)))):
        assert isinstance(t._keras_mask, keras.KerasTensor)
        assert (t._keras_mask.shape, t._keras_mask.dtype) == ((None, None), "bool")
        assert repr(t._keras_mask).startswith("<KerasTensor shape=(None, None), dtype=bool")
    # ... and no mask where Keras 3.15 has none
    for t in (inp, layers.GlobalAveragePooling1D()(emb), layers.LSTM(2)(emb),
              layers.Embedding(10, 4)(inp)):
        assert t._keras_mask is None
    with pytest.warns(UserWarning, match="does not support masking"):
        assert NoMasking()(Tensor(np.ones((1, 2, 4), "float32")), mask=np.ones(
            (1, 2), bool))._keras_mask is None
    assert NoMasking()(emb)._keras_mask is None


def test_mask_consumer_gets_its_mask_in_the_functional_build(backend):
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=3, mask_zero=True)(inputs)
    outputs = ZeroMasked()(x)  # asserts a mask during the build, as Keras 3 passes one
    model = keras.Model(inputs, outputs)
    ids = np.array([[1, 2, 0, 0], [3, 0, 4, 0]])
    out = backend.to_numpy(model(backend.asarray(ids)).data)
    table = backend.to_numpy(model.layers[1].embeddings.data)
    np.testing.assert_allclose(out, table[ids] * (ids != 0)[..., None], rtol=1e-6)


def test_a_layer_dropping_a_mask_warns_as_keras(backend):
    x = layers.Embedding(10, 4, mask_zero=True)(backend.asarray(np.array([[1, 2, 0]])))
    with pytest.warns(UserWarning) as record:
        y = NoMasking(name="no_mask")(x)
    assert y._keras_mask is None
    # the text Keras 3.15 gives
    assert str(record[0].message) == (
        "Layer 'no_mask' (of type NoMasking) was passed an input with a mask attached to it. "
        "However, this layer does not support masking and will therefore destroy the mask "
        "information. Downstream layers will not see the mask.")


def test_gpunet_layers_own_sublayers_do_not_warn(backend):
    x = layers.Embedding(10, 4, mask_zero=True)(backend.asarray(np.array([[1, 2, 0]])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layers.MultiHeadAttention(num_heads=2, key_dim=2)(x, x)
    np.testing.assert_array_equal(_mask(y, backend), [[True, True, False]])
