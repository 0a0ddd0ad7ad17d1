"""Generators and Sequences for models with several inputs and outputs; per-output
class_weight; Model.reset_states()."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Input, Model, Sequential, layers, optimizers
from gpunet.utils import Sequence

RNG = np.random.default_rng(1)
N, B = 16, 4
XA = RNG.normal(size=(N, 3)).astype("float32")
XB = RNG.normal(size=(N, 2)).astype("float32")
YR = RNG.normal(size=(N, 1)).astype("float32")
YC = RNG.integers(0, 3, N)


def _model():
    gpunet.utils.set_random_seed(3)
    a, b = Input((3,), name="a"), Input((2,), name="b")
    h = layers.concatenate([layers.Dense(4, activation="tanh", name="ha")(a), b])
    model = Model([a, b], [layers.Dense(1, name="r")(h),
                           layers.Dense(3, activation="softmax", name="c")(h)])
    model.compile(optimizers.SGD(0.1), loss={"r": "mse", "c": "sparse_categorical_crossentropy"},
                  metrics={"c": ["accuracy"]})
    return model


def _batches(as_dict: bool):
    for i in range(0, N, B):
        s = slice(i, i + B)
        if as_dict:
            yield {"a": XA[s], "b": XB[s]}, {"r": YR[s], "c": YC[s]}
        else:
            yield [XA[s], XB[s]], [YR[s], YC[s]]


def _forever(as_dict: bool):
    while True:
        yield from _batches(as_dict)


class _Seq(Sequence):
    def __len__(self):
        return N // B

    def __getitem__(self, i):
        s = slice(i * B, (i + 1) * B)
        return (XA[s], XB[s]), {"r": YR[s], "c": YC[s]}


def _close(h1, h2, w1, w2):
    assert h1.history.keys() == h2.history.keys()
    for k in h1.history:
        np.testing.assert_allclose(h1.history[k], h2.history[k], rtol=1e-5, err_msg=k)
    for p, q in zip(w1, w2, strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


def test_generator_and_sequence_match_arrays(backend):
    ref = _model()
    h_arr = ref.fit([XA, XB], [YR, YC], batch_size=B, epochs=2, shuffle=False, verbose=0,
                    validation_data=([XA, XB], [YR, YC]))
    assert set(h_arr.history) >= {"loss", "r_loss", "c_loss", "c_accuracy", "val_loss"}
    gen = _model()
    h_gen = gen.fit(_forever(True), steps_per_epoch=N // B, epochs=2, verbose=0,
                    validation_data=_forever(False), validation_steps=N // B)
    _close(h_arr, h_gen, ref.get_weights(), gen.get_weights())
    seq = _model()
    h_seq = seq.fit(_Seq(), epochs=2, shuffle=False, verbose=0, validation_data=_Seq())
    _close(h_arr, h_seq, ref.get_weights(), seq.get_weights())
    want = ref.evaluate([XA, XB], [YR, YC], batch_size=B, verbose=0)
    np.testing.assert_allclose(seq.evaluate(_batches(False), verbose=0), want, rtol=1e-5)
    np.testing.assert_allclose(seq.evaluate(_Seq(), verbose=0), want, rtol=1e-5)
    pred = ref.predict([XA, XB], verbose=0)
    for from_stream in (seq.predict(_Seq(), verbose=0),
                        seq.predict(([XA[i:i + B], XB[i:i + B]] for i in range(0, N, B)),
                                    verbose=0)):
        for p, q in zip(from_stream, pred, strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


def test_stream_batch_errors_name_the_batch(backend):
    model = _model()

    def bad():
        yield [XA[:4], XB[:3]], [YR[:4], YC[:4]]

    with pytest.raises(ValueError, match="Batch 0.*x\\[1\\] has 3"):
        model.fit(bad(), verbose=0)

    def wrong_keys():
        yield {"a": XA[:4], "zz": XB[:4]}, [YR[:4], YC[:4]]

    with pytest.raises(ValueError, match="Batch 0.*zz"):
        model.fit(wrong_keys(), verbose=0)


def test_class_weight_per_output_equals_sample_weight(backend):
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    by_hand = np.array([cw[int(c)] for c in YC], "float32")
    ref = _model()
    ref.fit([XA, XB], [YR, YC], batch_size=B, shuffle=False, verbose=0,
            sample_weight={"c": by_hand})
    arr = _model()
    arr.fit([XA, XB], [YR, YC], batch_size=B, shuffle=False, verbose=0,
            class_weight={"c": cw})
    gen = _model()
    gen.fit(_batches(True), verbose=0, class_weight={"c": cw})
    for other in (arr, gen):
        for p, q in zip(ref.get_weights(), other.get_weights(), strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    # Keras 2 multiplies class and sample weights
    both = _model()
    both.fit([XA, XB], [YR, YC], batch_size=B, shuffle=False, verbose=0,
             class_weight={"c": cw}, sample_weight={"c": np.full(N, 2.0, "float32")})
    twice = _model()
    twice.fit([XA, XB], [YR, YC], batch_size=B, shuffle=False, verbose=0,
              sample_weight={"c": 2 * by_hand})
    for p, q in zip(both.get_weights(), twice.get_weights(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="dict keyed by output name"):
        _model().fit([XA, XB], [YR, YC], class_weight=cw, verbose=0)
    with pytest.raises(ValueError, match="Unknown output names.*nope"):
        _model().fit([XA, XB], [YR, YC], class_weight={"nope": cw}, verbose=0)


def test_reset_states_on_models(backend):
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    seq = Sequential([Input(batch_shape=(2, 5, 3)), layers.LSTM(4, stateful=True),
                      layers.Dense(1)])
    assert seq.stateful
    first = seq.predict_on_batch(x)
    assert not np.allclose(seq.predict_on_batch(x), first)  # states carried over
    seq.reset_states()
    np.testing.assert_allclose(seq.predict_on_batch(x), first, rtol=1e-6)
    inp = Input(batch_shape=(2, 5, 3))
    outer = Model(inp, layers.GRU(2, stateful=True, name="g")(inp) + seq(inp)[:, :1] * 0)
    outer.predict_on_batch(x)
    assert outer.get_layer("g").states is not None
    outer.reset_states()  # reaches the nested Sequential too
    assert outer.get_layer("g").states is None
    np.testing.assert_allclose(seq.predict_on_batch(x), first, rtol=1e-6)
    plain = Sequential([Input((3,)), layers.Dense(1)])
    assert not plain.stateful
    plain.reset_states()  # nothing to reset: no error


def test_one_output_functional_takes_named_batches_and_class_weight(backend):
    def build():
        gpunet.utils.set_random_seed(5)
        x = Input((3,), name="feat")
        model = Model(x, layers.Dense(3, activation="softmax", name="out")(x))
        model.compile(optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        return model

    cw = {0: 2.0, 1: 1.0, 2: 0.5}
    ref = build()
    ref.fit(XA, YC, batch_size=B, shuffle=False, verbose=0, class_weight=cw)
    named = build()
    batches = (({"feat": XA[i:i + B]}, {"out": YC[i:i + B]}) for i in range(0, N, B))
    named.fit(batches, verbose=0, class_weight={"out": cw})
    for p, q in zip(ref.get_weights(), named.get_weights(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(named.predict(({"feat": XA[i:i + B]} for i in range(0, N, B)),
                                             verbose=0), ref.predict(XA, verbose=0), rtol=1e-5)
