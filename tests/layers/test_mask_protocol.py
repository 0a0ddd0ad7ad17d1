"""The mask protocol of ``Layer.__call__``: made by ``compute_mask``, passed to ``call(mask=)``,
kept by layers that support masking, dropped by the others."""

from __future__ import annotations

import numpy as np

from gpunet import layers
from gpunet.autograd.tensor import Tensor


class ZeroMask(layers.Layer):
    """Masks time steps whose features are all zero (like ``Masking(0.0)``)."""

    def call(self, x, training=None):
        return x

    def compute_mask(self, inputs, mask=None):
        return (inputs.data != 0).any(axis=-1)


class SeesMask(layers.Layer):
    supports_masking = True

    def call(self, x, training=None, mask=None):
        self.seen = mask
        return x


def test_mask_is_made_passed_kept_and_dropped(backend):
    x = np.zeros((2, 3, 4), "float32")
    x[0, :2] = 1.0
    x[1, 0] = 2.0
    t = Tensor(backend.asarray(x))
    m = ZeroMask()(t)
    want = np.array([[True, True, False], [True, False, False]])
    np.testing.assert_array_equal(backend.to_numpy(m._keras_mask), want)
    seer = SeesMask()
    d = layers.Dense(5)(seer(m))
    np.testing.assert_array_equal(backend.to_numpy(seer.seen), want)
    np.testing.assert_array_equal(backend.to_numpy(d._keras_mask), want)  # Dense keeps it
    assert layers.Flatten()(d)._keras_mask is None  # Flatten does not support masking


def test_explicit_mask_argument_wins(backend):
    t = Tensor(backend.asarray(np.ones((2, 3, 4), "float32")))
    seer = SeesMask()
    given = backend.asarray(np.array([[True, False, False], [True, True, True]]))
    out = seer(t, mask=given)
    assert seer.seen is given and out._keras_mask is given


def test_no_mask_no_work(backend):
    t = Tensor(backend.asarray(np.ones((2, 4), "float32")))
    assert layers.Dense(3)(t)._keras_mask is None
