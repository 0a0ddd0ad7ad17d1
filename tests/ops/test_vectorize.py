"""``ops.vectorize``: element by element as ``numpy.vectorize``, ``excluded`` arguments whole
(values as Keras 3.15's ``keras.ops.vectorize`` gives them)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops


def test_elementwise_over_every_argument(backend):
    f = ops.vectorize(lambda a, b: a - b)
    got = f(backend.asarray(np.array([1.0, 2.0])), backend.asarray(np.array([3.0, 5.0])))
    np.testing.assert_array_equal(ops.convert_to_numpy(got), [-2.0, -3.0])


def test_excluded_argument_is_passed_whole(backend):
    f = ops.vectorize(lambda a, b: a * b + 1, excluded={1})
    got = f(backend.asarray(np.array([1.0, 2.0, 3.0])), 10.0)
    np.testing.assert_array_equal(ops.convert_to_numpy(got), [11.0, 21.0, 31.0])
    seen = []
    g = ops.vectorize(lambda a, table: seen.append(table) or a + len(table), excluded={1})
    got = g(backend.asarray(np.array([[1.0, 2.0], [3.0, 4.0]])), [7, 8, 9])
    np.testing.assert_array_equal(ops.convert_to_numpy(got), [[4.0, 5.0], [6.0, 7.0]])
    assert seen and all(t == [7, 8, 9] for t in seen)


def test_unsupported_forms_raise():
    with pytest.raises(NotImplementedError, match="signature"):
        ops.vectorize(lambda a: a, signature="(n)->()")
    with pytest.raises(NotImplementedError, match="positional indices"):
        ops.vectorize(lambda a, b: a, excluded={"b"})
