"""The applications have Keras 3.15's architecture exactly: every layer's name, class and
weight shapes in Keras's order, the parameter count and the output shapes, as Keras itself
reported them (``tests/fixtures/applications_arch.json``, written by
``tests/fixtures/make_keras_applications.py`` with Keras 3.15.1, ``weights=None``)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from gpunet import applications as A
from gpunet.layers import clear_session

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "applications_arch.json")
with open(FIXTURE) as f:
    ARCH = json.load(f)
BUILDERS = {"MobileNet": A.MobileNet, "MobileNetV2": A.MobileNetV2, "ResNet50": A.ResNet50,
            "VGG16": A.VGG16, "DenseNet121": A.DenseNet121, "EfficientNetB0": A.EfficientNetB0}
# Parameter counts and layer names from Keras 3.15 (model.count_params(), weights=None),
# written here so the numbers are visible without the fixture.
KERAS_COUNTS = {"MobileNet": 4_253_864, "MobileNetV2": 3_538_984, "ResNet50": 25_636_712,
                "VGG16": 138_357_544, "DenseNet121": 8_062_504, "EfficientNetB0": 5_330_571,
                "MobileNet_small": 219_829, "MobileNetV2_small": 416_613,
                "VGG16_small": 33_625_927}
KERAS_NAMES = {
    "MobileNet": ["conv1", "conv_pad_2", "conv_dw_13_relu", "global_average_pooling2d",
                  "conv_preds", "reshape_2", "predictions"],
    "MobileNetV2": ["Conv1", "expanded_conv_depthwise", "block_1_pad", "block_16_project_BN",
                    "out_relu", "predictions"],
    "ResNet50": ["conv1_pad", "conv2_block1_0_conv", "conv5_block3_out", "avg_pool"],
    "VGG16": ["block1_conv1", "block5_pool", "flatten", "fc1", "fc2", "predictions"],
    "DenseNet121": ["zero_padding2d", "zero_padding2d_1", "pool1", "conv5_block16_concat",
                    "bn", "relu", "avg_pool"],
    "EfficientNetB0": ["rescaling", "normalization", "stem_conv_pad", "block2b_drop",
                       "block6d_se_excite", "top_dropout", "predictions"],
}


def _describe(model) -> list:
    return [[lyr.name, type(lyr).__name__, [list(w.shape) for w in lyr.weights]]
            for lyr in model.layers]


def _build(key: str, **kwargs):
    clear_session()
    return BUILDERS[key.split("_")[0]](weights=None, **{**ARCH[key]["kwargs"], **kwargs})


def _params(key):
    marks = [pytest.mark.slow] if key == "VGG16" else []  # 138M weights to initialise
    return pytest.param(key, marks=marks, id=key)


@pytest.mark.parametrize("key", [_params(k) for k in KERAS_COUNTS])
def test_layers_weights_and_counts_equal_keras(key):
    model = _build(key)
    expected = ARCH[key]
    assert model.count_params() == expected["count_params"] == KERAS_COUNTS[key]
    assert model.name == expected["name"]
    got = _describe(model)
    assert [g[0] for g in got] == [e[0] for e in expected["layers"]], "layer names/order"
    assert got == expected["layers"]
    names = [lyr.name for lyr in model.layers]
    for name in KERAS_NAMES.get(key, []):
        assert name in names
    assert list(model.output_shape) == [None if s is None else s
                                        for s in expected["output_shape"]]


@pytest.mark.parametrize("key", [_params(k) for k in BUILDERS])
def test_no_top_output_shape_and_count_for_each_pooling(key):
    for pooling, (shape, count) in ARCH[key]["no_top_64"].items():
        pooling = None if pooling == "None" else pooling
        model = _build(key, include_top=False, input_shape=(64, 64, 3), pooling=pooling)
        assert list(model.output_shape) == shape, (key, pooling)
        assert model.count_params() == count, (key, pooling)


def test_default_input_shape_with_and_without_top():
    clear_session()
    assert A.MobileNetV2(weights=None, alpha=0.35).input_shape == (None, 224, 224, 3)
    free = A.MobileNetV2(weights=None, alpha=0.35, include_top=False)
    assert free.input_shape == (None, None, None, 3)
    assert free.output_shape == (None, None, None, 1280)
    with pytest.raises(ValueError, match="at least 32x32"):
        A.ResNet50(weights=None, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="pooling"):
        A.ResNet50(weights=None, include_top=False, pooling="mean")


@pytest.mark.parametrize("key,kwargs", [
    ("MobileNet", dict(alpha=0.25)), ("MobileNetV2", dict(alpha=0.35)), ("ResNet50", {}),
    ("DenseNet121", {}), ("EfficientNetB0", {})])
def test_forward_pass_at_32x32(backend, key, kwargs):
    clear_session()
    model = BUILDERS[key](weights=None, input_shape=(32, 32, 3), classes=4, **kwargs)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    y = backend.to_numpy(model(backend.asarray(x)).data)
    assert y.shape == (2, 4)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)  # softmax top
    assert np.all(np.isfinite(y))


def test_vgg16_forward_pass_without_top(backend):
    """VGG16's top at 32x32 holds 19M weights; the convolutional base is run instead."""
    clear_session()
    model = A.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    y = backend.to_numpy(model(backend.asarray(x)).data)
    assert y.shape == (2, 512) and np.all(np.isfinite(y)) and np.all(y >= 0)
