"""``weights=``: a Keras-saved file loads by position and gives Keras's predictions
(fixture written by Keras 3.15, see ``tests/fixtures/make_keras_applications.py``); gpunet's
own files round-trip; ``"imagenet"`` uses the file the cache holds or raises clearly."""

from __future__ import annotations

import os

import numpy as np
import pytest

import gpunet
from gpunet import applications as A
from gpunet.layers import clear_session

FIX = os.path.join(os.path.dirname(__file__), "..", "fixtures")
KW = dict(alpha=0.25, input_shape=(32, 32, 3), classes=5, classifier_activation=None)


def test_keras_saved_mobilenet_gives_keras_predictions(backend):
    z = np.load(os.path.join(FIX, "applications_mobilenet.npz"))
    model = A.MobileNet(weights=os.path.join(FIX, "applications_mobilenet.weights.h5"), **KW)
    got = backend.to_numpy(model(backend.asarray(z["x"])).data)
    np.testing.assert_allclose(got, z["y"], rtol=1e-5, atol=1e-5)


def test_own_files_round_trip_and_input_tensor(tmp_path):
    clear_session()
    model = A.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=3)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    want = np.asarray(model.predict(x, verbose=0))
    for fname in ("w.weights.h5", "w.h5"):
        model.save_weights(tmp_path / fname)
        inp = gpunet.layers.Input((32, 32, 3))
        other = A.MobileNetV2(weights=str(tmp_path / fname), alpha=0.35, input_tensor=inp,
                              classes=3)
        assert other.inputs[0] is inp
        assert other.name == "mobilenetv2_0.35_224"  # Keras 3.15's name for this call
        np.testing.assert_allclose(np.asarray(other.predict(x, verbose=0)), want, atol=1e-6)


def test_input_tensor_behind_a_layer_uses_its_source_input():
    clear_session()
    inp = gpunet.layers.Input((32, 32, 3))
    scaled = gpunet.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    model = A.MobileNet(weights=None, alpha=0.25, input_tensor=scaled, include_top=False,
                        pooling="avg")
    assert model.inputs[0] is inp and model.output_shape == (None, 256)
    assert model.name == "mobilenet_0.25_None"  # Keras 3.15's name for this call
    assert model.layers[1].name == "rescaling"
    with pytest.raises(ValueError, match="input_tensor"):
        A.MobileNet(weights=None, input_tensor=np.zeros((1, 32, 32, 3), "float32"))


def test_bad_weights_arguments_raise():
    with pytest.raises(ValueError, match="no such file"):
        A.ResNet50(weights="missing.weights.h5")
    with pytest.raises(ValueError, match="classes"):
        A.DenseNet121(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="classifier_activation"):
        A.MobileNet(weights=os.path.join(FIX, "applications_mobilenet.weights.h5"),
                    classifier_activation="relu", **{k: v for k, v in KW.items()
                                                    if k != "classifier_activation"})
    with pytest.raises(ValueError, match="alpha"):
        A.MobileNet(weights="imagenet", alpha=0.3)


def test_imagenet_weights_from_the_cache_or_a_clear_error(monkeypatch, tmp_path):
    from gpunet.utils import data_utils

    calls = []

    def offline(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs.get("file_hash")))
        raise data_utils.DatasetNotFoundError("no network")

    monkeypatch.setattr(data_utils, "get_file", offline)
    with pytest.raises(ValueError, match=r"weights=<path>"):
        A.ResNet50(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    assert calls[-1] == ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
                         "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         "4d473c1dd8becc155b73f8504c6f6626")
    # a file found locally (as in ~/.keras/models) is loaded
    monkeypatch.setattr(data_utils, "get_file",
                        lambda *a, **k: os.path.join(FIX, "applications_mobilenet.weights.h5"))
    with pytest.warns(UserWarning, match="224"):
        model = A.MobileNet(weights="imagenet", alpha=0.25, input_shape=(32, 32, 3),
                            include_top=False)
    assert model.name == "mobilenet_0.25_224"
    reference = A.MobileNet(weights=os.path.join(FIX, "applications_mobilenet.weights.h5"),
                            **KW)
    np.testing.assert_array_equal(np.asarray(model.get_weights()[0]),
                                  np.asarray(reference.get_weights()[0]))


def test_efficientnet_saves_and_loads_as_a_whole_model(tmp_path):
    """Its config holds Rescaling, Normalization, dict initializers and drop-connect
    Dropout(noise_shape); ``load_model`` rebuilds it with the same predictions."""
    clear_session()
    model = A.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=3)
    x = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    want = np.asarray(model.predict(x, verbose=0))
    model.save(tmp_path / "e.keras")
    loaded = gpunet.models.load_model(tmp_path / "e.keras", compile=False)
    assert [lyr.name for lyr in loaded.layers] == [lyr.name for lyr in model.layers]
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), want, atol=1e-6)
