"""Tests for gpunet.utils.numerical_utils: to_categorical and normalize."""

import numpy as np
import pytest

from gpunet.utils.numerical_utils import normalize, to_categorical

# ----------------------------------------------------------------------------- to_categorical


def test_to_categorical_basic_matches_keras_example():
    out = to_categorical([0, 1, 2, 3], num_classes=4)
    np.testing.assert_array_equal(out, np.eye(4))
    assert out.dtype == np.float32
    assert out.shape == (4, 4)


def test_to_categorical_infers_num_classes_as_max_plus_one():
    out = to_categorical(np.array([2, 0]))
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])


def test_to_categorical_drops_trailing_size_one_axis():
    y = np.array([[1], [0], [2]])
    out = to_categorical(y, num_classes=3)
    assert out.shape == (3, 3)
    np.testing.assert_array_equal(out, [[0, 1, 0], [1, 0, 0], [0, 0, 1]])


def test_to_categorical_keeps_other_axes():
    y = np.array([[0, 1, 2], [2, 1, 0]])
    out = to_categorical(y, num_classes=3)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[0, 2], [0, 0, 1])
    np.testing.assert_array_equal(out[1, 0], [0, 0, 1])
    # a lone size-1 vector is not squeezed to a scalar
    assert to_categorical(np.array([1]), num_classes=2).shape == (1, 2)


def test_to_categorical_dtype_and_integral_floats():
    out = to_categorical(np.array([1.0, 0.0]), num_classes=2, dtype="int32")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 1], [1, 0]])
    assert to_categorical(np.array([1, 0], dtype=np.uint8)).dtype == np.float32


def test_to_categorical_rejects_non_integer_floats():
    with pytest.raises(ValueError, match=r"non-integer value 1\.5"):
        to_categorical(np.array([0.0, 1.5]))
    with pytest.raises(ValueError, match="non-finite"):
        to_categorical(np.array([0.0, np.nan]))


def test_to_categorical_rejects_out_of_range_label_naming_value_and_num_classes():
    with pytest.raises(ValueError, match=r"label 5.*num_classes=3"):
        to_categorical([0, 5, 1], num_classes=3)


def test_to_categorical_rejects_negative_label():
    with pytest.raises(ValueError, match=r"negative label -1.*num_classes=3"):
        to_categorical([0, -1, 2], num_classes=3)


@pytest.mark.parametrize("bad", [0, -2, 2.5, "3"])
def test_to_categorical_rejects_bad_num_classes(bad):
    with pytest.raises(ValueError, match="num_classes"):
        to_categorical([0, 1], num_classes=bad)


def test_to_categorical_empty_input():
    assert to_categorical(np.array([], dtype=np.int64), num_classes=4).shape == (0, 4)
    with pytest.raises(ValueError, match="num_classes"):
        to_categorical(np.array([], dtype=np.int64))


def test_to_categorical_rejects_strings():
    with pytest.raises(ValueError, match="dtype"):
        to_categorical(np.array(["a", "b"]))


# ----------------------------------------------------------------------------------- normalize


def test_normalize_l2_rows_and_zero_row_stays_zero():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    out = normalize(x)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]])
    assert not np.any(np.isnan(out))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(x, [[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])  # not in place


def test_normalize_l1_and_inf_orders():
    x = np.array([[1.0, 3.0], [-2.0, 2.0]])
    np.testing.assert_allclose(normalize(x, order=1), [[0.25, 0.75], [-0.5, 0.5]])
    np.testing.assert_allclose(normalize(x, order=np.inf), [[1 / 3, 1.0], [-1.0, 1.0]])


def test_normalize_axis_zero_and_none():
    x = np.array([[3.0, 1.0], [4.0, 0.0]])
    np.testing.assert_allclose(normalize(x, axis=0), [[0.6, 1.0], [0.8, 0.0]])
    np.testing.assert_allclose(
        normalize(np.array([[2.0, 0.0], [0.0, 0.0]]), axis=None), [[1.0, 0.0], [0.0, 0.0]]
    )
    np.testing.assert_array_equal(normalize(np.zeros((2, 2)), axis=None), np.zeros((2, 2)))


def test_normalize_dtypes():
    assert normalize(np.array([[3, 4]])).dtype == np.float32
    np.testing.assert_allclose(normalize(np.array([[3, 4]])), [[0.6, 0.8]], rtol=1e-6)
    assert normalize(np.ones((2, 3), dtype=np.float32)).dtype == np.float32


def test_normalize_3d_last_axis():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    out = normalize(x, axis=-1)
    np.testing.assert_allclose(np.linalg.norm(out[x.sum(-1) > 0], axis=-1), 1.0)


@pytest.mark.parametrize("bad", [0, 0.5, -1, "l2"])
def test_normalize_rejects_bad_order(bad):
    with pytest.raises(ValueError, match="order"):
        normalize(np.ones((2, 2)), order=bad)


def test_normalize_rejects_bad_axis():
    with pytest.raises(ValueError, match=r"axis.*Received: axis=2"):
        normalize(np.ones((2, 2)), axis=2)
