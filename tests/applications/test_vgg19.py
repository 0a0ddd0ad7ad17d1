"""VGG19 as ``keras.applications.VGG19`` (layer names, order, parameter counts and output
shapes as Keras 3.15 builds them: 20,024,384 parameters without the top, 143,667,240 with)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import applications as A

KERAS_NOTOP_LAYERS = [
    "block1_conv1", "block1_conv2", "block1_pool", "block2_conv1", "block2_conv2",
    "block2_pool", "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4",
    "block3_pool", "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4",
    "block4_pool", "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4",
    "block5_pool"]


def test_vgg19_without_top(backend):
    model = A.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
    names = [layer.name for layer in model.layers]
    assert names[1:-1] == KERAS_NOTOP_LAYERS
    assert model.count_params() == 20_024_384
    assert model.output_shape == (None, 512)
    out = model.predict(np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)), verbose=0)
    assert out.shape == (2, 512) and np.all(np.isfinite(out))


@pytest.mark.slow
def test_vgg19_with_top(backend):
    model = A.VGG19(weights=None)
    assert model.count_params() == 143_667_240
    assert model.output_shape == (None, 1000)
    assert [layer.name for layer in model.layers][-4:] == ["flatten", "fc1", "fc2",
                                                          "predictions"]


def test_vgg19_arguments_checked():
    with pytest.raises(ValueError, match="classes"):
        A.VGG19(weights="imagenet", classes=10)
    assert A.vgg19.preprocess_input is A.vgg16.preprocess_input
