"""The matrix-product floor of one training step of each CPU workload: ``make bench``'s models.

For each workload of ``bench/workloads.py`` this times only the matrix products one gpunet
training step makes (the same shapes and memory layouts: im2col columns with the bias column,
the LSTM's hoisted input projection, its per-step recurrent products and its weight-gradient
products), through NumPy's BLAS with the threads it has. No framework built on these products
can take less time per step than this sum; a step time divided by it says how much of the step
is not BLAS. Best of ``--repeats``.

The CNNs' products are those gpunet makes (``gpunet.layers.fusion``): the first convolution
(one input channel) and its ReLU and 2x2 pool run as one Numba kernel, with no BLAS product,
and the second convolution's output is the 10x10 of its 11x11 that the 2x2 pool reads. The
column ``BLAS floor`` is therefore gpunet's own floor; a framework that forms the whole
convolutions (PyTorch, Keras) makes about 1.3x these products.

Usage: python bench/gemm_floor.py [--repeats 7] [--only cnn,lstm]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine  # noqa: E402
from bench.workloads import EMB, SEQ, WORKLOADS  # noqa: E402


def _conv(n: int, hw: int, c: int, f: int, read: int | None = None) -> list:
    """The products of a 3x3 'valid' convolution with bias: forward, kernel+bias gradient
    (one product), input gradient (none for the first layer, whose input needs none);
    ``read``: the rows and columns of the output a following pool reads (all by default)."""
    o = hw - 2 if read is None else read
    m, k = n * o * o, 9 * c
    prods = [((m, k + 1), (k + 1, f), "nn"), ((k + 1, m), (m, f), "tn")]
    if c > 1:
        prods.append(((m, f), (f, k), "nt"))
    return prods


def _dense(n: int, i: int, o: int, first: bool = False) -> list:
    prods = [((n, i), (i, o), "nn"), ((i, n), (n, o), "tn")]
    return prods if first else prods + [((n, o), (o, i), "nt")]


def _rnn(t: int, n: int, i: int, u: int, gates: int) -> list:
    g = gates * u
    prods = [((t * n, i), (i, g), "nn")]  # the hoisted input projection
    prods += [((n, u), (u, g), "nn")] * t  # h_{t-1} @ U, per step
    prods += [((n, g), (g, u), "nt")] * t  # dz_t @ U.T, per step
    prods += [((i, t * n), (t * n, g), "tn"), ((u, t * n), (t * n, g), "tn")]  # dW, dU
    return prods


def products(key: str) -> list:
    """``(a_shape, b_shape, form)`` of every product of one training step of ``key``."""
    w = WORKLOADS[key]
    n = w.batch
    if key == "mlp":
        return _dense(n, 784, 512, True) + _dense(n, 512, 512) + _dense(n, 512, 10)
    if key == "tiny":
        return _dense(n, 784, 10, True)
    if key in ("cnn", "cnn_dense"):
        prods = _conv(n, 13, 32, 64, read=10)  # the first conv: a Numba kernel, no product
        if key == "cnn":
            return prods + _dense(n, 1600, 10)
        return prods + _dense(n, 1600, 128) + _dense(n, 128, 10)
    if key in ("lstm", "gru"):
        return _rnn(28, n, 28, 128, 4 if key == "lstm" else 3) + _dense(n, 128, 10)
    if key == "text_lstm":
        return _rnn(SEQ, n, EMB, 128, 4) + _dense(n, 128, 1)
    raise KeyError(key)


def _operands(prods: list, rng) -> list:
    out = []
    for (ar, ac), (br, bc), form in prods:
        a = rng.standard_normal((ac, ar) if form == "tn" else (ar, ac), dtype=np.float32)
        b = rng.standard_normal((bc, br) if form == "nt" else (br, bc), dtype=np.float32)
        out.append((a.T if form == "tn" else a, b.T if form == "nt" else b))
    return out


def floor_ms(key: str, repeats: int = 7) -> tuple[float, float]:
    """``(ms, GFLOP)`` of the products of one step of ``key`` (best of ``repeats``)."""
    ops = _operands(products(key), np.random.default_rng(0))
    flop = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in ops)
    for a, b in ops:  # warm-up
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for a, b in ops:
            a @ b
        best = min(best, time.perf_counter() - t0)
    return best * 1e3, flop / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--only", default="")
    args = p.parse_args()
    keys = [k for k in WORKLOADS if not args.only or k in args.only.split(",")]
    info = machine()
    print("; ".join(f"{k}: {info[k]}" for k in ("cpu", "cores", "blas", "blas kernel",
                                                  "OPENBLAS_NUM_THREADS") if k in info))
    print("| workload | GFLOP per step | products per step | BLAS floor ms/step | GFLOP/s |")
    print("|---|---|---|---|---|")
    for k in keys:
        ms, gflop = floor_ms(k, args.repeats)
        print(f"| {WORKLOADS[k].title} | {gflop:.3f} | {len(products(k))} | {ms:.2f} | "
              f"{gflop / ms * 1e3:.0f} |")


if __name__ == "__main__":
    main()
