"""Files written by Keras 3 itself (tests/fixtures, made by make_keras_fixtures.py with Keras
3.15 on JAX) load in gpunet and predict what Keras predicted for the stored input."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import gpunet

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
NAMES = ["mlp", "cnn", "lstm", "gru_bidirectional", "functional", "rnn_cells", "conv_lstm",
         "conv_transpose", "separable_depthwise", "conv1d", "conv3d", "time_distributed",
         "attention", "misc", "normalization_layers"]


def _io(name):
    d = np.load(FIX / f"{name}.npz")
    xs = [d[k] for k in sorted(k for k in d.files if k.startswith("x"))]
    ys = [d[k] for k in sorted(k for k in d.files if k.startswith("y"))]
    return (xs if len(xs) > 1 else xs[0]), ys


@pytest.mark.parametrize("name", NAMES)
def test_keras_h5_file_predicts_like_keras(backend, name):
    model = gpunet.models.load_model(FIX / f"{name}.h5", compile=False)
    x, ys = _io(name)
    got = model.predict(x, verbose=0)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(ys)
    for g, want in zip(got, ys):
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_keras_archive_predicts_like_keras(backend, name):
    path = FIX / f"{name}.keras"
    model = gpunet.models.load_model(path, compile=False)
    x, ys = _io(name)
    got = model.predict(x, verbose=0)
    got = got if isinstance(got, list) else [got]
    for g, want in zip(got, ys):
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-4, atol=1e-5)
