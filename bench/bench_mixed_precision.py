"""Training throughput of the bench workloads under ``float32`` and ``mixed_float16`` (and
optionally ``mixed_bfloat16``), interleaved in one run on one device.

Each policy builds the same seeded model (``bench.workloads.gpunet_model`` under the global
policy), trains one warm-up epoch slice, then times whole epochs; the runs of the policies
alternate, and the best of ``--repeats`` is reported with its speed-up over float32. Mixed
precision is meant for GPU tensor cores: on the CPU NumPy has no float16 BLAS, so
``mixed_float16`` is far slower there (about 100x on the MLP, the convnet and the LSTM), and
``mixed_bfloat16`` computes in float32 between bfloat16 roundings.

``--policies`` may also name ``float32+tf32``: float32 with TF32 tensor-core products
(``gpunet.config.enable_tensor_float_32_execution``), a GPU option.

Usage: python bench/bench_mixed_precision.py [--device cpu|gpu] [--workloads mlp,cnn,lstm]
       [--samples 6000] [--repeats 3] [--policies float32,mixed_float16,float32+tf32]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine, table  # noqa: E402
from bench.workloads import WORKLOADS, gpunet_model, make_data  # noqa: E402


def time_policy(key: str, policy: str, x, y, device: str) -> float:
    """Seconds of one timed epoch over ``x`` under ``policy`` (after a warm-up slice)."""
    import gpunet

    w = WORKLOADS[key]
    tf32 = policy == "float32+tf32"  # float32 with TF32 tensor-core products
    gpunet.mixed_precision.set_global_policy("float32" if tf32 else policy)
    if tf32:
        gpunet.config.enable_tensor_float_32_execution(True)
    try:
        model = gpunet_model(key, device)
        with gpunet.backend.device(device) as b:
            model.fit(x[:w.batch * 3], y[:w.batch * 3], batch_size=w.batch, epochs=1,
                      verbose=0)
            b.synchronize()
            t0 = time.perf_counter()
            model.fit(x, y, batch_size=w.batch, epochs=1, verbose=0)
            b.synchronize()
            return time.perf_counter() - t0
    finally:
        gpunet.mixed_precision.set_global_policy("float32")
        if tf32:
            gpunet.config.enable_tensor_float_32_execution(False)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--workloads", default="mlp,cnn,lstm")
    p.add_argument("--samples", type=int, default=6000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--policies", default="float32,mixed_float16")
    args = p.parse_args()
    policies = args.policies.split(",")
    rows = []
    for key in args.workloads.split(","):
        x, y, source = make_data(WORKLOADS[key], args.samples)
        best = {pol: float("inf") for pol in policies}
        for _ in range(args.repeats):  # the policies alternate
            for pol in policies:
                best[pol] = min(best[pol], time_policy(key, pol, x, y, args.device))
        for pol in policies:
            rows.append({"workload": WORKLOADS[key].title, "policy": pol,
                         "samples/s": f"{len(x) / best[pol]:,.0f}",
                         "vs float32": f"{best[policies[0]] / best[pol]:.2f}x",
                         "data": source})
    print(f"device {args.device}; {machine()}")
    print(table(rows, ["workload", "policy", "samples/s", "vs float32", "data"]))


if __name__ == "__main__":
    main()
