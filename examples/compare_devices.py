"""The same seeded model trained on the CPU (NumPy) and on the GPU (CuPy), side by side.

Usage:
    python examples/compare_devices.py [--epochs 2] [--batch-size 128] [--limit 20000]

Both runs start from identical initial weights (drawn on the host from one seed), see the
same batches in the same order and draw the same dropout masks (the Philox streams give the
same bits on both devices). The script prints each device's epoch time and throughput, the
test accuracy, the largest difference between the two runs' per-epoch training losses, and
how far the two trained models' predictions drift apart (float32 sums run in a different order
on each device). Without a usable GPU it runs the CPU side and says
why the GPU side was skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mnist_mlp  # noqa: E402

import gpunet  # noqa: E402
from gpunet import optimizers  # noqa: E402


def train_on(device: str, data, args) -> dict:
    (x, y), (xt, yt) = data
    gpunet.utils.set_random_seed(args.seed)
    with gpunet.backend.device(device) as b:
        model = mnist_mlp.build_model(x.shape[1])
        initial = model.get_weights()
        model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(x[:512], y[:512], batch_size=args.batch_size, epochs=1, verbose=0,
                  shuffle=False)  # warm-up: kernel compilation on the GPU
        model.set_weights(initial)
        model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        b.synchronize()
        t0 = time.perf_counter()
        history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                            shuffle=False)
        b.synchronize()
        elapsed = time.perf_counter() - t0
        _, acc = model.evaluate(xt, yt, verbose=0)
        pred = np.asarray(model.predict(xt, verbose=0))
    return {"device": f"{b.device} ({b.name})", "initial": initial, "seconds": elapsed,
            "samples/s": len(x) * args.epochs / elapsed, "accuracy": acc, "pred": pred,
            "losses": np.asarray(history.history["loss"])}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--limit", type=int, default=20000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    (x, y), (xt, yt), name = mnist_mlp.load_data(args.limit)
    print(f"Dataset: {name}, {len(x)} training images, {args.epochs} epochs, "
          f"batch {args.batch_size}")
    runs = [train_on("cpu", ((x, y), (xt, yt)), args)]
    ok, why = gpunet.backend.cupy_status()
    if ok:
        runs.append(train_on("gpu", ((x, y), (xt, yt)), args))
    else:
        print(f"GPU side skipped: {why}")
    print(f"{'device':<16}{'seconds':>9}{'samples/s':>12}{'test acc':>10}")
    for r in runs:
        print(f"{r['device']:<16}{r['seconds']:>9.2f}{r['samples/s']:>12,.0f}"
              f"{r['accuracy']:>10.4f}")
    if len(runs) == 2:
        cpu, gpu = runs
        same_init = all(np.array_equal(a, b) for a, b in zip(cpu["initial"], gpu["initial"]))
        drift = float(np.max(np.abs(cpu["pred"] - gpu["pred"])))
        loss_gap = float(np.max(np.abs(cpu["losses"] - gpu["losses"])))
        agree = float(np.mean(cpu["pred"].argmax(1) == gpu["pred"].argmax(1)))
        print(f"identical initial weights: {same_init}; GPU speed-up "
              f"{gpu['samples/s'] / cpu['samples/s']:.1f}x; largest difference of the epoch "
              f"losses {loss_gap:.2e}; max |p_cpu - p_gpu| = {drift:.2e}; "
              f"predicted classes agree on {agree:.2%} of the test images")


if __name__ == "__main__":
    main()
