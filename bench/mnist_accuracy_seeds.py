"""Test accuracy of the example MNIST MLP over several seeds, gpunet and (if installed) PyTorch.

The recipe of ``examples/mnist_mlp.py``: 784-512-512-10, ReLU, dropout 0.2, softmax, Adam(1e-3),
batch 128, 5 epochs, the last 10% of the training set held out (``validation_split=0.1``).
PyTorch uses the same initialisation (Glorot uniform, zero biases) and Adam(eps=1e-7).

Usage: ``GPUNET_DATA_DIR=../shared/datasets python bench/mnist_accuracy_seeds.py
[--seeds 1 2 3] [--epochs 5] [--device cpu|gpu]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "examples"))

import mnist_mlp  # noqa: E402

from bench.common import machine, table  # noqa: E402


def torch_accuracy(x, y, xt, yt, seed: int, epochs: int, device: str) -> float:
    import torch

    torch.manual_seed(seed)
    dev = "cuda" if device == "gpu" else "cpu"
    nn = torch.nn
    m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 512),
                      nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10)).to(dev)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    opt = torch.optim.Adam(m.parameters(), 1e-3, eps=1e-7)
    n = int(len(x) * 0.9)
    xs = torch.tensor(x[:n], device=dev)
    ys = torch.tensor(y[:n].astype(np.int64), device=dev)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        m.train()
        perm = torch.tensor(rng.permutation(n), device=dev)
        for i in range(0, n, 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            nn.functional.cross_entropy(m(xs[idx]), ys[idx]).backward()
            opt.step()
    m.eval()
    with torch.no_grad():
        pred = m(torch.tensor(xt, device=dev)).argmax(1).cpu().numpy()
    return float((pred == yt).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    (x, y), (xt, yt), name = mnist_mlp.load_data()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    rows, got = [], {"gpunet": [], "PyTorch eager": []}
    for s in args.seeds:
        acc = mnist_mlp.main(["--seed", str(s), "--epochs", str(args.epochs), "--verbose", "0",
                              "--device", args.device])
        got["gpunet"].append(acc)
        row = {"seed": s, "gpunet": f"{acc:.4f}"}
        if have_torch:
            t = torch_accuracy(x, y, xt, yt, s, args.epochs, args.device)
            got["PyTorch eager"].append(t)
            row["PyTorch eager"] = f"{t:.4f}"
        rows.append(row)
    cols = ["seed", "gpunet"] + (["PyTorch eager"] if have_torch else [])
    mean = {"seed": "mean"}
    for c in cols[1:]:
        mean[c] = f"{statistics.mean(got[c]):.4f}"
    print(machine())
    print(f"dataset: {name}; {args.epochs} epochs")
    print(table(rows + [mean], cols))


if __name__ == "__main__":
    main()
