"""pad_sequences, skipgrams and make_sampling_table against hand-computed Keras results."""

import numpy as np
import pytest

from gpunet.preprocessing.sequence import make_sampling_table, pad_sequences, skipgrams

RAGGED = [[1], [2, 3], [4, 5, 6]]


def test_default_pre_padding_to_longest():
    out = pad_sequences(RAGGED)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 0, 1], [0, 2, 3], [4, 5, 6]])


def test_post_padding():
    np.testing.assert_array_equal(pad_sequences(RAGGED, padding="post"),
                                  [[1, 0, 0], [2, 3, 0], [4, 5, 6]])


def test_truncation_pre_and_post_with_maxlen():
    np.testing.assert_array_equal(pad_sequences(RAGGED, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    np.testing.assert_array_equal(pad_sequences(RAGGED, maxlen=2, truncating="post"),
                                  [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(
        pad_sequences(RAGGED, maxlen=2, padding="post", truncating="post"),
        [[1, 0], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pad_sequences(RAGGED, maxlen=4),
                                  [[0, 0, 0, 1], [0, 0, 2, 3], [0, 4, 5, 6]])


def test_value_and_dtype():
    out = pad_sequences(RAGGED, value=-1)
    np.testing.assert_array_equal(out[0], [-1, -1, 1])
    out = pad_sequences([[0.5], [1.5, 2.5]], dtype="float32", value=9.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[9.0, 0.5], [1.5, 2.5]])
    # an int dtype truncates the floats
    np.testing.assert_array_equal(pad_sequences([[0.5], [1.5, 2.5]]), [[0, 0], [1, 2]])


def test_string_sequences_need_object_or_str_dtype():
    out = pad_sequences([["a"], ["b", "c"]], dtype=object, value="<pad>")
    assert out.tolist() == [["<pad>", "a"], ["b", "c"]]
    out = pad_sequences([["ab"], ["b", "c"]], dtype="<U5", value="")
    assert out.tolist() == [["", "ab"], ["b", "c"]]
    with pytest.raises(ValueError, match="dtype=object"):
        pad_sequences([["a"]], value="x")


def test_sequences_of_vectors_keep_trailing_shape():
    seqs = [np.ones((1, 2)), np.full((3, 2), 2.0), np.zeros((0, 2))]
    out = pad_sequences(seqs, maxlen=2, dtype="float32")
    assert out.shape == (3, 2, 2)
    np.testing.assert_array_equal(out[0], [[0, 0], [1, 1]])
    np.testing.assert_array_equal(out[1], [[2, 2], [2, 2]])
    np.testing.assert_array_equal(out[2], [[0, 0], [0, 0]])
    with pytest.raises(ValueError, match="index 1"):
        pad_sequences([np.ones((1, 2)), np.ones((2, 3))], dtype="float32")


def test_empty_inputs():
    np.testing.assert_array_equal(pad_sequences([[], [1, 2]]), [[0, 0], [1, 2]])
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences(RAGGED, maxlen=0).shape == (3, 0)
    np.testing.assert_array_equal(pad_sequences(iter(RAGGED)), pad_sequences(RAGGED))


def test_errors():
    with pytest.raises(ValueError, match="index 1"):
        pad_sequences([[1], 5, [2]])
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(RAGGED, padding="middle")
    with pytest.raises(ValueError, match="truncating"):
        pad_sequences(RAGGED, truncating="both")
    with pytest.raises(ValueError, match="maxlen"):
        pad_sequences(RAGGED, maxlen=-1)
    with pytest.raises(ValueError, match="list of sequences"):
        pad_sequences(5)


def test_skipgrams_pairs_and_labels():
    couples, labels = skipgrams([1, 2, 0, 3], vocabulary_size=4, window_size=1,
                                negative_samples=0.0, shuffle=False)
    # pairs within distance 1, index 0 skipped: (1,2), (2,1); 3 only sees the 0
    assert couples == [[1, 2], [2, 1]] and labels == [1, 1]
    couples, labels = skipgrams([1, 2, 3], vocabulary_size=4, window_size=2,
                                negative_samples=1.0, seed=3)
    assert len(couples) == 12 and sorted(labels) == [0] * 6 + [1] * 6
    for (a, b), label in zip(couples, labels):
        assert 1 <= a <= 3 and 1 <= b <= 3 and label in (0, 1)
    again = skipgrams([1, 2, 3], vocabulary_size=4, window_size=2, seed=3)
    assert again == (couples, labels)
    _, cat = skipgrams([1, 2], 3, window_size=1, negative_samples=0, categorical=True)
    assert cat == [[0, 1], [0, 1]]


def test_make_sampling_table_formula():
    table = make_sampling_table(4, sampling_factor=1e-5)
    rank = np.array([1.0, 1.0, 2.0, 3.0])
    f = 1e-5 * (rank * (np.log(rank) + 0.577) + 0.5 - 1 / (12 * rank))
    np.testing.assert_allclose(table, np.minimum(1.0, np.sqrt(f)))
    assert np.all(np.diff(table[1:]) > 0)
