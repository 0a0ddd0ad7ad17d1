"""A Sequential model checks each call's input shape against its input, also after calls
that passed (the accepted shape is remembered, not the check skipped)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import Sequential, layers


def test_wrong_shapes_refused_after_good_calls(backend):
    model = Sequential([layers.Input((4,)), layers.Dense(3)])
    good = backend.asarray(np.ones((2, 4), "float32"))
    for _ in range(2):
        assert model(good).shape == (2, 3)
    assert model(backend.asarray(np.ones((5, 4), "float32"))).shape == (5, 3)  # any batch
    for bad in (np.ones((2, 5), "float32"), np.ones((2, 4, 1), "float32")):
        with pytest.raises(ValueError, match=r"Input 0 of layer 'dense.*' is incompatible with "
                                             r"the layer: expected shape=\(None, 4\)"):
            model(backend.asarray(bad))
    assert model(good).shape == (2, 3)


def test_a_rebuilt_model_checks_its_new_input():
    model = Sequential([layers.Dense(3)])
    model.build((None, 4))
    model(np.ones((2, 4), "float32"))
    model.pop()
    model.add(layers.Dense(2))  # rebuilt for the same input: still (None, 4)
    with pytest.raises(ValueError, match="expected shape=\\(None, 4\\)"):
        model(np.ones((2, 6), "float32"))
    other = Sequential([layers.Input((6,)), layers.Dense(2)])
    assert other(np.ones((2, 6), "float32")).shape == (2, 2)
