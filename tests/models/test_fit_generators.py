"""fit / evaluate / predict fed by generators, iterators and Sequences."""

from __future__ import annotations

import threading
import time
import traceback
import warnings

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import Callback, EarlyStopping
from gpunet.utils.sequence import PyDataset, Sequence

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 4)).astype("float32")
Y = RNG.normal(size=(60, 2)).astype("float32")
W = RNG.uniform(0.0, 2.0, size=60).astype("float32")
BS = 10
NB = 6


def _model(loss="mse", units=2, seed=3):
    gpunet.utils.set_random_seed(seed)
    m = gpunet.Sequential([gpunet.Input((4,)), gpunet.layers.Dense(5, activation="tanh"),
                           gpunet.layers.Dense(units)])
    m.compile(optimizer=gpunet.optimizers.SGD(0.1), loss=loss)
    return m


def _batch(i, with_w=False):
    sl = slice(i * BS, (i + 1) * BS)
    return (X[sl], Y[sl], W[sl]) if with_w else (X[sl], Y[sl])


class Batches(Sequence):
    """The rows of X/Y in batches of BS; records indices and epoch ends."""

    def __init__(self, with_w=False, delay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.with_w, self.delay = with_w, delay
        self.calls, self.epoch_ends, self.threads = [], 0, set()

    def __len__(self):
        return NB

    def __getitem__(self, i):
        self.calls.append(i)
        self.threads.add(threading.get_ident())
        if self.delay:
            time.sleep(self.delay * ((7 * i) % 3))  # out-of-order completion with workers
        return _batch(i, self.with_w)

    def on_epoch_end(self):
        self.epoch_ends += 1


def _endless(with_w=False):
    while True:
        for i in range(NB):
            yield _batch(i, with_w)


def _finite(n, with_w=False):
    for i in range(n):
        yield _batch(i % NB, with_w)


def _assert_same_weights(m1, m2):
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


class _Reiterable:
    """A re-iterable (not an iterator): every epoch is a fresh pass."""

    def __iter__(self):
        return _finite(NB)


# -- same weights as the array path ------------------------------------------------------------
def test_streams_reach_the_array_path_weights(backend):
    ref = _model()
    ref.fit(X, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    sources = [
        dict(x=_endless(), steps_per_epoch=NB),
        dict(x=Batches(), shuffle=False),
        dict(x=Batches(workers=3), shuffle=False),
        dict(x=Batches(workers=0), shuffle=False),
        dict(x=_Reiterable()),
    ]
    for kw in sources:
        m = _model()
        m.fit(epochs=2, verbose=0, **kw)
        assert m.backend is backend
        _assert_same_weights(ref, m)
    one = _model()
    one.fit(_finite(NB), verbose=0)  # no steps: one epoch, until exhausted
    ref1 = _model()
    ref1.fit(X, Y, batch_size=BS, epochs=1, shuffle=False, verbose=0)
    _assert_same_weights(ref1, one)


def test_generator_training_matches_hand_computed_sgd():
    m = gpunet.Sequential([gpunet.Input((4,)), gpunet.layers.Dense(1)])
    m.compile(optimizer=gpunet.optimizers.SGD(0.05), loss="mse")
    w0 = np.linspace(-0.5, 0.5, 4).reshape(4, 1).astype("float32")
    m.set_weights([w0, np.zeros(1, "float32")])
    yy = Y[:, :1]
    m.fit(((X[i * BS:(i + 1) * BS], yy[i * BS:(i + 1) * BS]) for i in range(NB)), verbose=0)
    k, b = w0.astype(np.float64), np.zeros(1)
    for i in range(NB):  # MSE gradient written out: 2/B * x^T (xk + b - y)
        xb, yb = X[i * BS:(i + 1) * BS].astype(np.float64), yy[i * BS:(i + 1) * BS]
        r = xb @ k + b - yb
        k, b = k - 0.05 * 2 / BS * xb.T @ r, b - 0.05 * 2 / BS * r.sum(0)
    np.testing.assert_allclose(m.get_weights()[0], k, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.get_weights()[1], b, rtol=1e-5, atol=1e-6)


def test_sample_and_class_weights_from_streams(backend):
    ref = _model()
    ref.fit(X, Y, sample_weight=W, batch_size=BS, epochs=1, shuffle=False, verbose=0)
    m = _model()
    m.fit(Batches(with_w=True), shuffle=False, verbose=0)
    _assert_same_weights(ref, m)
    g = _model()
    g.fit(_finite(NB, with_w=True), verbose=0)
    _assert_same_weights(ref, g)
    frozen = _model()  # all-zero weights: no gradient, the weights do not move
    before = frozen.get_weights()
    frozen.fit(((X[:BS], Y[:BS], np.zeros(BS)) for _ in range(3)), verbose=0)
    for a, b in zip(before, frozen.get_weights()):
        np.testing.assert_array_equal(a, b)
    labels = (np.arange(60) % 3).astype("int64")
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    ref = _model("sparse_categorical_crossentropy", units=3)
    ref.fit(X, labels, class_weight=cw, batch_size=BS, shuffle=False, verbose=0)
    seq = _model("sparse_categorical_crossentropy", units=3)
    seq.fit(((X[i * BS:(i + 1) * BS], labels[i * BS:(i + 1) * BS]) for i in range(NB)),
            class_weight=cw, verbose=0)
    _assert_same_weights(ref, seq)


# -- Sequence epochs -----------------------------------------------------------------------
def test_sequence_shuffles_batch_order_and_calls_on_epoch_end():
    gpunet.utils.set_random_seed(7)
    seq = Batches()
    val = Batches()
    m = _model()
    m.fit(seq, epochs=4, verbose=0, validation_data=val)
    assert seq.epoch_ends == 4 and val.epoch_ends == 4
    epochs = [seq.calls[i * NB:(i + 1) * NB] for i in range(4)]
    assert all(sorted(e) == list(range(NB)) for e in epochs)
    assert any(e != list(range(NB)) for e in epochs)  # shuffled (P(all sorted) = 720**-4)
    assert len({tuple(e) for e in epochs}) > 1  # a new order each epoch
    assert val.calls == list(range(NB)) * 4  # validation is never shuffled
    plain = Batches()
    _model().fit(plain, epochs=2, shuffle=False, verbose=0)
    assert plain.calls == list(range(NB)) * 2 and plain.epoch_ends == 2
    part = Batches()
    _model().fit(part, epochs=2, steps_per_epoch=4, shuffle=False, verbose=0)
    assert part.calls == [0, 1, 2, 3] * 2


def test_pydataset_alias_and_keras3_constructor():
    assert PyDataset is Sequence
    s = Batches(workers=2, use_multiprocessing=False, max_queue_size=3)
    assert (s.workers, s.use_multiprocessing, s.max_queue_size) == (2, False, 3)
    assert s.num_batches == NB and len(list(s)) == NB

    class Keras2Style(Sequence):  # no super().__init__()
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return X[:4], Y[:4]

    k2 = Keras2Style()
    assert (k2.workers, k2.max_queue_size, k2.use_multiprocessing) == (1, 10, False)
    _model().fit(k2, verbose=0)
    with pytest.raises(ValueError, match="workers"):
        Batches(workers=-1)


def test_workers_keep_order_and_run_on_several_threads():
    seq = Batches(workers=4, delay=0.004, max_queue_size=6)
    m = _model()
    out = m.predict(seq, verbose=0)
    np.testing.assert_allclose(out, m.predict(X, verbose=0), rtol=1e-6, atol=1e-6)
    assert len(seq.threads) > 1 and threading.get_ident() not in seq.threads
    # fit-time kwargs (Keras 2 spelling) override the Sequence's own settings
    seq2 = Batches(delay=0.002)
    ref = _model()
    ref.fit(X, Y, batch_size=BS, shuffle=False, verbose=0)
    m2 = _model()
    m2.fit(seq2, shuffle=False, workers=3, max_queue_size=2, verbose=0)
    _assert_same_weights(ref, m2)
    assert len(seq2.threads) > 1
    with pytest.warns(UserWarning, match="use_multiprocessing"):
        _model().fit(Batches(), use_multiprocessing=True, verbose=0)


# -- generators: epochs and running out ------------------------------------------------------
class Count(Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.epochs = 0, []

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_generator_without_steps_runs_one_epoch_until_exhausted():
    cb = Count()
    h = _model().fit(_finite(7), verbose=0, callbacks=[cb])
    assert cb.batches == 7 and len(h.history["loss"]) == 1
    with pytest.raises(ValueError, match="steps_per_epoch"):
        _model().fit(_endless(), epochs=3, verbose=0)
    cb = Count()
    _model().fit(_Reiterable(), epochs=3, verbose=0, callbacks=[cb])  # re-iterable: fine
    assert cb.batches == 3 * NB


def test_generator_that_runs_out_warns_and_stops():
    cb = Count()
    with pytest.warns(UserWarning, match="ran out of data; interrupting training"):
        h = _model().fit(_finite(5), steps_per_epoch=2, epochs=6, verbose=0, callbacks=[cb])
    assert cb.batches == 5 and cb.epochs == [0, 1, 2] and len(h.history["loss"]) == 3
    cb = Count()  # runs out exactly at an epoch boundary: the empty epoch is not recorded
    with pytest.warns(UserWarning, match="ran out of data"):
        h = _model().fit(_finite(4), steps_per_epoch=2, epochs=5, verbose=0, callbacks=[cb])
    assert cb.batches == 4 and cb.epochs == [0, 1] and len(h.history["loss"]) == 2
    seq = Batches()
    with pytest.warns(UserWarning, match="ran out of data"):
        _model().fit(seq, steps_per_epoch=NB + 2, epochs=3, shuffle=False, verbose=0)
    assert seq.calls == list(range(NB))


def test_generator_consumed_across_epochs_with_steps():
    pulled = []

    def gen():
        for i in range(100):
            pulled.append(i)
            yield _batch(i % NB)

    _model().fit(gen(), steps_per_epoch=4, epochs=3, verbose=0)
    assert pulled == list(range(12))  # never pulls more than it trains on


# -- validation / evaluate / predict --------------------------------------------------------
def test_validation_data_as_generator_or_sequence(backend):
    m = _model()
    h = m.fit(X, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0, validation_data=Batches())
    m_ref = _model()
    h_ref = m_ref.fit(X, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0,
                      validation_data=(X, Y))
    np.testing.assert_allclose(h.history["val_loss"], h_ref.history["val_loss"], rtol=1e-6)
    h2 = _model().fit(X, Y, batch_size=BS, epochs=3, shuffle=False, verbose=0,
                      validation_data=_endless(), validation_steps=NB)
    np.testing.assert_allclose(h2.history["val_loss"], _model().fit(
        X, Y, batch_size=BS, epochs=3, shuffle=False, verbose=0,
        validation_data=(X, Y)).history["val_loss"], rtol=1e-6)
    with pytest.raises(ValueError, match="validation_steps"):
        _model().fit(X, Y, epochs=2, verbose=0, validation_data=_finite(NB))
    h3 = _model().fit(X, Y, epochs=1, verbose=0, validation_data=_finite(NB))  # one run: ok
    assert "val_loss" in h3.history


def test_evaluate_and_predict_on_streams(backend):
    m = _model()
    m.fit(X, Y, batch_size=BS, verbose=0)
    ref_loss = m.evaluate(X, Y, batch_size=BS, verbose=0)
    for src in (Batches(), _finite(NB), Batches(workers=2)):
        np.testing.assert_allclose(m.evaluate(src, verbose=0), ref_loss, rtol=1e-6)
    np.testing.assert_allclose(m.evaluate(Batches(with_w=True), verbose=0),
                               m.evaluate(X, Y, sample_weight=W, batch_size=BS, verbose=0),
                               rtol=1e-6)
    np.testing.assert_allclose(m.evaluate(_endless(), steps=2, verbose=0),
                               m.evaluate(X[:20], Y[:20], batch_size=BS, verbose=0), rtol=1e-6)
    ref = m.predict(X, verbose=0)
    xs = [X[i * BS:(i + 1) * BS] for i in range(NB)]
    for src in (iter(xs), ((x,) for x in xs), ((x, None) for x in xs), Batches()):
        np.testing.assert_allclose(m.predict(src, verbose=0), ref, rtol=1e-6, atol=1e-7)
    assert m.predict(_endless(), steps=3, verbose=0).shape == (30, 2)
    spent = _finite(NB)
    m.evaluate(spent, verbose=0)
    with pytest.raises(ValueError, match="no batches"):
        m.evaluate(spent, verbose=0)
    with pytest.raises(ValueError, match="`y` must not be given"):
        m.evaluate(Batches(), Y, verbose=0)


def test_unbuilt_model_is_built_from_the_first_batch():
    m = gpunet.Sequential([gpunet.layers.Dense(3), gpunet.layers.Dense(2)])
    m.compile(optimizer="sgd", loss="mse")
    m.fit(_finite(NB), verbose=0)
    assert m.get_weights()[0].shape == (4, 3)


# -- errors and thread hygiene ----------------------------------------------------------------
def _failing(at):
    for i in range(NB):
        if i == at:
            raise RuntimeError(f"boom at {i}")
        yield _batch(i)


class Failing(Batches):
    def __getitem__(self, i):
        if i == 3:
            raise KeyError("bad index 3")
        return super().__getitem__(i)


def test_errors_in_the_source_propagate_with_their_traceback():
    base = threading.active_count()
    with pytest.raises(RuntimeError, match="boom at 3") as info:
        _model().fit(_failing(3), verbose=0)
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "_failing" in frames
    for workers in (1, 3, 0):
        with pytest.raises(KeyError, match="bad index 3") as info:
            _model().fit(Failing(workers=workers), shuffle=False, verbose=0)
        assert "__getitem__" in [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    with pytest.raises(RuntimeError, match="boom at 0"):
        _model().predict(_failing(0), verbose=0)
    assert threading.active_count() == base


class Raise(Callback):
    def __init__(self, exc, at=2):
        super().__init__()
        self.exc, self.at = exc, at

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.at:
            raise self.exc


class StopAt(Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            self.model.stop_training = True


def test_threads_always_stop():
    base = threading.active_count()
    _model().fit(_endless(), steps_per_epoch=3, epochs=2, verbose=0,
                 validation_data=Batches(workers=2))
    assert threading.active_count() == base
    with pytest.raises(ValueError, match="from a callback"):
        _model().fit(_endless(), steps_per_epoch=NB, verbose=0,
                     callbacks=[Raise(ValueError("from a callback"))])
    assert threading.active_count() == base
    with pytest.raises(KeyboardInterrupt):
        _model().fit(Batches(workers=3), verbose=0, callbacks=[Raise(KeyboardInterrupt())])
    assert threading.active_count() == base
    _model().fit(_endless(), steps_per_epoch=NB, epochs=3, verbose=0, callbacks=[StopAt()])
    assert threading.active_count() == base
    es = EarlyStopping(monitor="loss", patience=0, min_delta=100.0)
    h = _model().fit(Batches(workers=2), epochs=10, verbose=0, callbacks=[es])
    assert len(h.history["loss"]) < 10
    assert threading.active_count() == base


# -- bad input --------------------------------------------------------------------------------
def test_inconsistent_shapes_name_the_batch_and_the_shapes():
    def widening():
        for i in range(NB):
            yield (np.zeros((BS, 5 if i == 3 else 4), "float32"), Y[:BS])

    m = _model()
    with pytest.raises(ValueError, match=r"batch 3 .*\(10, 5\).*\(10, 4\)"):
        m.fit(widening(), verbose=0)

    def ragged_y():
        yield X[:BS], Y[:BS]
        yield X[:BS], Y[:BS, :1]

    with pytest.raises(ValueError, match=r"batch 1 .*`y` of shape \(10, 1\)"):
        m.fit(ragged_y(), verbose=0)
    with pytest.raises(ValueError, match=r"(?i)batch 0 .*x has 10 samples but y has 9"):
        m.fit(iter([(X[:BS], Y[:9])]), verbose=0)


def test_non_tuple_batches_and_strings_give_clear_errors():
    m = _model()
    with pytest.raises(ValueError, match=r"Batch 0 from the generator .*expected a tuple "
                                         r"\(x, y\).*ndarray of shape \(10, 4\)"):
        m.fit((X[i * BS:(i + 1) * BS] for i in range(NB)), verbose=0)
    with pytest.raises(ValueError, match="tuple of 4 elements"):
        m.fit(iter([(X[:BS], Y[:BS], W[:BS], W[:BS])]), verbose=0)
    with pytest.raises(TypeError, match=r"Argument `x` \(batch 0 .*must hold numbers"):
        m.fit(iter([(np.full((BS, 4), "a"), Y[:BS])]), verbose=0)
    with pytest.raises(TypeError, match=r"Argument `y` \(batch 1"):
        m.fit(iter([(X[:BS], Y[:BS]), (X[:BS], np.full((BS, 2), "b"))]), verbose=0)
    with pytest.raises(TypeError, match="Argument `x` must hold numbers"):
        m.fit(np.full((BS, 4), "a"), Y[:BS], verbose=0)
    with pytest.raises(TypeError, match="Argument `y` must hold numbers"):
        m.fit(X, [["x", "y"]] * 60, verbose=0)
    with pytest.raises(TypeError, match="Argument `sample_weight` must hold numbers"):
        m.fit(X, Y, sample_weight=np.array(["1"] * 60), verbose=0)
    with pytest.raises(TypeError, match="Argument `validation x` must hold numbers"):
        m.fit(X, Y, validation_data=(np.full((BS, 4), "a"), Y[:BS]), verbose=0)


def test_argument_errors_with_streams():
    m = _model()
    with pytest.raises(ValueError, match="`validation_split` is only supported for array"):
        m.fit(Batches(), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="`y` must not be given"):
        m.fit(_endless(), Y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` must not be given"):
        m.fit(Batches(), sample_weight=W, verbose=0)
    with pytest.raises(ValueError, match="no batches"):
        m.fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="`steps_per_epoch` must be a positive integer"):
        m.fit(_endless(), steps_per_epoch=0, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(_endless(), steps_per_epoch=2, epochs=2, verbose=0)  # no spurious warning


def test_image_data_generator_flow_is_served_as_a_sequence():
    image = pytest.importorskip("gpunet.preprocessing.image")
    imgs = RNG.uniform(size=(24, 4, 4, 1)).astype("float32")
    labels = np.arange(24) % 3
    it = image.ImageDataGenerator().flow(imgs, labels, batch_size=8, shuffle=False)
    m = gpunet.Sequential([gpunet.Input((4, 4, 1)), gpunet.layers.Flatten(),
                           gpunet.layers.Dense(3)])
    m.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    ref = gpunet.models.clone_model(m)
    ref.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    ref.set_weights(m.get_weights())
    m.fit(it, epochs=2, shuffle=False, verbose=0)
    ref.fit(imgs, labels, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _assert_same_weights(ref, m)
