"""The Keras 3.15 colour, erasing and mixing augmentation layers against values Keras computed
(tests/fixtures/augment.*, made by tests/fixtures/make_keras_augment.py; no Keras needed here):
the transformation Keras drew, fed to gpunet's ``transform_images`` / ``transform_labels``,
gives Keras's output; deterministic settings give Keras's ``call`` output; ``training=False``
gives Keras's output; configs equal Keras's and a layer built from Keras's config behaves the
same."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd import Tensor

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIX = np.load(FIXDIR / "augment.npz")
CASES = json.loads((FIXDIR / "augment.json").read_text())["cases"]
MIXING = ("MixUp", "CutMix")


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _json(obj):
    return json.loads(json.dumps(obj))


def _layer(key):
    case = CASES[key]
    kwargs = dict(case["kwargs"])
    if case["class_name"] != "AutoContrast":
        kwargs["seed"] = case["config"]["seed"] if "seed" in case["config"] else 7
    return getattr(layers, case["class_name"])(**kwargs, name=key)


def _transformation(backend, key):
    case = CASES[key]
    keys = case["transformation"]
    if case["class_name"] == "RandomColorJitter":
        t = {}
        for part, k in keys:
            t.setdefault(part, {})[k] = backend.asarray(FIX[f"{key}_t_{part}_{k}"])
        return t
    if keys is None:
        return backend.asarray(FIX[f"{key}_t"]) if f"{key}_t" in FIX else None
    return {k: backend.asarray(FIX[f"{key}_t_{k}"]) for k in keys}


def _want(key, what):
    """Keras's array, except where gpunet deliberately differs: AutoContrast with
    channels_first stretches each channel over its height and width (Keras 3.15 reduces over
    axes 1 and 2, mixing channels): Keras's channels_last result on the transposed images."""
    if f"{key}_per_channel" in FIX and what in ("y", "call", "idle"):
        return FIX[f"{key}_per_channel"]
    return FIX[f"{key}_{what}"]


def _tol(key):
    top = float(np.max(np.abs(FIX[f"{key}_x"])))
    return {"rtol": 1e-5, "atol": 2e-5 * max(top, 1.0)}


@pytest.mark.parametrize("key", sorted(CASES))
def test_transform_images_with_keras_transformation_gives_keras_output(backend, key):
    layer = _layer(key)
    x = backend.asarray(FIX[f"{key}_x"])
    y = layer.transform_images(x, _transformation(backend, key), training=True)
    want = _want(key, "y")
    assert tuple(y.shape) == want.shape
    got = _np(backend, y)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, **_tol(key))
    if CASES[key]["class_name"] in MIXING:
        labels = layer.transform_labels(backend.asarray(FIX[f"{key}_labels"]),
                                        _transformation(backend, key))
        np.testing.assert_allclose(_np(backend, labels), FIX[f"{key}_ylabels"], rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("key", sorted(k for k in CASES if CASES[k]["deterministic"]))
def test_deterministic_call_gives_keras_call_output(backend, key):
    got = _np(backend, _layer(key)(backend.asarray(FIX[f"{key}_x"])))  # training by default
    np.testing.assert_allclose(got, _want(key, "call"), **_tol(key))


@pytest.mark.parametrize("key", sorted(CASES))
def test_training_false_gives_keras_output(backend, key):
    x = FIX[f"{key}_x"]
    got = _np(backend, _layer(key)(backend.asarray(x), training=False))
    want = _want(key, "idle")
    np.testing.assert_allclose(got, want, **_tol(key))
    if CASES[key]["training_false_is_identity"]:
        np.testing.assert_array_equal(got, x)


@pytest.mark.parametrize("key", sorted(CASES))
def test_config_equals_keras_get_config(key):
    kcfg = CASES[key]["config"]
    layer = _layer(key)
    cfg = _json(layer.get_config())
    for k, v in kcfg.items():
        if k != "dtype":
            assert cfg[k] == v, k
    extra = set(cfg) - set(kcfg)
    # RandomGrayscale keeps its seed (Keras 3.15 drops it from the config)
    assert extra == ({"seed"} if CASES[key]["class_name"] == "RandomGrayscale" else set())
    cls = type(layer)
    again = cls.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()


@pytest.mark.parametrize("key", sorted(CASES))
def test_layer_from_keras_config_replays_keras_transformation(backend, key):
    case = CASES[key]
    layer = layers.deserialize({"class_name": case["class_name"], "config": case["config"]})
    assert type(layer).__name__ == case["class_name"]
    y = layer.transform_images(backend.asarray(FIX[f"{key}_x"]),
                               _transformation(backend, key))
    np.testing.assert_allclose(_np(backend, y), _want(key, "y"), **_tol(key))


def test_keras_saved_model_loads_and_predicts_as_keras(backend):
    model = gpunet.models.load_model(FIXDIR / "augment.keras", compile=False)
    names = [type(layer).__name__ for layer in model.layers]
    assert names[:13] == ["RandomGrayscale", "RandomInvert", "Solarization",
                          "RandomPosterization", "AutoContrast", "RandomColorDegeneration",
                          "RandomSaturation", "RandomHue", "RandomSharpness",
                          "RandomColorJitter", "RandomErasing", "MixUp", "CutMix"]
    assert model.layers[9].get_config()["seed"] == 2
    np.testing.assert_allclose(model.predict(FIX["model_x"], verbose=0), FIX["model_y"],
                               rtol=1e-5, atol=1e-5)
