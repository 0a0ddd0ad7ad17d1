"""Every optimizer's first four steps equal Keras 3's, for the same model, data and
non-default arguments (tests/fixtures/optimizers.npz, computed by Keras itself)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from gpunet import Sequential, layers, optimizers

FIX = np.load(pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "optimizers.npz")
CONFIGS = json.loads(str(FIX["configs"]))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_optimizer_steps_match_keras(backend, name):
    model = Sequential([layers.Input((3,)), layers.Dense(4)])
    model.set_weights([FIX["w0_0"], FIX["w0_1"]])
    opt = getattr(optimizers, name)(**CONFIGS[name])
    model.compile(optimizer=opt, loss="mse")
    for i in range(4):
        model.train_on_batch(FIX["x"][i], FIX["y"][i])
    if CONFIGS[name].get("use_ema"):
        opt.finalize_variable_values(model.trainable_weights)
    for j, got in enumerate(model.get_weights()):
        np.testing.assert_allclose(got, FIX[f"{name}_{j}"], rtol=2e-5, atol=2e-6)
