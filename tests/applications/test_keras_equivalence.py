"""Optional: Keras 3 builds each application with ``weights=None``, saves its weights
(``.weights.h5`` and the legacy ``.h5``), and gpunet's natively built model loads them by
position and predicts what Keras predicts. Keras runs in a child process: the Python of
``$GPUNET_KERAS_PYTHON`` or this one; the test skips where neither has Keras and JAX."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from gpunet import applications as A
from gpunet.layers import clear_session

PYTHON = os.environ.get("GPUNET_KERAS_PYTHON") or (
    sys.executable if importlib.util.find_spec("keras") and importlib.util.find_spec("jax")
    else None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    PYTHON is None, reason="needs keras and jax here or in $GPUNET_KERAS_PYTHON")]

CASES = {"MobileNet": dict(alpha=0.5), "MobileNetV2": dict(alpha=0.35), "ResNet50": {},
         "VGG16": dict(include_top=False, pooling="avg"), "DenseNet121": {},
         "EfficientNetB0": {}}
BUILD = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras
d, cases = sys.argv[1], json.loads(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
for name, kw in cases.items():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    kw = dict(kw, input_shape=(32, 32, 3), weights=None)
    if kw.get("include_top", True):
        kw.update(classes=5, classifier_activation=None)
    m = getattr(keras.applications, name)(**kw)
    for layer in m.layers:  # non-trivial statistics and biases
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.1, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.1, n).astype("float32"))
    m.save_weights(f"{d}/{name}.weights.h5")
    m.save(f"{d}/{name}.h5")
    np.savez(f"{d}/{name}.npz", x=x, y=np.asarray(m.predict(x, verbose=0)))
"""


def test_gpunet_applications_load_keras_weights_and_predict_like_keras(tmp_path):
    import json

    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run([PYTHON, "-c", BUILD, str(tmp_path), json.dumps(CASES)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, kw in CASES.items():
        z = np.load(tmp_path / f"{name}.npz")
        kw = dict(kw, input_shape=(32, 32, 3))
        if kw.get("include_top", True):
            kw.update(classes=5, classifier_activation=None)
        scale = max(1.0, float(np.abs(z["y"]).max()))
        for fname in (f"{name}.weights.h5", f"{name}.h5"):
            clear_session()
            model = getattr(A, name)(weights=str(tmp_path / fname), **kw)
            got = np.asarray(model.predict(z["x"], verbose=0))
            np.testing.assert_allclose(got, z["y"], rtol=1e-4, atol=1e-4 * scale,
                                       err_msg=fname)
