"""``StreamData`` and friends: detection, conversion, the bounded queue, passes, closing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from gpunet.backend import floatx
from gpunet.models.data import ArrayData
from gpunet.models.data_adapters import (
    StreamData,
    closes_streams,
    is_sequence,
    is_stream,
    pipeline_options,
)
from gpunet.utils.sequence import Sequence


class Seq(Sequence):
    def __init__(self, n=5, **kwargs):
        super().__init__(**kwargs)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2, 3), i, "float32"), np.full((2,), i, "int64")


class DuckSeq:  # Sequence-like without the base class (e.g. ImageDataGenerator.flow())
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return np.zeros((1, 3)), np.zeros((1,))

    def on_epoch_end(self):
        pass


def _gen(n):
    for i in range(n):
        yield np.full((2, 3), i, "float32"), np.full((2,), i, "int64")


def _values(data):
    return [int(data.b.to_numpy(x)[0, 0]) for x, _, _ in data.epoch()]


def test_what_counts_as_a_stream():
    streams = [_gen(1), iter([1]), Seq(), DuckSeq(), map(int, "12")]
    arrays = [np.zeros(3), [1, 2], (1, 2), {"a": 1}, "abc", None]
    assert all(is_stream(s) for s in streams)
    assert not any(is_stream(a) for a in arrays)
    assert is_sequence(Seq()) and is_sequence(DuckSeq()) and not is_sequence(_gen(1))
    assert not is_sequence(np.zeros(3))


def test_dtypes_and_device_placement(backend):
    def gen():
        yield (np.arange(12, dtype=np.uint8).reshape(2, 6), np.array([1, 2], np.int64),
               np.array([1, 0], np.int32))
        yield np.ones((2, 6)), np.ones(2), np.ones(2)

    with StreamData(backend, gen(), "fit") as data:
        (x0, y0, w0), (x1, y1, w1) = list(data.epoch())
    assert all(backend.is_array(a) for a in (x0, y0, w0, x1, y1, w1))
    assert x0.dtype == floatx() and x1.dtype == floatx()  # uint8 pixels and float64 → floatx
    assert y0.dtype == np.int64 and y1.dtype == floatx()  # integer labels keep their type
    assert w0.dtype == floatx()
    np.testing.assert_array_equal(backend.to_numpy(x0), np.arange(12).reshape(2, 6))


def test_the_queue_is_bounded():
    pulled = []

    def gen():
        for i in range(100):
            pulled.append(i)
            yield np.zeros((1, 2)), np.zeros((1, 1))

    data = StreamData(_np(), gen(), "fit", options={"max_queue_size": 3})
    it = data.epoch()
    next(it)
    time.sleep(0.2)  # let the producer run ahead as far as it may
    # taken (1) + queued (3) + one prepared batch waiting to be queued
    assert len(pulled) <= 1 + 3 + 1
    data.close()
    assert len(pulled) <= 5


def test_batches_are_prepared_off_the_calling_thread():
    threads = []

    def gen():
        for _ in range(3):
            threads.append(threading.get_ident())
            yield np.zeros((1, 2)), np.zeros((1, 1))

    with StreamData(_np(), gen(), "fit") as data:
        assert len(list(data.epoch())) == 3
    assert threading.get_ident() not in threads
    threads.clear()
    with StreamData(_np(), gen(), "fit", options={"workers": 0}) as data:
        before = threading.active_count()
        assert len(list(data.epoch())) == 3
        assert threading.active_count() == before
    assert threads == [threading.get_ident()] * 3


def test_passes_over_each_kind_of_source():
    one_shot = StreamData(_np(), _gen(10), "fit", steps=3)  # continues across epochs
    assert _values(one_shot) == [0, 1, 2] and _values(one_shot) == [3, 4, 5]

    class Again:
        def __iter__(self):
            return _gen(4)

    again = StreamData(_np(), Again(), "fit")  # re-iterable: a fresh pass each epoch
    assert _values(again) == [0, 1, 2, 3] and _values(again) == [0, 1, 2, 3]
    seq = StreamData(_np(), Seq(5), "fit", steps=2)  # Sequence: every epoch from the start
    assert _values(seq) == [0, 1] and _values(seq) == [0, 1]
    assert StreamData(_np(), Seq(5), "fit").steps == 5
    assert StreamData(_np(), _gen(3), "fit").steps is None
    with pytest.raises(ValueError, match="empty"):
        StreamData(_np(), Seq(0), "fit")


def test_ran_out_flag_and_callback():
    hits = []
    data = StreamData(_np(), _gen(3), "fit", steps=2, on_ran_out=lambda: hits.append(1))
    assert _values(data) == [0, 1] and not data.ran_out
    with pytest.warns(UserWarning, match="ran out of data"):
        assert _values(data) == [2]
    assert data.ran_out and hits == [1]
    val = StreamData(_np(), _gen(1), "validation", steps=2)
    with pytest.warns(UserWarning, match="validation_steps=2"):
        _values(val)


def test_predict_batches_take_x_only():
    for raw in (np.ones((2, 3)), (np.ones((2, 3)),), (np.ones((2, 3)), None),
                [np.ones((2, 3)), np.ones(2), np.ones(2)]):
        with StreamData(_np(), iter([raw]), "predict") as data:
            (x, y, w), = list(data.epoch())
        assert x.shape == (2, 3) and y is None and w is None


def test_close_stops_the_thread_mid_pass_and_for_good():
    base = threading.active_count()
    data = StreamData(_np(), Seq(50, workers=3), "fit")
    it = data.epoch()
    next(it)
    assert threading.active_count() > base
    data.close()
    assert threading.active_count() == base
    with pytest.raises(RuntimeError, match="closed"):
        data.epoch()


def test_closes_streams_closes_what_the_call_opened():
    base = threading.active_count()
    seen = {}

    @closes_streams
    def consume_one_then_fail():
        data = StreamData(_np(), _gen(100), "fit")
        seen["first"] = next(data.epoch())
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        consume_one_then_fail()
    assert "first" in seen and threading.active_count() == base


def test_pipeline_options():
    kw = {"workers": 2, "max_queue_size": 4, "verbose": 0}
    assert pipeline_options(kw) == {"workers": 2, "max_queue_size": 4}
    assert kw == {"verbose": 0}
    with pytest.raises(ValueError, match="max_queue_size"):
        pipeline_options({"max_queue_size": 0})
    with pytest.raises(ValueError, match="workers"):
        pipeline_options({"workers": 1.5})


def test_array_data_names_in_errors():
    with pytest.raises(TypeError, match="Argument `sample_weight` must hold numbers"):
        ArrayData(_np(), np.ones((2, 1)), np.ones(2), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="val_x has 2 samples but val_y has 3"):
        ArrayData(_np(), np.ones((2, 1)), np.ones(3), names=("val_x", "val_y", "val_w"))


def _np():
    from gpunet.backend import numpy_backend

    return numpy_backend()


@pytest.mark.parametrize("shuffle", [True, "batch", False])
def test_array_data_batches_are_the_rows_of_the_pass_order(backend, shuffle):
    n, bs = 23, 5
    x = np.arange(n * 6, dtype="float32").reshape(n, 2, 3)
    y = np.arange(n, dtype="int64") * 10
    w = np.linspace(0.5, 2.0, n).astype("float32")
    data = ArrayData(backend, x, y, w, batch_size=bs, shuffle=shuffle)
    got = [tuple(backend.to_numpy(a) for a in batch) for batch in data.epoch()]
    assert [len(b[0]) for b in got] == [5, 5, 5, 5, 3]
    order = np.concatenate([b[1] for b in got]) // 10  # each row once, in some order
    assert sorted(order.tolist()) == list(range(n))
    if shuffle is False:
        assert order.tolist() == list(range(n))
    if shuffle == "batch":  # blocks of batch_size rows move whole, in their own order
        i = 0
        while i < n:
            start = int(order[i])
            assert start % bs == 0
            size = min(bs, n - start)
            assert order[i:i + size].tolist() == list(range(start, start + size))
            i += size
    for xb, yb, wb in got:  # x, y and w of a batch are the same rows
        rows = yb // 10
        assert xb.dtype == np.float32 and xb.shape[1:] == (2, 3)
        np.testing.assert_array_equal(xb, x[rows])
        np.testing.assert_array_equal(wb, w[rows])


def test_array_data_text_rows_follow_the_order():
    from gpunet.models.data import text_inputs

    class Text:  # a model whose first layer takes strings
        inputs = [type("I", (), {"dtype": "string"})()]

    x = np.array([f"s{i}" for i in range(7)], dtype=object)
    y = np.arange(7, dtype="int64")
    with text_inputs(Text()):
        data = ArrayData(_np(), x, y, batch_size=3, shuffle=True)
        for xb, yb, _ in data.epoch():
            assert xb.tolist() == [f"s{i}" for i in yb.tolist()]
