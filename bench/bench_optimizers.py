"""Optimizer update time (µs per step) over the Keras MNIST MLP's parameters (784-512-512-10,
669,706 float32 values in one flat buffer), against a naive per-parameter NumPy update.

- gpunet: ``optimizer.step()`` on the flat buffer (NumPy ``out=`` passes; one CuPy kernel).
- naive: the same Keras formula per variable with ordinary NumPy expressions (temporaries
  allocated), the way a straightforward per-tensor implementation is written.

Usage: python bench/bench_optimizers.py [--device cpu|gpu|both] [--repeats 9] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine, table  # noqa: E402

SHAPES = [(784, 512), (512,), (512, 512), (512,), (512, 10), (10,)]
CASES = [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.9, "centered": True}), ("Adagrad", {}),
    ("Adadelta", {}), ("Adam", {}), ("Adam", {"amsgrad": True}), ("AdamW", {}), ("Adamax", {}),
    ("Nadam", {}), ("Ftrl", {}), ("Lion", {}),
]


# -- naive per-variable updates (Keras formulas, plain NumPy expressions) -----------------------
def naive(name, kw, lr=1e-3):
    b1, b2, eps = kw.get("beta_1", 0.9), kw.get("beta_2", 0.999), 1e-7

    def sgd(w, g, s, t):
        mu = kw.get("momentum", 0.0)
        if not mu:
            w -= lr * g
            return
        s["v"] = mu * s.get("v", 0) - lr * g
        w += mu * s["v"] - lr * g if kw.get("nesterov") else s["v"]

    def rmsprop(w, g, s, t):
        rho, mu = 0.9, kw.get("momentum", 0.0)
        s["a"] = rho * s.get("a", 0) + (1 - rho) * np.square(g)
        den = s["a"] + eps
        if kw.get("centered"):
            s["mg"] = rho * s.get("mg", 0) + (1 - rho) * g
            den = den - np.square(s["mg"])
        inc = lr * g / np.sqrt(den)
        if mu:
            s["m"] = mu * s.get("m", 0) + inc
            inc = s["m"]
        w -= inc

    def adagrad(w, g, s, t):
        s["acc"] = s.get("acc", 0.1) + np.square(g)
        w -= lr * g / np.sqrt(s["acc"] + eps)

    def adadelta(w, g, s, t):
        rho = 0.95
        s["eg"] = rho * s.get("eg", 0) + (1 - rho) * np.square(g)
        d = np.sqrt(s.get("ex", 0) + eps) / np.sqrt(s["eg"] + eps) * g
        s["ex"] = rho * s.get("ex", 0) + (1 - rho) * np.square(d)
        w -= lr * d

    def adam(w, g, s, t):
        if name == "AdamW":
            w -= lr * 0.004 * w
        s["m"] = s.get("m", 0) + (1 - b1) * (g - s.get("m", 0))
        s["v"] = s.get("v", 0) + (1 - b2) * (np.square(g) - s.get("v", 0))
        v = s["v"]
        if kw.get("amsgrad"):
            s["vh"] = v = np.maximum(s.get("vh", 0), v)
        w -= lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * s["m"] / (np.sqrt(v) + eps)

    def adamax(w, g, s, t):
        s["m"] = s.get("m", 0) + (1 - b1) * (g - s.get("m", 0))
        s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g))
        w -= lr * s["m"] / ((1 - b1 ** t) * (s["u"] + eps))

    def nadam(w, g, s, t):
        mu, mu1 = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        prod = math.prod(b1 * (1 - 0.5 * 0.96 ** i) for i in range(1, t + 1))
        s["m"] = s.get("m", 0) + (1 - b1) * (g - s.get("m", 0))
        s["v"] = s.get("v", 0) + (1 - b2) * (np.square(g) - s.get("v", 0))
        m_hat = mu1 * s["m"] / (1 - prod * mu1) + (1 - mu) * g / (1 - prod)
        w -= lr * m_hat / (np.sqrt(s["v"] / (1 - b2 ** t)) + eps)

    def ftrl(w, g, s, t):
        n = s.get("n", np.full_like(w, 0.1))
        n1 = n + np.square(g)
        s["z"] = s.get("z", 0) + g - (np.sqrt(n1) - np.sqrt(n)) / lr * w
        w[...] = (np.clip(s["z"], 0, 0) - s["z"]) / (np.sqrt(n1) / lr)
        s["n"] = n1

    def lion(w, g, s, t):
        m = s.get("m", 0)
        w -= lr * np.sign(0.9 * m + 0.1 * g)
        s["m"] = 0.99 * m + 0.01 * g

    return {"SGD": sgd, "RMSprop": rmsprop, "Adagrad": adagrad, "Adadelta": adadelta,
            "Adam": adam, "AdamW": adam, "Adamax": adamax, "Nadam": nadam, "Ftrl": ftrl,
            "Lion": lion}[name]


def _best_us(fn, sync, steps, repeats):
    """Fastest of ``repeats`` runs of ``steps`` calls, in µs per call (the machine is shared,
    so the minimum is the least disturbed figure); the median is returned too."""
    fn()
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / steps * 1e6)
    return min(times), statistics.median(times)


def time_gpunet(name, kw, device, steps, repeats):
    import gpunet
    from gpunet import optimizers
    from gpunet.autograd.variable import Variable

    b = gpunet.backend.backend_for(device)
    rng = np.random.default_rng(0)
    vs = [Variable(b.asarray(rng.normal(0, 0.05, s).astype(np.float32)), name=f"w{i}")
          for i, s in enumerate(SHAPES)]
    opt = getattr(optimizers, name)(**kw)
    opt.build(vs)
    assert len(opt._groups) == 1 and opt._groups[0].size == 669_706
    opt._groups[0].grad[...] = b.asarray(rng.normal(0, 1e-3, 669_706).astype(np.float32))
    return _best_us(opt.step, b.synchronize, steps, repeats)


def time_naive(name, kw, steps, repeats):
    rng = np.random.default_rng(0)
    ws = [rng.normal(0, 0.05, s).astype(np.float32) for s in SHAPES]
    gs = [rng.normal(0, 1e-3, s).astype(np.float32) for s in SHAPES]
    states = [{} for _ in ws]
    update = naive(name, kw)
    t = [0]

    def step():
        t[0] += 1
        for w, g, s in zip(ws, gs, states):
            update(w, g, s, t[0])

    return _best_us(step, lambda: None, steps, repeats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="both", choices=["cpu", "gpu", "both"])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    from gpunet.backend import has_gpu

    gpu = args.device in ("gpu", "both") and has_gpu()
    cpu = args.device in ("cpu", "both")
    info = machine()
    print("\n".join(f"- {k}: {v}" for k, v in info.items()))
    print("- parameters: 669,706 float32 (784-512-512-10 MLP), one flat buffer")
    rows = []
    for name, kw in CASES:
        label = name + ("(" + ", ".join(f"{k}={v}" for k, v in kw.items()) + ")" if kw else "")
        row = {"optimizer": label}
        if cpu:
            (flat, flat_med), (ref, ref_med) = (time_gpunet(name, kw, "cpu", args.steps,
                                                            args.repeats),
                                                time_naive(name, kw, args.steps, args.repeats))
            row.update({"gpunet NumPy µs": f"{flat:.0f} ({flat_med:.0f})",
                        "per-variable loop µs (this script's)": f"{ref:.0f} ({ref_med:.0f})",
                        "speed-up vs that loop": f"{ref / flat:.2f}x"})
        if gpu:
            best, med = time_gpunet(name, kw, "gpu", args.steps, args.repeats)
            row["gpunet CuPy µs"] = f"{best:.1f} ({med:.1f})"
        rows.append(row)
        print(f"  {label}: {row}", file=sys.stderr)
    loop_cols = ["gpunet NumPy µs", "per-variable loop µs (this script's)",
                 "speed-up vs that loop"]
    cols = ["optimizer"] + (loop_cols if cpu else []) + (["gpunet CuPy µs"] if gpu else [])
    print("\nµs per step: best of the repeats (median in brackets)\n")
    print(table(rows, cols))
    if args.device in ("gpu", "both") and not gpu:
        print("\n(CuPy column omitted: no usable GPU)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
