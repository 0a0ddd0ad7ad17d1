"""Datasets as Keras tutorials use them outside ``fit``: ``take``, ``skip``, ``cardinality``,
iteration, ``.numpy()`` on the batches (the weather-forecasting example on keras.io:
``for batch in dataset_train.take(1): inputs, targets = batch``, ``inputs.numpy().shape``,
``x[0][:, 1].numpy()``).

Reference windows are written out by hand from Keras's definition of
``timeseries_dataset_from_array`` (window ``i`` = ``data[i + k * sampling_rate]``, target
``targets[i]``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.utils import text_dataset_from_directory, timeseries_dataset_from_array
from gpunet.utils.dataset_ops import HostArray


def _series():
    data = np.arange(40, dtype="float32").reshape(20, 2)  # row t = [2t, 2t + 1]
    targets = np.arange(100, 120, dtype="float32")[:, None]
    return data, targets


def test_take_one_batch_and_numpy():
    data, targets = _series()
    ds = timeseries_dataset_from_array(data, targets, sequence_length=3, sampling_rate=2,
                                       batch_size=4)
    # windows start at 0..15 (a window spans 5 rows): 16 windows, 4 batches
    assert ds.cardinality() == 4
    for batch in ds.take(1):
        inputs, targets_b = batch
    assert inputs.numpy().shape == (4, 3, 2)
    assert targets_b.numpy().shape == (4, 1)
    # window 1: rows 1, 3, 5
    np.testing.assert_array_equal(inputs.numpy()[1], [[2, 3], [6, 7], [10, 11]])
    np.testing.assert_array_equal(targets_b.numpy()[:, 0], [100, 101, 102, 103])
    # the keras.io plotting line: x[0][:, 1].numpy(), y[0].numpy()
    np.testing.assert_array_equal(inputs[0][:, 1].numpy(), [1, 5, 9])
    assert float(targets_b[0].numpy()[0]) == 100.0
    assert inputs.shape[1] == 3 and inputs.shape[2] == 2


def test_numpy_is_a_plain_view_without_copy():
    data, targets = _series()
    x, _ = timeseries_dataset_from_array(data, targets, sequence_length=3,
                                         batch_size=4)[0]
    assert isinstance(x, HostArray) and isinstance(x, np.ndarray)
    plain = x.numpy()
    assert type(plain) is np.ndarray
    assert np.shares_memory(plain, x)
    assert type(np.asarray(x)) is np.ndarray


def test_take_skip_counts():
    data, targets = _series()
    ds = timeseries_dataset_from_array(data, targets, sequence_length=3, batch_size=4)
    # 18 windows -> batches of 4, 4, 4, 4, 2
    assert len(ds) == 5
    assert len(ds.take(2)) == 2 and ds.take(2).cardinality() == 2
    assert len(ds.take(99)) == 5 and len(ds.take(-1)) == 5 and len(ds.take(0)) == 0
    assert len(list(ds.take(0))) == 0
    skipped = ds.skip(3)
    assert len(skipped) == 2
    last = list(skipped)[-1]
    np.testing.assert_array_equal(last[1].numpy()[:, 0], [116, 117])
    assert len(ds.skip(-1)) == 0 and len(ds.skip(9)) == 0
    assert len(ds.skip(1).take(2)) == 2
    np.testing.assert_array_equal(ds.skip(1).take(1)[0][1].numpy()[:, 0],
                                  [104, 105, 106, 107])
    with pytest.raises(IndexError, match="out of range"):
        ds.take(2)[2]
    with pytest.raises(TypeError, match="take"):
        ds.take(1.5)


def test_iteration_is_one_pass_and_as_numpy_iterator():
    data, targets = _series()
    ds = timeseries_dataset_from_array(data, targets, sequence_length=3, batch_size=8)
    batches = list(ds)
    assert [len(b[0]) for b in batches] == [8, 8, 2]
    plain = list(ds.as_numpy_iterator())
    assert all(type(a) is np.ndarray for b in plain for a in b)
    np.testing.assert_array_equal(plain[2][0], batches[2][0].numpy())


def test_map_batches_have_numpy():
    data, targets = _series()
    ds = timeseries_dataset_from_array(data, targets, sequence_length=2, batch_size=4)
    mapped = ds.map(lambda x, y: (x * 2, y))
    x, y = next(iter(mapped.take(1)))
    np.testing.assert_array_equal(x.numpy()[0], [[0, 2], [4, 6]])
    assert len(mapped.skip(2)) == len(ds) - 2
    only_x = ds.map(lambda x, y: x)
    assert isinstance(next(iter(only_x)), HostArray)


def test_fit_accepts_take_and_runs_that_many_steps(backend):
    data, targets = _series()
    ds = timeseries_dataset_from_array(data, targets, sequence_length=3, batch_size=4)
    model = gpunet.Sequential([gpunet.Input((3, 2)), layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    seen = []

    class Count(gpunet.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    model.fit(ds.take(2), epochs=2, verbose=0, callbacks=[Count()])
    assert seen == [0, 1, 0, 1]
    out = model.predict(next(iter(ds.take(1)))[0], verbose=0)
    assert out.shape == (4, 1)
    model.evaluate(ds.skip(3), verbose=0)


def test_text_dataset_batches(tmp_path):
    for cls, texts in (("neg", ["bad film", "awful"]), ("pos", ["great", "fine film"])):
        os.makedirs(tmp_path / cls)
        for i, t in enumerate(texts):
            (tmp_path / cls / f"{i}.txt").write_text(t)
    ds = text_dataset_from_directory(tmp_path, batch_size=3, shuffle=False, verbose=False)
    assert ds.cardinality() == 2
    for text_batch, label_batch in ds.take(1):
        assert text_batch.numpy()[0] == "bad film"
        np.testing.assert_array_equal(label_batch.numpy(), [0, 0, 1])
    assert list(ds.class_names) == ["neg", "pos"]
    assert ds.take(1).class_names == ["neg", "pos"]


def test_preprocessing_namespace_has_the_dataset_builders():
    assert gpunet.preprocessing.timeseries_dataset_from_array is timeseries_dataset_from_array
    assert gpunet.preprocessing.text_dataset_from_directory is text_dataset_from_directory
    assert callable(gpunet.preprocessing.image_dataset_from_directory)
