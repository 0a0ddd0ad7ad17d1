"""Dataset builders: time-series windows, image and text folders, array splits."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.utils import (
    image_dataset_from_directory,
    split_dataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
)


# -- time series -------------------------------------------------------------------------------
def test_timeseries_windows_by_hand():
    data = np.arange(20)
    ds = timeseries_dataset_from_array(data, data * 10, sequence_length=4, sequence_stride=3,
                                       sampling_rate=2, batch_size=2, start_index=2,
                                       end_index=16)
    # 16 - 2 - (4 - 1) * 2 = 8 possible starts, every 3rd: offsets 0, 3, 6 from index 2
    assert len(ds) == 2
    x0, y0 = ds[0]
    np.testing.assert_array_equal(x0, [[2, 4, 6, 8], [5, 7, 9, 11]])
    np.testing.assert_array_equal(y0, [20, 50])
    x1, y1 = ds[1]
    np.testing.assert_array_equal(x1, [[8, 10, 12, 14]])
    np.testing.assert_array_equal(y1, [80])


def test_timeseries_shorter_targets_shuffle_and_fit():
    data = np.arange(30, dtype="float32")[:, None]
    ds = timeseries_dataset_from_array(data, data[5:, 0], sequence_length=5, batch_size=8,
                                       shuffle=True, seed=7)
    xs, ys = zip(*[ds[i] for i in range(len(ds))])
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (25, 5, 1)  # 30 - 4 = 26 windows, 25 targets
    np.testing.assert_array_equal(y, x[:, 0, 0] + 5)  # each window's target is the next value
    starts = np.arange(25)
    np.random.RandomState(7).shuffle(starts)
    np.testing.assert_array_equal(x[:, 0, 0], starts)
    model = Sequential([layers.Input((5, 1)), layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(ds, epochs=2, verbose=0)


def test_timeseries_errors():
    with pytest.raises(ValueError, match="`sampling_rate` must be a positive integer.*0"):
        timeseries_dataset_from_array(np.arange(5), None, 2, sampling_rate=0)
    with pytest.raises(ValueError, match="No window fits"):
        timeseries_dataset_from_array(np.arange(5), None, 6)


# -- image folders -----------------------------------------------------------------------------
def _image_tree(root, sizes=((4, 6), (6, 4), (5, 5))):
    image_mod = pytest.importorskip("PIL.Image")
    for cls, value in (("cats", 10), ("dogs", 200)):
        (root / cls).mkdir()
        for i, (h, w) in enumerate(sizes):
            arr = np.full((h, w, 3), value, "uint8")
            image_mod.fromarray(arr).save(root / cls / f"{i}.png")
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_image_dataset_labels_and_sizes(tmp_path, capsys):
    root = _image_tree(tmp_path)
    ds = image_dataset_from_directory(root, image_size=(3, 3), batch_size=4, shuffle=False)
    assert "Found 6 files belonging to 2 classes." in capsys.readouterr().out
    assert ds.class_names == ["cats", "dogs"] and len(ds) == 2
    x, y = ds[0]
    assert x.shape == (4, 3, 3, 3) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(y, [0, 0, 0, 1])
    np.testing.assert_allclose(x[:, 0, 0, 0], [10, 10, 10, 200])  # solid colours stay solid
    cat = image_dataset_from_directory(root, label_mode="categorical", image_size=(2, 2),
                                       color_mode="grayscale", shuffle=False, verbose=False)
    x, y = cat[0]
    assert x.shape == (6, 2, 2, 1)
    np.testing.assert_array_equal(y, np.eye(2)[[0, 0, 0, 1, 1, 1]])
    binary = image_dataset_from_directory(root, label_mode="binary", image_size=(2, 2),
                                          shuffle=False, verbose=False)
    assert binary[0][1].shape == (6, 1)
    only = image_dataset_from_directory(root, labels=None, image_size=(2, 2), verbose=False)
    assert only[0].shape == (6, 2, 2, 3)


def test_image_dataset_split_is_disjoint_and_fits(tmp_path):
    root = _image_tree(tmp_path)
    train, val = image_dataset_from_directory(root, image_size=(4, 4), batch_size=2,
                                              validation_split=0.34, subset="both", seed=3,
                                              verbose=False)
    assert len(train.file_paths) == 4 and len(val.file_paths) == 2
    assert not set(train.file_paths) & set(val.file_paths)
    order = np.arange(6)
    np.random.RandomState(3).shuffle(order)  # Keras shuffles the file list once, seeded
    files = sorted(str(p) for p in root.glob("*/*.png"))
    assert val.file_paths == [files[k] for k in order[4:]]
    gpunet.utils.set_random_seed(0)
    model = Sequential([layers.Input((4, 4, 3)), layers.Rescaling(1 / 255.0),
                        layers.RandomFlip(), layers.Flatten(),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(train, validation_data=val, epochs=2, verbose=0)


def test_image_dataset_errors(tmp_path):
    root = _image_tree(tmp_path)
    (root / "birds").mkdir()
    with pytest.raises(ValueError, match="label_mode='binary'.*exactly 2 classes.*3"):
        image_dataset_from_directory(root, label_mode="binary", verbose=False)
    with pytest.raises(ValueError, match="validation_split.*seed"):
        image_dataset_from_directory(root, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="class_names.*do not match"):
        image_dataset_from_directory(root, class_names=["cats"], verbose=False)


# -- text folders ------------------------------------------------------------------------------
def test_text_dataset_and_vectorized_fit(tmp_path):
    for cls, words in (("neg", "bad awful"), ("pos", "good great")):
        (tmp_path / cls).mkdir()
        for i in range(3):
            (tmp_path / cls / f"{i}.txt").write_text(f"{words} movie {i}", encoding="utf-8")
    raw = text_dataset_from_directory(tmp_path, batch_size=4, max_length=9, shuffle=False,
                                      verbose=False)
    x, y = raw[0]
    assert x.tolist() == ["bad awful", "bad awful", "bad awful", "good grea"]
    np.testing.assert_array_equal(y, [0, 0, 0, 1])
    vectorize = layers.TextVectorization(output_mode="multi_hot")
    vectorize.adapt(raw.map(lambda x, y: x))
    train = raw.map(lambda x, y: (vectorize(x), y))
    xv, yv = train[0]
    assert xv.shape == (4, vectorize.vocabulary_size())
    model = Sequential([layers.Input((vectorize.vocabulary_size(),)),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(train, epochs=2, verbose=0)


# -- split_dataset -----------------------------------------------------------------------------
def test_split_dataset():
    x, y = np.arange(10), np.arange(10) * 2
    (lx, ly), (rx, ry) = split_dataset((x, y), left_size=0.8)
    np.testing.assert_array_equal(lx, np.arange(8))
    np.testing.assert_array_equal(ry, [16, 18])
    left, right = split_dataset(x, right_size=3, shuffle=True, seed=0)
    assert len(left) == 7 and sorted(np.concatenate([left, right]).tolist()) == list(range(10))
    with pytest.raises(ValueError, match=r"left_size.*\+.*right_size.*6 \+ 6.*10"):
        split_dataset(x, left_size=6, right_size=6)
