"""Figures for docs/RELIABILITY.md: does training keep non-finite weights or checkpoints?

Twenty runs of a 3-layer ReLU MLP with Adam at learning_rate=1e4 (the unlucky user's setting:
the losses stay finite while the updates overflow the weights), 10 epochs each, with three
ModelCheckpoint callbacks (one .h5 per epoch, the best .h5, the last .weights.h5). Prints the
runs, the steps fit undid, the checkpoint files written and how many hold non-finite weights.

Usage: GPUNET_BACKEND=numpy python tools/nan_guard_figures.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gpunet  # noqa: E402
from gpunet import layers  # noqa: E402
from gpunet.callbacks import ModelCheckpoint  # noqa: E402


def finite(weights) -> bool:
    return all(np.isfinite(w).all() for w in weights)


def one_run(seed: int, folder: str) -> tuple[int, int, int, bool]:
    gpunet.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype("float32") * 100
    y = rng.normal(size=(64, 1)).astype("float32") * 1e4
    model = gpunet.Sequential([layers.Input((4,)), layers.Dense(64, activation="relu"),
                               layers.Dense(64, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=gpunet.optimizers.Adam(1e4), loss="mse")
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=8, epochs=10, verbose=2, callbacks=[
            ModelCheckpoint(os.path.join(folder, "ck{epoch}.h5")),
            ModelCheckpoint(os.path.join(folder, "best.h5"), monitor="loss",
                            save_best_only=True),
            ModelCheckpoint(os.path.join(folder, "last.weights.h5"), save_weights_only=True)])
    undone = sum(int(str(w.message).split(": ")[1].split()[0]) for w in caught
                 if "were skipped" in str(w.message))
    files = bad = 0
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        files += 1
        if name.endswith(".weights.h5"):
            model.load_weights(path)
            bad += not finite(model.get_weights())
        else:
            bad += not finite(gpunet.models.load_model(path).get_weights())
    return undone, files, bad, finite(model.get_weights())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    undone = files = bad = bad_final = 0
    for seed in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            u, f, b, ok = one_run(seed, folder)
        undone, files, bad, bad_final = undone + u, files + f, bad + b, bad_final + (not ok)
    print(f"runs: {args.runs}, steps: {args.runs * 80}, steps undone: {undone}, "
          f"checkpoint files: {files}, with non-finite weights: {bad}, "
          f"runs ending with non-finite weights: {bad_final}")


if __name__ == "__main__":
    main()
