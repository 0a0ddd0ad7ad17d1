"""``preprocess_input`` against Keras's formulas on hand-computed pixels, and
``decode_predictions`` with a given class index (no download in tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gpunet import applications as A
from gpunet.applications import imagenet_utils
from gpunet.autograd import Tensor

PIX = np.array([[[[0.0, 127.5, 255.0], [10.0, 20.0, 30.0]]]], dtype="float32")  # (1, 1, 2, 3)
# Keras's formulas, by hand: tf: x / 127.5 - 1; torch: (x / 255 - mean) / std per RGB
# channel; caffe: RGB -> BGR, then minus (103.939, 116.779, 123.68).
TF = np.array([[[[-1.0, 0.0, 1.0], [10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1]]]])
TORCH = np.array([[[[(0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225],
                    [(10 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224,
                     (30 / 255 - 0.406) / 0.225]]]])
CAFFE = np.array([[[[255 - 103.939, 127.5 - 116.779, 0 - 123.68],
                    [30 - 103.939, 20 - 116.779, 10 - 123.68]]]])


@pytest.mark.parametrize("fn,expected", [
    (A.mobilenet.preprocess_input, TF), (A.mobilenet_v2.preprocess_input, TF),
    (A.densenet.preprocess_input, TORCH), (A.resnet50.preprocess_input, CAFFE),
    (A.vgg16.preprocess_input, CAFFE), (A.efficientnet.preprocess_input, PIX)])
def test_family_modes_on_numpy(fn, expected):
    got = fn(PIX.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("mode,expected", [("tf", TF), ("torch", TORCH), ("caffe", CAFFE)])
def test_tensor_input_and_channels_first(backend, mode, expected):
    t = Tensor(backend.asarray(PIX))
    got = imagenet_utils.preprocess_input(t, mode=mode)
    assert isinstance(got, Tensor)
    np.testing.assert_allclose(backend.to_numpy(got.data), expected, rtol=1e-6, atol=1e-5)
    cf = np.ascontiguousarray(np.moveaxis(PIX, -1, 1))
    got = imagenet_utils.preprocess_input(cf, data_format="channels_first", mode=mode)
    np.testing.assert_allclose(np.moveaxis(got, 1, -1), expected, rtol=1e-6, atol=1e-5)
    got3 = imagenet_utils.preprocess_input(PIX[0].copy(), mode=mode)  # one 3-D image
    np.testing.assert_allclose(got3, expected[0], rtol=1e-6, atol=1e-5)


def test_integer_input_becomes_float32_and_bad_arguments_raise():
    got = imagenet_utils.preprocess_input(np.array([[[0, 255, 51]]], dtype="uint8"), mode="tf")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[[-1.0, 1.0, 51 / 127.5 - 1]]], rtol=1e-6)
    with pytest.raises(ValueError, match="mode"):
        imagenet_utils.preprocess_input(PIX.copy(), mode="keras")
    with pytest.raises(ValueError, match="data_format"):
        imagenet_utils.preprocess_input(PIX.copy(), data_format="NHWC")


def test_symbolic_preprocessing_inside_a_model():
    import gpunet

    inp = gpunet.layers.Input((1, 2, 3))
    model = gpunet.Model(inp, A.resnet50.preprocess_input(inp))
    np.testing.assert_allclose(np.asarray(model.predict(PIX, verbose=0)), CAFFE, atol=1e-4)


def _index():
    return {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}


def test_decode_predictions_with_class_index(tmp_path):
    preds = np.zeros((2, 1000), "float32")
    preds[0, [3, 7, 900]] = [0.2, 0.5, 0.3]
    preds[1, 42] = 1.0
    out = A.mobilenet.decode_predictions(preds, top=3, class_index=_index())
    assert [r[:2] for r in out[0]] == [("n00000007", "class_7"), ("n00000900", "class_900"),
                                       ("n00000003", "class_3")]
    np.testing.assert_allclose([r[2] for r in out[0]], [0.5, 0.3, 0.2])
    assert out[1][0][:2] == ("n00000042", "class_42") and len(out[1]) == 3
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(_index()))
    assert A.vgg16.decode_predictions(preds, top=1, class_index=str(path))[1][0][1] == "class_42"


def test_decode_predictions_of_a_tensor(backend):
    preds = np.zeros((1, 1000), "float32")
    preds[0, 5] = 0.9
    out = imagenet_utils.decode_predictions(Tensor(backend.asarray(preds)), top=2,
                                            class_index=_index())
    assert out[0][0][1] == "class_5" and float(out[0][0][2]) == pytest.approx(0.9)


def test_decode_predictions_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"\(samples, 1000\).*\(2, 10\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))
    from gpunet.utils import data_utils

    def offline(*args, **kwargs):
        raise data_utils.DatasetNotFoundError("no network")

    monkeypatch.setattr(data_utils, "get_file", offline)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    with pytest.raises(ValueError, match="class_index="):
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))
