"""CPU time per training step of one gpunet workload, and where it goes (cProfile).

Counts ``time.process_time`` (all threads of the process), which a busy shared machine
disturbs far less than wall-clock time, and profiles with the same clock. Pair it with
``--threads 1`` to count the work itself, without BLAS threads spinning.

Usage: python bench/profile_step.py cnn|cnn_dense|lstm|gru|text_lstm|mlp|tiny
       [--steps 20] [--threads N] [--top 25] [--no-profile]
"""

from __future__ import annotations

import argparse
import os
import sys

if "--threads" in sys.argv:  # must reach OpenBLAS before NumPy is imported
    _n = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _n

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cProfile  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

from bench.workloads import WORKLOADS, gpunet_model, make_data  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-profile", action="store_true")
    args = p.parse_args()
    w = WORKLOADS[args.workload]
    x, y, _ = make_data(w, w.batch * args.steps)
    steps = -(-len(x) // w.batch)  # the data may hold fewer samples than asked for
    model = gpunet_model(args.workload)
    model.fit(x[:w.batch * 3], y[:w.batch * 3], batch_size=w.batch, epochs=1, verbose=0)
    cpu = []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=w.batch, epochs=1, verbose=0)
        cpu.append((time.process_time() - c0, time.perf_counter() - t0))
    best = min(cpu)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.workload}: CPU {best[0] / steps * 1e3:.3f} ms/step over {steps} steps (best "
          f"of {args.repeats}; all: {', '.join(f'{c / steps * 1e3:.3f}' for c, _ in cpu)}), "
          f"wall {best[1] / steps * 1e3:.3f} ms/step, peak RSS {rss:.0f} MiB")
    if args.no_profile:
        return
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    model.fit(x, y, batch_size=w.batch, epochs=1, verbose=0)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
