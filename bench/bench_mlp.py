"""Training throughput of the Keras MNIST MLP and step time of a tiny model, gpunet vs PyTorch.

Workloads (whole training epochs through each framework's usual loop, shuffling included):
- MLP: 784-512-512-10, ReLU, dropout 0.2, softmax, sparse CE, Adam(1e-3), batch 128.
- tiny: Dense(10) on 784 inputs, softmax, sparse CE, Adam(1e-3), batch 32.

Usage: python bench/bench_mlp.py [--device cpu|gpu] [--repeats 3] [--epochs 1]
PyTorch eager runs in the same process when it is installed (same device kind).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine, mnist_flat, table  # noqa: E402


def gpunet_run(x, y, hidden, batch, epochs, device):
    import gpunet
    from gpunet import Sequential, layers, optimizers

    gpunet.utils.set_random_seed(0)
    with gpunet.backend.device(device) as b:
        stack = [layers.Input((784,))]
        for h in hidden:
            stack += [layers.Dense(h, activation="relu"), layers.Dropout(0.2)]
        stack.append(layers.Dense(10, activation="softmax"))
        model = Sequential(stack)
        model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(x[:batch * 20], y[:batch * 20], batch_size=batch, epochs=1, verbose=0)
        b.synchronize()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)
        b.synchronize()
        return time.perf_counter() - t0


def torch_run(x, y, hidden, batch, epochs, device):
    import torch
    from torch import nn

    torch.manual_seed(0)
    dev = torch.device("cuda" if device.startswith("gpu") else "cpu")
    mods, d = [], 784
    for h in hidden:
        mods += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(0.2)]
        d = h
    mods.append(nn.Linear(d, 10))
    model = nn.Sequential(*mods).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    lossf = nn.CrossEntropyLoss()
    xt = torch.from_numpy(x).to(dev)
    yt = torch.from_numpy(y).to(dev)
    n = len(xt)

    def epoch(limit=None):
        model.train()
        perm = torch.randperm(n, device=dev)
        total = torch.zeros((), device=dev)
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
                total += loss.detach() * len(idx)
                correct += (out.argmax(1) == yb).sum()
        return float(total) / n, float(correct) / n

    epoch(limit=20)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def keras_run(x, y, hidden, batch, epochs, device):
    """Keras 3's own ``fit`` (KERAS_BACKEND, default JAX) on the same model and data, in a
    child process: XLA's CPU threads would otherwise slow NumPy and PyTorch in this one."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        out = subprocess.run([sys.executable, __file__, "--keras-worker", d,
                              ",".join(map(str, hidden)), str(batch), str(epochs)],
                             capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _keras_worker(d: str, hidden: str, batch: str, epochs: str) -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    x, y = np.load(os.path.join(d, "x.npy")), np.load(os.path.join(d, "y.npy"))
    batch, epochs = int(batch), int(epochs)
    keras.utils.set_random_seed(0)
    layers = [keras.Input((784,))]
    for h in (int(v) for v in hidden.split(",") if v):
        layers += [keras.layers.Dense(h, activation="relu"), keras.layers.Dropout(0.2)]
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:batch * 20], y[:batch * 20], batch_size=batch, epochs=1, verbose=0)  # compile
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)
    print(time.perf_counter() - t0)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--keras-worker":
        _keras_worker(*sys.argv[2:6])
        return
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args()
    x, y, source = mnist_flat()
    info = machine()
    info.update({"data": source, "device": args.device})
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    try:
        import importlib.util

        have_keras = importlib.util.find_spec("keras") is not None and args.device == "cpu"
    except ImportError:
        have_keras = False
    workloads = [("MLP 784-512-512-10, batch 128", (512, 512), 128),
                 ("tiny Dense(10), batch 32", (), 32)]
    rows = []
    for name, hidden, batch in workloads:
        steps = math.ceil(len(x) / batch) * args.epochs
        runners = [("gpunet", gpunet_run)] + ([("PyTorch eager", torch_run)] if have_torch else [])
        if have_keras:
            runners.append(("Keras 3 fit", keras_run))
        best = {}
        for _ in range(args.repeats):
            for fw, fn in runners:  # interleaved, so noise hits both alike
                t = fn(x, y, hidden, batch, args.epochs, args.device)
                best[fw] = min(best.get(fw, float("inf")), t)
        for fw, t in best.items():
            rows.append({"workload": name, "framework": fw,
                         "samples/s": f"{len(x) * args.epochs / t:,.0f}",
                         "µs/step": f"{t / steps * 1e6:,.0f}",
                         "vs PyTorch": (f"{best['PyTorch eager'] / t:.2f}x throughput"
                                        if "PyTorch eager" in best else "n/a")})
    print(json.dumps(info, indent=1))
    print(f"best of {args.repeats} runs of {args.epochs} epoch(s), 60,000 samples each\n")
    print(table(rows, ["workload", "framework", "samples/s", "µs/step", "vs PyTorch"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
