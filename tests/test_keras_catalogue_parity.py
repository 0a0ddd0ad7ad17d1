"""Losses and metrics give the values Keras 3 computed on the same inputs (values made by Keras
itself with tests/fixtures/make_keras_catalogue.py; no Keras needed here)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from gpunet import losses, metrics

FIX = np.load(pathlib.Path(__file__).resolve().parent / "fixtures" / "catalogue.npz")
META = json.loads(str(FIX["meta"]))


@pytest.mark.parametrize("name", sorted(META["losses"]))
def test_loss_matches_keras(backend, name):
    loss = losses.get({"class_name": name, "config": META["losses"][name]})
    t, p, w = (FIX[f"loss_{name}_{k}"].astype("float32") for k in "tpw")
    got = loss(backend.asarray(t), backend.asarray(p), sample_weight=backend.asarray(w))
    got = backend.to_numpy(getattr(got, "data", got))
    np.testing.assert_allclose(got, FIX[f"loss_{name}"], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(META["metrics"]))
def test_metric_matches_keras(backend, name):
    m = getattr(metrics, name)(**META["metrics"][name])
    for b in range(2):
        t, p, w = (FIX[f"metric_{name}_{b}_{k}"].astype("float32") for k in "tpw")
        m.update_state(backend.asarray(t), backend.asarray(p), sample_weight=backend.asarray(w))
    got = m.result()
    got = got.get() if hasattr(got, "get") else np.asarray(got)
    np.testing.assert_allclose(got, FIX[f"metric_{name}"], rtol=2e-5, atol=1e-6)
