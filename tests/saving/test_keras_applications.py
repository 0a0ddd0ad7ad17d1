"""Keras's own application architectures (MobileNet, MobileNetV2, ResNet50, DenseNet121,
EfficientNetB0), built and saved by Keras 3 with random weights, load in gpunet and give
Keras's logits. Runs where Keras and JAX are installed; Keras runs in a child process."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import gpunet

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None,
    reason="needs keras and jax (pip install keras jax)")

BUILD = r"""
import os, sys, numpy as np
os.environ["KERAS_BACKEND"] = "jax"
import keras
d = sys.argv[1]
keras.utils.set_random_seed(0)
kw = dict(input_shape=(32, 32, 3), weights=None, classes=5, classifier_activation=None)
apps = {"mobilenet": keras.applications.MobileNet(alpha=0.25, **kw),
        "mobilenetv2": keras.applications.MobileNetV2(alpha=0.35, **kw),
        "resnet50": keras.applications.ResNet50(**kw),
        "densenet121": keras.applications.DenseNet121(**kw),
        "efficientnetb0": keras.applications.EfficientNetB0(**kw)}
x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
for name, m in apps.items():
    m.save(f"{d}/{name}.keras")
    np.savez(f"{d}/{name}.npz", x=x, y=m.predict(x, verbose=0))
"""


def test_keras_applications_load_and_predict_like_keras(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run([sys.executable, "-c", BUILD, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("mobilenet", "mobilenetv2", "resnet50", "densenet121", "efficientnetb0"):
        z = np.load(tmp_path / f"{name}.npz")
        model = gpunet.models.load_model(tmp_path / f"{name}.keras", compile=False)
        got = np.asarray(model.predict(z["x"], verbose=0))
        scale = max(1.0, float(np.abs(z["y"]).max()))
        np.testing.assert_allclose(got, z["y"], rtol=1e-4, atol=1e-5 * scale, err_msg=name)
