"""Every CPU workload, gpunet beside PyTorch eager and Keras 3, interleaved: ``make bench``.

For each workload of ``bench/workloads.py`` the frameworks take turns (gpunet, PyTorch,
Keras, gpunet, ...), one timed epoch each, ``--repeats`` times, so the noise of a shared
machine hits every column alike. The table gives the best and the median epoch of each, and
gpunet's speed relative to each other framework from both. Keras 3 runs its own ``fit``
(JAX, jit-compiled, the backend set by ``KERAS_BACKEND``) in a child process, so that XLA's
threads do not slow the other two; its Python is ``--keras-python`` (or the environment
variable ``GPUNET_BENCH_KERAS_PYTHON``), else this one when it has Keras.

``--rss`` adds the peak resident memory of one CNN epoch per framework, each in a fresh
child process (the high-water mark over the epoch, reset after the data is made where Linux
allows it: before, the peak of making the float data hid the epoch's own; and the growth
over the epoch).

``--floor`` adds, per workload, the time of the matrix products alone of one gpunet step
(``bench/gemm_floor.py``): what no framework built on them can beat.

``--device gpu`` runs gpunet on CuPy and PyTorch on CUDA (Keras is left out there), and
``--markdown FILE`` appends the machine record and the table to ``FILE`` as a dated section
(``make gpu-check`` writes ``docs/BENCHMARKS.md`` this way).

Usage: python bench/run_all.py [--repeats 5] [--only cnn,lstm] [--keras-python PATH]
       [--samples N] [--no-torch] [--no-keras] [--rss] [--json FILE] [--device cpu|gpu]
       [--markdown FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine, table  # noqa: E402
from bench.workloads import WORKLOADS, make_data, run_gpunet, run_torch  # noqa: E402

HERE = os.path.abspath(__file__)


def keras_python(arg: str | None) -> str | None:
    """The interpreter that runs Keras 3, or None when there is none."""
    path = arg or os.environ.get("GPUNET_BENCH_KERAS_PYTHON")
    if path:
        return path if os.path.exists(path) else None
    return sys.executable if importlib.util.find_spec("keras") is not None else None


def run_keras(py: str, key: str, x, y, epochs: int = 1) -> float:
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        env = dict(os.environ)
        env.setdefault("KERAS_BACKEND", "jax")
        out = subprocess.run([py, HERE, "--keras-worker", key, d, str(epochs)], env=env,
                             capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def rss_child(framework: str, key: str) -> str:
    """Peak RSS of one epoch of ``key`` in a fresh process: ``"peak MiB (+growth)"``."""
    out = subprocess.run([sys.executable, HERE, "--rss-worker", framework, key],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def _rss_worker(framework: str, key: str) -> None:
    import resource

    w = WORKLOADS[key]
    x, y, _ = make_data(w)
    if framework == "torch":
        import torch  # noqa: F401  (imported before the baseline, as gpunet is below)
    else:
        import gpunet  # noqa: F401

    def current() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def high_water() -> float | None:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    base = current()
    # the peak of the epoch itself, not of making the data: Linux resets the high-water mark
    # of the resident size when "5" is written to clear_refs (kept as is elsewhere)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    (run_torch if framework == "torch" else run_gpunet)(key, x, y)
    peak = high_water() if reset else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{peak:,.0f} MiB (+{peak - base:,.0f})")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--keras-worker":
        from bench.workloads import keras_worker

        print(keras_worker(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--rss-worker":
        _rss_worker(sys.argv[2], sys.argv[3])
        return
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", default=None, help="comma-separated workload keys")
    p.add_argument("--keras-python", default=None)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-keras", action="store_true")
    p.add_argument("--rss", action="store_true")
    p.add_argument("--samples", type=int, default=None, help="override each workload's")
    p.add_argument("--json", default=None)
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--markdown", default=None, help="append a dated section to this file")
    p.add_argument("--floor", action="store_true",
                   help="add the BLAS floor of one step (bench/gemm_floor.py) per workload")
    args = p.parse_args()
    dev = args.device
    keys = args.only.split(",") if args.only else list(WORKLOADS)
    have_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    kpy = None if args.no_keras or dev == "gpu" else keras_python(args.keras_python)
    info = machine()
    info["device"] = dev if dev == "cpu" else gpu_name()
    info["keras python"] = kpy or "(none)"
    if kpy:
        env = dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "jax"))
        ver = subprocess.run([kpy, "-c", "import keras, jax; print(keras.__version__, "
                              "jax.__version__)"], env=env, capture_output=True, text=True)
        info["keras / jax"] = ver.stdout.strip() or ver.stderr.strip()[-200:]
    print(json.dumps(info, indent=1), flush=True)
    rows = []
    for key in keys:
        w = WORKLOADS[key]
        x, y, source = make_data(w, args.samples)
        runners = [("gpunet", lambda k, a, b: run_gpunet(k, a, b, device=dev))]
        if have_torch:
            runners.append(("PyTorch eager", lambda k, a, b: run_torch(k, a, b, device=dev)))
        if kpy:
            runners.append(("Keras 3 fit (JAX)", lambda k, a, b: run_keras(kpy, k, a, b)))
        times: dict[str, list[float]] = {fw: [] for fw, _ in runners}
        for _ in range(args.repeats):
            for fw, fn in runners:  # interleaved
                times[fw].append(fn(key, x, y))
        steps = -(-len(x) // w.batch)
        floor = None
        if args.floor and dev == "cpu":
            from bench.gemm_floor import floor_ms

            floor = floor_ms(key)[0]
        best = {fw: min(t) for fw, t in times.items()}
        med = {fw: statistics.median(t) for fw, t in times.items()}
        for fw in times:
            row = {"workload": w.title, "framework": fw,
                   "samples/s best": f"{len(x) / best[fw]:,.0f}",
                   "ms/step best (median)": f"{best[fw] / steps * 1e3:,.2f} "
                                            f"({med[fw] / steps * 1e3:,.2f})"}
            if fw == "gpunet" and floor is not None:
                row["BLAS floor ms/step"] = f"{floor:.2f}"
            if fw == "gpunet":
                for other in times:
                    if other != "gpunet":
                        row[f"gpunet vs {other.split()[0]}"] = (
                            f"{best[other] / best['gpunet']:.2f}x "
                            f"({med[other] / med['gpunet']:.2f}x)")
            rows.append(row)
        print(f"{key}: " + ", ".join(f"{fw} {best[fw] / steps * 1e3:.2f} ms/step"
                                      for fw in times) + f" [{source}]", flush=True)
    cols = ["workload", "framework", "samples/s best", "ms/step best (median)"]
    cols += [c for c in ("gpunet vs PyTorch", "gpunet vs Keras", "BLAS floor ms/step")
             if any(c in r for r in rows)]
    print(f"\nbest (median) of {args.repeats} interleaved epochs; ratios are throughput, "
          "gpunet over the other (> 1: gpunet faster)\n")
    print(table(rows, cols))
    if args.rss:
        rss_rows = [{"workload": WORKLOADS["cnn"].title, "framework": fw,
                     "peak RSS (growth in the epoch)": rss_child(tag, "cnn")}
                    for fw, tag in [("gpunet", "gpunet")] + (
                        [("PyTorch eager", "torch")] if have_torch else [])]
        print()
        print(table(rss_rows, ["workload", "framework", "peak RSS (growth in the epoch)"]))
        rows += rss_rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)
    if args.markdown:
        append_markdown(args.markdown, info, rows, cols, args.repeats)


def gpu_name() -> str:
    """The GPU's name and memory as ``nvidia-smi`` reports them (or what is known)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=30)
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "gpu"
    except (OSError, subprocess.SubprocessError):
        return "gpu (nvidia-smi not found)"


def append_markdown(path: str, info: dict, rows: list, cols: list, repeats: int) -> None:
    """Appends a dated section (machine record, then the table) to the Markdown file."""
    timed = [r for r in rows if "ms/step best (median)" in r]
    lines = [f"\n## `bench/run_all.py` on {info.get('device', 'cpu')} ({info['date']})\n",
             "| item | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += ["", f"Best (median) of {repeats} interleaved epochs; ratios are throughput, "
              "gpunet over the other.", "", table(timed, cols), ""]
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
