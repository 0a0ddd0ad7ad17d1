"""Training throughput of the Keras-tutorial MNIST CNN, gpunet vs PyTorch eager, in one run.

Workload (https://keras.io/examples/vision/mnist_convnet/): Conv2D(32, 3, relu) →
MaxPooling2D(2) → Conv2D(64, 3, relu) → MaxPooling2D(2) → Flatten → Dropout(0.5) →
Dense(10, softmax); sparse categorical cross-entropy, Adam(1e-3), batch 128, shuffled epochs
through each framework's usual loop. PyTorch gets the same architecture (NCHW, its native
layout) with Adam eps=1e-7.

Usage: python bench/bench_cnn.py [--device cpu|gpu] [--repeats 3] [--epochs 1] [--limit 6000]
       [--threads N] [--profile]   (--profile: cProfile of one gpunet epoch, no table)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if "--threads" in sys.argv:  # must reach OpenBLAS before NumPy is imported
    _n = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _n

from bench.common import machine, mnist_flat, table  # noqa: E402


def gpunet_model(device):
    import gpunet
    from gpunet import Sequential, layers, optimizers

    gpunet.utils.set_random_seed(0)
    with gpunet.backend.device(device):
        model = Sequential([
            layers.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
            layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
        model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    return model


def gpunet_run(x, y, batch, epochs, device):
    import gpunet

    model = gpunet_model(device)
    with gpunet.backend.device(device) as b:
        model.fit(x[:batch * 5], y[:batch * 5], batch_size=batch, epochs=1, verbose=0)
        b.synchronize()
        t0 = time.perf_counter()
        hist = model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)
        b.synchronize()
        return time.perf_counter() - t0, hist.history["accuracy"][-1]


def torch_run(x, y, batch, epochs, device):
    import torch
    from torch import nn

    torch.manual_seed(0)
    dev = torch.device("cuda" if device.startswith("gpu") else "cpu")
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    lossf = nn.CrossEntropyLoss()
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(dev)
    yt = torch.from_numpy(y).to(dev)
    n = len(xt)

    def epoch(limit=None):
        model.train()
        perm = torch.randperm(n, device=dev)
        correct = torch.zeros((), device=dev)
        steps = math.ceil(n / batch) if limit is None else limit
        for i in range(steps):
            idx = perm[i * batch:(i + 1) * batch]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = lossf(out, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                correct += (out.argmax(1) == yb).sum()
        return float(correct) / n

    epoch(limit=5)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        acc = epoch()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, acc


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit", type=int, default=6000, help="train on the first N images")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS / PyTorch threads (default: the libraries' own choice)")
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args()
    x, y, source = mnist_flat(args.limit)
    x = x.reshape(-1, 28, 28, 1)
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("gpunet_run(x, y, args.batch, args.epochs, args.device)", globals(),
                        {"x": x, "y": y, "args": args, "gpunet_run": gpunet_run}, "/tmp/cnn.prof")
        pstats.Stats("/tmp/cnn.prof").sort_stats("tottime").print_stats(25)
        return
    info = machine()
    info.update({"data": source, "device": args.device, "samples": len(x),
                 "threads": args.threads or "default"})
    have_torch = False
    if not args.no_torch:
        try:
            import torch

            have_torch = True
            if args.threads:
                torch.set_num_threads(args.threads)
        except ImportError:
            pass
    runners = [("gpunet", gpunet_run)] + ([("PyTorch eager", torch_run)] if have_torch else [])
    best, acc = {}, {}
    for _ in range(args.repeats):
        for fw, fn in runners:  # interleaved, so noise hits both alike
            t, a = fn(x, y, args.batch, args.epochs, args.device)
            if t < best.get(fw, float("inf")):
                best[fw], acc[fw] = t, a
    steps = math.ceil(len(x) / args.batch) * args.epochs
    rows = []
    for fw, t in best.items():
        rows.append({"workload": f"MNIST CNN, batch {args.batch}", "framework": fw,
                     "samples/s": f"{len(x) * args.epochs / t:,.0f}",
                     "ms/step": f"{t / steps * 1e3:,.1f}",
                     "train acc (last epoch)": f"{acc[fw]:.3f}",
                     "vs PyTorch": (f"{best['PyTorch eager'] / t:.2f}x throughput"
                                    if "PyTorch eager" in best else "n/a")})
    print(json.dumps(info, indent=1))
    print(f"best of {args.repeats} runs of {args.epochs} epoch(s), {len(x):,} samples each\n")
    print(table(rows, ["workload", "framework", "samples/s", "ms/step", "train acc (last epoch)",
                       "vs PyTorch"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
