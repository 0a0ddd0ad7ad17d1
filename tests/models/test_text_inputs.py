"""Models that take raw strings (``Input(dtype="string")`` feeding ``TextVectorization``), as
the keras.io text-classification example's end-to-end model: ``fit``/``evaluate``/``predict``
take string arrays and datasets of string batches. The strings stay on the host; the model
must train exactly as the same network does on the integer ids ``TextVectorization`` makes
(the reference path). Also Keras 3's rank adjustment of Functional inputs: ``(batch,)`` data
for ``Input(shape=(1,))`` gets its trailing axis, ``(batch, n, 1)`` for ``(n,)`` loses it."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet as keras
from gpunet import layers
from gpunet.utils import text_dataset_from_directory

TEXTS = ["good fine", "bad poor", "nice good", "awful bad", "fine", "poor awful bad"] * 6
LABELS = np.array([1, 0, 1, 0, 1, 0] * 6)


def _vectorizer():
    v = layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    v.adapt(["good fine nice", "bad awful poor"])
    return v


def _numeric():
    ids = keras.Input((4,), dtype="int64")
    x = layers.GlobalAveragePooling1D()(layers.Embedding(20, 3)(ids))
    return keras.Model(ids, layers.Dense(1, activation="sigmoid")(x))


def _pair():
    v = _vectorizer()
    inner = _numeric()
    w0 = inner.get_weights()
    text = keras.Input((1,), dtype="string")
    end_to_end = keras.Model(text, inner(v(text)))
    reference = _numeric()
    reference.set_weights(w0)
    for m in (end_to_end, reference):
        m.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5),
                  metrics=["accuracy"])
    return v, end_to_end, reference


def test_string_arrays_train_as_their_ids(backend):
    v, end_to_end, reference = _pair()
    xs = np.array(TEXTS, dtype=object)[:, None]
    ids = np.asarray(v(xs).numpy())
    h_s = end_to_end.fit(xs, LABELS, batch_size=8, epochs=3, shuffle=False, verbose=0)
    h_i = reference.fit(ids, LABELS, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_s.history["loss"], h_i.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(end_to_end.predict(xs, verbose=0),
                               reference.predict(ids, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(end_to_end.evaluate(xs, LABELS, verbose=0),
                               reference.evaluate(ids, LABELS, verbose=0), rtol=1e-5)


def test_shuffled_fit_and_validation_split_with_strings(backend):
    _, end_to_end, _ = _pair()
    xs = np.array(TEXTS, dtype=str)[:, None]  # fixed-width str dtype works too
    h = end_to_end.fit(xs, LABELS, batch_size=5, epochs=2, shuffle=True,
                       validation_split=0.25, verbose=0)
    assert len(h.history["val_loss"]) == 2


def test_text_dataset_batches_feed_the_model(backend, tmp_path):
    for cls, texts in (("neg", ["bad poor", "awful"]), ("pos", ["good fine", "nice"])):
        (tmp_path / cls).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / cls / f"{i}.txt").write_text(t)
    ds = text_dataset_from_directory(tmp_path, batch_size=3, shuffle=False, verbose=False)
    v, end_to_end, reference = _pair()
    # texts come as (batch,) while the model's input is (batch, 1): Keras's rank adjustment
    loss_s = end_to_end.evaluate(ds, verbose=0)
    ids = np.asarray(v(np.array(["bad poor", "awful", "good fine", "nice"], dtype=object)
                       [:, None]).numpy())
    loss_i = reference.evaluate(ids, np.array([0, 0, 1, 1]), batch_size=3, verbose=0)
    np.testing.assert_allclose(loss_s, loss_i, rtol=1e-5)
    end_to_end.fit(ds, epochs=1, verbose=0)


def test_strings_as_targets_still_rejected():
    _, end_to_end, _ = _pair()
    xs = np.array(TEXTS, dtype=object)[:, None]
    with pytest.raises(TypeError, match="`y` must hold numbers"):
        end_to_end.fit(xs, np.array(["a"] * len(TEXTS), dtype=object), verbose=0)


def test_functional_input_rank_adjusted_as_keras(backend):
    inp = keras.Input((1,))
    m = keras.Model(inp, layers.Dense(2, kernel_initializer="ones")(inp))
    x = np.arange(4, dtype="float32")
    np.testing.assert_allclose(m.predict(x, verbose=0), np.stack([x, x], axis=1))
    inp3 = keras.Input((3,))
    m3 = keras.Model(inp3, layers.Dense(1, kernel_initializer="ones")(inp3))
    x3 = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(m3.predict(x3[..., None], verbose=0), [[3.0], [12.0]])
    with pytest.raises(ValueError, match="incompatible"):
        m3.predict(np.ones((2, 4), "float32"), verbose=0)


def test_sequential_starting_with_text_vectorization(backend):
    v = _vectorizer()
    model = keras.Sequential([v, layers.Embedding(20, 3), layers.GlobalAveragePooling1D(),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    xs = np.array(TEXTS, dtype=object)
    model.fit(xs, LABELS, batch_size=6, epochs=1, verbose=0)
    assert model.predict(xs[:4], verbose=0).shape == (4, 1)
