"""``gpunet.random``: Keras 3 seed semantics and the distributions' moments."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet import random as R


def _np(t):
    return ops.convert_to_numpy(t)


def test_int_seed_is_reproducible_and_generator_advances(backend):
    a, b = R.normal((4,), seed=3), R.normal((4,), seed=3)
    np.testing.assert_array_equal(_np(a), _np(b))
    g1, g2 = R.SeedGenerator(7), R.SeedGenerator(7)
    x1, y1 = _np(R.uniform((4,), seed=g1)), _np(R.uniform((4,), seed=g1))
    x2, y2 = _np(R.uniform((4,), seed=g2)), _np(R.uniform((4,), seed=g2))
    assert not np.array_equal(x1, y1)  # each draw advances the generator
    np.testing.assert_array_equal(x1, x2)  # same seed, same sequence
    np.testing.assert_array_equal(y1, y2)
    assert a.dtype == np.float32 and R.uniform((2,), dtype="float64").dtype == np.float64
    assert ops.shape(R.normal((2, 3))) == (2, 3)


def test_distribution_moments(backend):
    n = 20000
    z = _np(R.normal((n,), mean=2.0, stddev=3.0, seed=0))
    assert abs(z.mean() - 2.0) < 0.1 and abs(z.std() - 3.0) < 0.1
    u = _np(R.uniform((n,), minval=-1.0, maxval=3.0, seed=1))
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
    t = _np(R.truncated_normal((n,), stddev=2.0, seed=2))
    assert np.abs(t).max() <= 4.0 and abs(t.std() - 2.0 * 0.8796) < 0.05  # truncated at 2 sd
    k = _np(R.randint((n,), 3, 7, seed=3))
    assert set(np.unique(k)) == {3, 4, 5, 6} and k.dtype == np.int32
    gm = _np(R.gamma((n,), 2.0, seed=4))
    assert abs(gm.mean() - 2.0) < 0.1
    bn = _np(R.binomial((n,), 10, 0.3, seed=5))
    assert abs(bn.mean() - 3.0) < 0.1
    bt = _np(R.beta((n,), 2.0, 3.0, seed=6))
    assert abs(bt.mean() - 0.4) < 0.02


def test_categorical_follows_the_logits(backend):
    logits = np.log(np.array([[0.2, 0.8], [0.9, 0.1]]))
    s = _np(R.categorical(logits, 4000, seed=0))
    assert s.shape == (2, 4000) and s.dtype == np.int32
    assert abs(s[0].mean() - 0.8) < 0.03 and abs(s[1].mean() - 0.1) < 0.03
    with pytest.raises(ValueError, match="categorical"):
        R.categorical(np.zeros(3), 2)


def test_dropout_and_shuffle(backend):
    x = np.ones((200, 50), np.float32)
    y = _np(R.dropout(x, 0.3, seed=1))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(y, _np(R.dropout(x, 0.3, seed=1)))
    cols = _np(R.dropout(x, 0.5, noise_shape=(1, 50), seed=2))
    assert (cols == cols[0]).all()  # one mask row broadcast
    s = _np(R.shuffle(np.arange(10), seed=0))
    assert sorted(s.tolist()) == list(range(10)) and s.tolist() != list(range(10))
    with pytest.raises(ValueError, match="rate"):
        R.dropout(x, 1.5)


def test_bad_seed_is_refused():
    with pytest.raises(ValueError, match="seed"):
        R.normal((2,), seed="abc")
    with pytest.raises(ValueError, match="seed"):
        R.SeedGenerator(seed=1.5)
