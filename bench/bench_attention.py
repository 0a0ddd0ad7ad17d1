"""Forward+backward time of GroupQueryAttention against MultiHeadAttention of the same size.

Workload: self-attention over ``(batch, seq, dim)`` float32 inputs, 8 query heads of size
``dim / 8``; GroupQueryAttention with 8, 2 and 1 key/value heads (8 is multi-head attention,
the anchor MultiHeadAttention(8, dim / 8) computes the same thing), optionally with a causal
mask. Each figure is the fastest of ``--repeats`` forward+backward passes, the layers taking
turns so that a busy machine slows them alike.

Usage: python bench/bench_attention.py [--device cpu|gpu] [--batch 32] [--seq 64] [--dim 128]
    [--repeats 30] [--causal]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine, table  # noqa: E402


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--causal", action="store_true")
    args = p.parse_args(argv)

    from gpunet import backend as B
    from gpunet import layers
    from gpunet.autograd import Tensor

    b = B.backend_for("cupy" if args.device == "gpu" else "numpy")
    hd = args.dim // 8
    with B.device(b):
        x = Tensor(b.asarray(np.random.default_rng(0).random(
            (args.batch, args.seq, args.dim)).astype("float32")))
        cases = {f"MultiHeadAttention(8, {hd})": layers.MultiHeadAttention(8, hd)}
        for kv in (8, 2, 1):
            cases[f"GroupQueryAttention({hd}, 8, {kv})"] = layers.GroupQueryAttention(hd, 8, kv)
        grad = b.xp.ones(x.shape, "float32")
        times: dict[str, list[float]] = {k: [] for k in cases}
        for layer in cases.values():
            layer(x, x, use_causal_mask=args.causal)
        for _ in range(args.repeats):
            for name, layer in cases.items():
                b.synchronize()
                t0 = time.perf_counter()
                y = layer(x, x, use_causal_mask=args.causal)
                y.backward(grad)
                b.synchronize()
                times[name].append(time.perf_counter() - t0)
    rows = [{"layer": k, "fwd+bwd ms (min)": f"{1e3 * min(v):.1f}",
             "median ms": f"{1e3 * float(np.median(v)):.1f}"} for k, v in times.items()]
    print(json.dumps({**machine(), "shape": [args.batch, args.seq, args.dim],
                      "causal": args.causal, "device": args.device}, indent=1))
    print(table(rows, ["layer", "fwd+bwd ms (min)", "median ms"]))
    return rows


if __name__ == "__main__":
    main()
