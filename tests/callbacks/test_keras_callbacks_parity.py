"""ReduceLROnPlateau (with cooldown) and EarlyStopping(restore_best_weights) drive fit exactly as
in Keras 3: same epochs run, losses, learning rates and restored weights (tests/fixtures/
callbacks.npz, computed by Keras itself)."""

from __future__ import annotations

import pathlib

import numpy as np

import gpunet
from gpunet.callbacks import EarlyStopping, ReduceLROnPlateau

FIX_DIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def test_callbacks_follow_keras(backend):
    ref = np.load(FIX_DIR / "callbacks.npz")
    model = gpunet.models.load_model(FIX_DIR / "callbacks_init.h5")
    cbs = [ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.001,
                             cooldown=1),
           EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)]
    hist = model.fit(ref["x"], ref["y"], batch_size=16, epochs=30, shuffle=False, verbose=0,
                     validation_split=0.25, callbacks=cbs)
    assert len(hist.history["loss"]) == len(ref["loss"])
    np.testing.assert_allclose(hist.history["loss"], ref["loss"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hist.history["val_loss"], ref["val_loss"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hist.history["learning_rate"], ref["lr"], rtol=1e-6)
    for i, got in enumerate(model.get_weights()):
        np.testing.assert_allclose(got, ref[f"w{i}"], rtol=1e-4, atol=2e-5)  # float32 drift
