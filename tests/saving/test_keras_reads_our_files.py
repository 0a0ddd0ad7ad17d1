"""Keras 3 itself opens the files gpunet writes (.h5 and .keras) and predicts what gpunet
predicted. Runs only where Keras and a backend are installed (``pip install keras jax``); the
check runs in a child process so that the backend's threads stay out of this one."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None,
    reason="needs keras and jax (pip install keras jax)")

CHECK = r"""
import os, sys, numpy as np
os.environ["KERAS_BACKEND"] = "jax"
import keras
d = sys.argv[1]
for name in sys.argv[2:]:
    z = np.load(f"{d}/{name}.npz")
    xs = [z[k] for k in sorted(k for k in z.files if k.startswith("x"))]
    ys = [z[k] for k in sorted(k for k in z.files if k.startswith("y"))]
    for ext in ("h5", "keras"):
        m = keras.models.load_model(f"{d}/{name}.{ext}", compile=False)
        got = m.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        got = got if isinstance(got, list) else [got]
        err = max(float(np.max(np.abs(np.asarray(g) - w))) for g, w in zip(got, ys))
        print(name, ext, err)
"""


def _models(rng):
    a, b = layers.Input((4,), name="a"), layers.Input((4,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    x = layers.LayerNormalization()(layers.Concatenate()([shared(a), shared(b)]))
    functional = gpunet.Model([a, b], [layers.Dense(2, name="out1")(x),
                                       layers.Dense(1, name="out2")(layers.Add()([shared(a),
                                                                                  shared(b)]))])
    return {
        "mlp": (Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"),
                            layers.Dropout(0.2), layers.Dense(3, activation="softmax")]),
                rng.normal(size=(4, 6)).astype("float32")),
        "cnn": (Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                            layers.MaxPooling2D(), layers.Conv2D(6, 2, padding="same"),
                            layers.BatchNormalization(), layers.GlobalAveragePooling2D(),
                            layers.Dense(2)]), rng.normal(size=(3, 8, 8, 1)).astype("float32")),
        "lstm": (Sequential([layers.Input((5,), dtype="int32"),
                             layers.Embedding(10, 4, mask_zero=True), layers.LSTM(6),
                             layers.Dense(1, activation="sigmoid")]),
                 np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2]], "int32")),
        "gru": (Sequential([layers.Input((4, 3)),
                            layers.Bidirectional(layers.GRU(5, return_sequences=True)),
                            layers.SimpleRNN(3)]), rng.normal(size=(2, 4, 3)).astype("float32")),
        "rnn_cells": (Sequential([layers.Input((4, 3)),
                                  layers.RNN([layers.LSTMCell(5), layers.GRUCell(2)],
                                             return_sequences=True),
                                  layers.RNN(layers.SimpleRNNCell(3))]),
                      rng.normal(size=(2, 4, 3)).astype("float32")),
        "conv_lstm": (Sequential([layers.Input((3, 5, 5, 2)),
                                  layers.ConvLSTM2D(3, 3, padding="same"), layers.Flatten(),
                                  layers.Dense(2)]),
                      rng.normal(size=(2, 3, 5, 5, 2)).astype("float32")),
        "functional": (functional, [rng.normal(size=(3, 4)).astype("float32")
                                    for _ in range(2)]),
    }


def test_keras_loads_gpunet_files_and_predicts_the_same(tmp_path):
    rng = np.random.default_rng(0)
    gpunet.utils.set_random_seed(0)
    models = _models(rng)
    for name, (m, x) in models.items():
        m.compile(optimizer="adam", loss="mse")
        y = m.predict(x, verbose=0)
        m.save(tmp_path / f"{name}.h5")
        m.save(tmp_path / f"{name}.keras")
        xs = x if isinstance(x, list) else [x]
        ys = y if isinstance(y, list) else [y]
        np.savez(tmp_path / f"{name}.npz", **{f"x{i}": v for i, v in enumerate(xs)},
                 **{f"y{i}": np.asarray(v) for i, v in enumerate(ys)})
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path), *models], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [ln.split() for ln in done.stdout.splitlines() if ln.strip()]
    assert len(lines) == 2 * len(models)
    for name, ext, err in lines:
        assert float(err) < 1e-5, (name, ext, err)


def test_keras_fixtures_resaved_by_gpunet_load_back_in_keras(tmp_path):
    """Keras → gpunet → Keras: every fixture Keras wrote (tests/fixtures) is loaded by
    gpunet, saved again by gpunet, and Keras predicts from that file what it predicted from
    its own. (A MultiHeadAttention model goes through .keras only: its legacy .h5 node format
    is the tf.keras 2 one, which Keras 3's legacy reader does not rebuild.)"""
    import pathlib
    import shutil

    fixtures = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
    names = sorted(p.stem for p in fixtures.glob("*.keras"))
    assert len(names) >= 10
    for name in names:
        model = gpunet.models.load_model(fixtures / f"{name}.keras", compile=False)
        model.save(tmp_path / f"{name}.keras")
        if name != "attention":
            model.save(tmp_path / f"{name}.h5")
        else:
            shutil.copy(fixtures / "attention.h5", tmp_path / "attention.h5")
        z = np.load(fixtures / f"{name}.npz")
        np.savez(tmp_path / f"{name}.npz", **{k: z[k] for k in z.files})
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path), *names], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [ln.split() for ln in done.stdout.splitlines() if ln.strip()]
    assert len(lines) == 2 * len(names)
    for name, ext, err in lines:
        assert float(err) < 1e-5, (name, ext, err)
