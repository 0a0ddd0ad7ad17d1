"""Byte-flip fuzzing of gpunet's ``.h5`` loader, with a watchdog.

Saves a small compiled model (one training step, so the file holds optimizer state), writes
``n`` copies with one random byte each XOR-ed with a random non-zero value, and loads them
all in a child process. A file that takes longer than ``--timeout`` seconds is a hang (the
child is killed and a fresh one goes on with the next file); a child killed by a signal is
a crash. Each load is classified as:

* ``same``: loaded, with the original weights, optimizer state and config;
* ``different``: loaded, but something differs from the original (a silent corruption);
* ``clear``: a ``ValueError``/``OSError`` whose message names the file;
* ``raw``: any other exception (a raw h5py/json/zip error or one that does not name the file);
* ``hang`` / ``crash``.

Run: ``GPUNET_BACKEND=numpy python tools/h5_flips.py --n 2000 --seed 0``
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def make_base(path: str) -> None:
    """Writes the reference model file."""
    from gpunet import Sequential, layers
    from gpunet.utils import set_random_seed

    set_random_seed(0)
    m = Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"),
                    layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    m.train_on_batch(rng.normal(size=(4, 6)).astype("float32"), np.array([0, 1, 2, 1]))
    m.save(path)


def make_flips(base: str, folder: str, n: int, seed: int) -> list[str]:
    """``n`` copies of ``base`` with one byte flipped each; returns their paths."""
    data = open(base, "rb").read()
    rng = random.Random(seed)
    out = []
    for i in range(n):
        b = bytearray(data)
        pos = rng.randrange(len(b))
        b[pos] ^= rng.randrange(1, 256)
        p = os.path.join(folder, f"flip{i:05d}.h5")
        with open(p, "wb") as fh:
            fh.write(b)
        out.append(p)
    return out


def _state(model) -> tuple:
    opt = model.optimizer
    slots = [np.asarray(a) for _, a in opt.get_slot_arrays()] if opt is not None else []
    return ([np.asarray(w) for w in model.get_weights()], slots,
            int(opt.iterations) if opt is not None else -1, model.to_json())


def _equal(a: tuple, b: tuple) -> bool:
    if len(a[0]) != len(b[0]) or len(a[1]) != len(b[1]) or a[2:] != b[2:]:
        return False
    return all(x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
               for x, y in zip(a[0] + a[1], b[0] + b[1]))


def worker(base: str) -> None:
    """Reads file paths from stdin, prints one JSON line per file."""
    import warnings

    import gpunet

    warnings.simplefilter("ignore")
    ref = gpunet.models.load_model(base)
    ref._pack()
    ref_state = _state(ref)
    for line in sys.stdin:
        path = line.strip()
        print(json.dumps({"start": path}), flush=True)
        try:
            m = gpunet.models.load_model(path)
            if m.optimizer is not None:
                m._pack()
            out = "same" if _equal(_state(m), ref_state) else "different"
            rec = {"file": path, "outcome": out}
        except Exception as e:  # noqa: BLE001 - classifying every failure is the point
            clear = isinstance(e, (ValueError, OSError)) and os.path.basename(path) in str(e)
            rec = {"file": path, "outcome": "clear" if clear else "raw",
                   "type": type(e).__name__, "msg": str(e)[:300]}
        print(json.dumps(rec), flush=True)


def run(files: list[str], base: str, timeout: float = 10.0) -> list[dict]:
    """Loads ``files`` in child processes under a watchdog; returns one record per file."""
    env = {**os.environ, "GPUNET_BACKEND": os.environ.get("GPUNET_BACKEND", "numpy")}
    todo, results = list(files), []
    while todo:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", base],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=env, stderr=subprocess.DEVNULL)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(proc, lines), daemon=True).start()
        threading.Thread(target=lambda p=proc, fs=list(todo): _feed(p, fs), daemon=True).start()
        current, first = None, True
        while todo:
            try:
                line = lines.get(timeout=timeout + (30 if first else 0))
            except queue.Empty:
                proc.kill()
                proc.wait()
                results.append({"file": todo.pop(0), "outcome": "hang"})
                break
            if line is None:
                proc.wait()
                if current is not None:
                    results.append({"file": todo.pop(0), "outcome": "crash",
                                    "returncode": proc.returncode})
                else:  # the child died before its first file (import error)
                    raise RuntimeError(f"worker exited with {proc.returncode}")
                break
            rec = json.loads(line)
            if "start" in rec:
                current, first = rec["start"], False
                continue
            results.append(rec)
            todo.pop(0)
            current = None
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return results


def _pump(proc, lines: queue.Queue) -> None:
    for x in proc.stdout:
        lines.put(x)
    lines.put(None)


def _feed(proc, files: list[str]) -> None:
    try:
        for f in files:
            proc.stdin.write(f + "\n")
            proc.stdin.flush()
        proc.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--worker", metavar="BASE")
    ap.add_argument("--show", type=int, default=5, help="examples to print per outcome")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    with tempfile.TemporaryDirectory() as d:
        base = os.path.join(d, "base.h5")
        make_base(base)
        files = make_flips(base, d, args.n, args.seed)
        t0 = time.time()
        res = run(files, base, args.timeout)
        counts = collections.Counter(r["outcome"] for r in res)
        print(f"{len(res)} flipped files ({os.path.getsize(base)} bytes each, seed "
              f"{args.seed}) in {time.time() - t0:.1f} s: {dict(sorted(counts.items()))}")
        for kind in ("hang", "crash", "raw", "different"):
            for r in [r for r in res if r["outcome"] == kind][:args.show]:
                print(kind, json.dumps(r))


if __name__ == "__main__":
    main()
