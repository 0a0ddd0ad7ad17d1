"""Training throughput of an IMDB-style LSTM, gpunet vs PyTorch eager.

Workload: Embedding(20000, 128) -> LSTM(128) -> Dense(1, sigmoid), binary cross-entropy,
Adam(1e-3), synthetic integer sequences of length 80, batch 32 (the Keras ``imdb_lstm``
example's shapes). Whole training epochs through each framework's usual loop.

Usage: python bench/bench_rnn.py [--device cpu|gpu] [--repeats 3] [--samples 1600] [--threads N]
PyTorch eager runs in the same process when it is installed (same device kind).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

if "--threads" in sys.argv:  # BLAS reads its thread count when NumPy is first imported
    _n = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _n
    os.environ["MKL_NUM_THREADS"] = _n

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine, table  # noqa: E402

VOCAB, EMB, UNITS, SEQ, BATCH = 20000, 128, 128, 80, 32


def data(n: int):
    """Token ids in 1..VOCAB-1; label: does the sequence hold more small ids than large."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, VOCAB, (n, SEQ)).astype("int64")
    y = ((x < VOCAB // 2).mean(axis=1) > 0.5).astype("float32")[:, None]
    return x, y


def gpunet_run(x, y, epochs, device):
    import gpunet
    from gpunet import Sequential, layers, optimizers

    gpunet.utils.set_random_seed(0)
    with gpunet.backend.device(device) as b:
        model = Sequential([layers.Input((SEQ,), dtype="int64"), layers.Embedding(VOCAB, EMB),
                            layers.LSTM(UNITS), layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=optimizers.Adam(1e-3), loss="binary_crossentropy",
                      metrics=["accuracy"])
        model.fit(x[:BATCH * 5], y[:BATCH * 5], batch_size=BATCH, epochs=1, verbose=0)
        b.synchronize()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
        b.synchronize()
        return time.perf_counter() - t0


def torch_run(x, y, epochs, device):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    dev = torch.device("cuda" if device.startswith("gpu") else "cpu")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(VOCAB, EMB)
            self.lstm = nn.LSTM(EMB, UNITS, batch_first=True)
            self.out = nn.Linear(UNITS, 1)

        def forward(self, ids):
            _, (h, _) = self.lstm(self.emb(ids))
            return self.out(h[-1])

    model = Net().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    lossf = nn.BCEWithLogitsLoss()
    xt = torch.from_numpy(x).to(dev)
    yt = torch.from_numpy(y).to(dev)
    n = len(xt)

    def epoch(limit=None):
        model.train()
        perm = torch.randperm(n, device=dev)
        total = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev)
        steps = math.ceil(n / BATCH) if limit is None else limit
        for i in range(steps):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = lossf(out, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                total += loss.detach() * len(idx)
                correct += ((out > 0).float() == yb).sum()
        return float(total) / n, float(correct) / n

    epoch(limit=5)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--samples", type=int, default=1600)
    p.add_argument("--threads", default=None,
                   help="BLAS / PyTorch threads for both frameworks (default: their own)")
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args()
    x, y = data(args.samples)
    info = machine()
    info.update({"device": args.device, "samples": args.samples})
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    runners = [("gpunet", gpunet_run)] + ([("PyTorch eager", torch_run)] if have_torch else [])
    steps = math.ceil(len(x) / BATCH) * args.epochs
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for fw, fn in runners:  # interleaved, so noise hits both alike
            t = fn(x, y, args.epochs, args.device)
            best[fw] = min(best.get(fw, float("inf")), t)
    name = f"Embedding({VOCAB},{EMB})-LSTM({UNITS})-Dense(1), T={SEQ}, batch {BATCH}"
    rows = []
    for fw, t in best.items():
        rows.append({"workload": name, "framework": fw,
                     "samples/s": f"{len(x) * args.epochs / t:,.0f}",
                     "ms/step": f"{t / steps * 1e3:,.2f}",
                     "vs PyTorch": (f"{best['PyTorch eager'] / t:.2f}x throughput"
                                    if "PyTorch eager" in best else "n/a")})
    print(json.dumps(info, indent=1))
    print(f"best of {args.repeats} runs of {args.epochs} epoch(s), {len(x):,} samples each\n")
    print(table(rows, ["workload", "framework", "samples/s", "ms/step", "vs PyTorch"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
