"""``input_shape=`` / ``input_dim=`` on a layer: still honoured, with Keras 3's warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpunet
from gpunet import layers

KERAS_TEXT = (r"Do not pass an `input_shape`/`input_dim` argument to a layer\. When using "
              r"Sequential models, prefer using an `Input\(shape\)` object as the first layer "
              r"in the model instead\.")


@pytest.mark.parametrize("kwargs", [{"input_shape": (4,)}, {"input_dim": 4}])
def test_warns_as_keras_3_and_still_builds_the_model(kwargs):
    with pytest.warns(UserWarning, match=KERAS_TEXT):
        first = layers.Dense(3, **kwargs)
    model = gpunet.Sequential([first, layers.Dense(1)])
    assert model.built and model.count_params() == 4 * 3 + 3 + 3 + 1
    assert model.predict(np.ones((2, 4), "float32"), verbose=0).shape == (2, 1)


def test_no_warning_without_it_nor_for_embedding_input_dim():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers.Dense(3)
        layers.Embedding(input_dim=10, output_dim=2)  # the vocabulary size, not a shape
        layers.Input((4,))
