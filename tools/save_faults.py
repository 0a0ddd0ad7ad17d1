"""Saves under faults, repeated: a disk that fills during ``fit``, and ``kill -9`` during saves.

``disk-full``: each run mounts a fresh small tmpfs (needs root; else it uses
``RLIMIT_FSIZE`` with ``SIGXFSZ`` ignored, so a write past the limit fails with ``EFBIG``),
and in a child process trains with ``ModelCheckpoint("ck{epoch}<suffix>")`` until the disk is
full. A run is *clean* when ``fit`` raised an ``OSError`` naming the checkpoint, a *crash*
when the child died by a signal. Every checkpoint left is then loaded (a file that does not
load is *lost*), and temporary files left behind are counted.

``kill``: a child saves one model to one path in a loop and is killed with SIGKILL at a
random moment, ``--runs`` times; after each kill the file must load with the saved weights
(else *lost*); the kills that left a temporary file, and the temporary files still there
after the last (successful) save, are counted.

``sweep``: one save into a tmpfs with ``free`` bytes left, ``free`` stepping from 0 to the
file's size, so that the write fails at every stage (raw data, metadata, final flush).

``cost``: the time of one save and one load of an 81 MB ``.h5`` (best of ``--runs``).

Run: ``GPUNET_BACKEND=numpy python tools/save_faults.py disk-full --runs 10``
     ``GPUNET_BACKEND=numpy python tools/save_faults.py sweep --runs 40``
     ``GPUNET_BACKEND=numpy python tools/save_faults.py kill --runs 200``
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

_FIT = textwrap.dedent("""
    import os, resource, signal, sys
    import numpy as np
    import gpunet
    from gpunet import Sequential, layers
    from gpunet.callbacks import ModelCheckpoint
    folder, suffix, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((64,)), layers.Dense(256, activation="relu"),
                    layers.Dense(256, activation="relu"), layers.Dense(10)])
    m.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 64)).astype("float32")
    y = np.zeros((64, 10), "float32")
    grow = int(sys.argv[4])
    class Grow(gpunet.callbacks.Callback):  # something else fills the disk meanwhile
        def on_epoch_end(self, epoch, logs=None):
            if grow:
                with open(os.path.join(folder, "other.bin"), "ab") as fh:
                    fh.write(b"\\0" * grow)
    ck = ModelCheckpoint(os.path.join(folder, "ck{epoch}" + suffix),
                         save_weights_only=suffix.endswith(".weights.h5"))
    try:
        m.fit(x, y, epochs=40, batch_size=16, verbose=0, callbacks=[Grow(), ck])
        print("NO_ERROR")
    except OSError as e:
        print("OSERROR", "ck" in str(e), repr(str(e)[:200]))
""")

_LOAD = textwrap.dedent("""
    import sys
    import gpunet
    from gpunet import Sequential, layers
    bad = 0
    for p in sys.argv[1:]:
        try:
            if p.endswith(".weights.h5"):
                m = Sequential([layers.Input((64,)), layers.Dense(256, activation="relu"),
                                layers.Dense(256, activation="relu"), layers.Dense(10)])
                m.load_weights(p)
            else:
                gpunet.models.load_model(p)
        except Exception as e:
            bad += 1
            print("LOST", p, type(e).__name__, str(e)[:200])
    print("BAD", bad)
""")


def _mount(size: str) -> str | None:
    if os.geteuid() != 0:
        return None
    d = tempfile.mkdtemp(prefix="gpunet_full_")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", d],
                       capture_output=True)
    if r.returncode:
        os.rmdir(d)
        return None
    return d


def disk_full(runs: int, suffix: str) -> None:
    counts: collections.Counter = collections.Counter()
    for i in range(runs):
        folder = _mount("2m")
        limit = 0
        if folder is None:
            folder, limit = tempfile.mkdtemp(prefix="gpunet_full_"), 2 << 20
        try:
            grow = random.Random(i).randrange(20_000, 200_000)
            r = subprocess.run([sys.executable, "-c", _FIT, folder, suffix, str(limit),
                                str(grow)], capture_output=True, text=True, timeout=600)
            out = r.stdout.strip().splitlines()[-1:] or [""]
            if r.returncode < 0:
                counts["crash"] += 1
            elif out[0].startswith("OSERROR True"):
                counts["clean"] += 1
            else:
                counts["other"] += 1
                print("run", i, r.returncode, out, r.stderr[-500:])
            cks = sorted(os.path.join(folder, n) for n in os.listdir(folder)
                         if n.startswith("ck") and n.endswith(suffix))
            counts["checkpoints"] += len(cks)
            counts["temps_left"] += sum(n.endswith(".tmp") for n in os.listdir(folder))
            if cks:
                lr = subprocess.run([sys.executable, "-c", _LOAD, *cks], capture_output=True,
                                    text=True, timeout=600)
                counts["lost"] += int(lr.stdout.strip().splitlines()[-1].split()[1]) \
                    if lr.returncode == 0 else len(cks)
        finally:
            if limit == 0:
                subprocess.run(["umount", "-l", folder], capture_output=True)
            subprocess.run(["rm", "-rf", folder], capture_output=True)
    print(f"disk-full {suffix}: {runs} runs: {dict(sorted(counts.items()))}")


_SWEEP = textwrap.dedent("""
    import os, sys
    import numpy as np
    import gpunet
    from gpunet import Sequential, layers
    folder, suffix, free = sys.argv[1], sys.argv[2], int(sys.argv[3])
    path = os.path.join(folder, "ck" + suffix)
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((64,)), layers.Dense(256, activation="relu"),
                    layers.Dense(256, activation="relu"), layers.Dense(10)])
    m.compile(optimizer="adam", loss="mse")
    save = m.save_weights if suffix.endswith(".weights.h5") else m.save
    save(path)
    st = os.statvfs(folder)
    with open(os.path.join(folder, "filler.bin"), "wb") as fh:
        fh.write(b"\\0" * max(st.f_bavail * st.f_frsize - free, 0))
    m.train_on_batch(np.ones((4, 64), "float32"), np.ones((4, 10), "float32"))
    try:
        save(path)
        print("NO_ERROR")
    except OSError as e:
        print("OSERROR", "ck" in str(e))
""")


def sweep(runs: int, suffix: str) -> None:
    """One save into a disk with ``free`` bytes left, ``free`` swept over the file's size."""
    import numpy as np

    import gpunet
    from gpunet import Sequential, layers

    counts: collections.Counter = collections.Counter()
    folder = _mount("4m")
    if folder is None:
        raise SystemExit("sweep needs root to mount a tmpfs")
    try:
        probe = os.path.join(folder, "probe" + suffix)
        gpunet.utils.set_random_seed(0)
        ref = Sequential([layers.Input((64,)), layers.Dense(256, activation="relu"),
                          layers.Dense(256, activation="relu"), layers.Dense(10)])
        ref.compile(optimizer="adam", loss="mse")
        ref.train_on_batch(np.ones((4, 64), "float32"), np.ones((4, 10), "float32"))
        (ref.save_weights if suffix.endswith(".weights.h5") else ref.save)(probe)
        size = os.path.getsize(probe)
        os.unlink(probe)
        gpunet.utils.set_random_seed(0)
        ref = Sequential([layers.Input((64,)), layers.Dense(256, activation="relu"),
                          layers.Dense(256, activation="relu"), layers.Dense(10)])
        want = ref.get_weights()
        for i in range(runs):
            free = size * i // runs
            for n in os.listdir(folder):
                os.unlink(os.path.join(folder, n))
            r = subprocess.run([sys.executable, "-c", _SWEEP, folder, suffix, str(free)],
                               capture_output=True, text=True, timeout=600)
            out = (r.stdout.strip().splitlines() or [""])[-1]
            kind = ("crash" if r.returncode < 0 else "clean" if out == "OSERROR True"
                    else "saved" if out == "NO_ERROR" else "other")
            counts[kind] += 1
            if kind == "other":
                print("free", free, r.returncode, out, r.stderr[-300:])
            counts["temps_left"] += sum(n.endswith(".tmp") for n in os.listdir(folder))
            path = os.path.join(folder, "ck" + suffix)
            if kind != "saved":
                os.unlink(os.path.join(folder, "filler.bin"))
                try:
                    if suffix.endswith(".weights.h5"):
                        ref.load_weights(path)
                        got = ref.get_weights()
                    else:
                        got = gpunet.models.load_model(path, compile=False).get_weights()
                    ok = all(np.array_equal(a, b) for a, b in zip(got, want))
                except Exception:  # noqa: BLE001 - any failure to load is a lost file
                    ok = False
                counts["lost"] += not ok
    finally:
        subprocess.run(["umount", "-l", folder], capture_output=True)
        subprocess.run(["rm", "-rf", folder], capture_output=True)
    print(f"disk-full sweep {suffix}: {runs} saves into {size}-byte-short disks: "
          f"{dict(sorted(counts.items()))}")


_SAVER = textwrap.dedent("""
    import sys
    import gpunet
    from gpunet import Sequential, layers
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((500,)), layers.Dense(500), layers.Dense(500)])
    m.compile(optimizer="adam", loss="mse")
    m.save(sys.argv[1])
    print("ready", flush=True)
    while True:
        m.save(sys.argv[1])
""")

_CHECK = textwrap.dedent("""
    import os, sys
    import numpy as np
    import gpunet
    from gpunet import Sequential, layers
    path = sys.argv[1]
    folder, base = os.path.split(path)
    gpunet.utils.set_random_seed(0)
    m = Sequential([layers.Input((500,)), layers.Dense(500), layers.Dense(500)])
    m.compile(optimizer="adam", loss="mse")
    try:
        ok = all(np.array_equal(a, b) for a, b in
                 zip(gpunet.models.load_model(path).get_weights(), m.get_weights()))
    except Exception:
        ok = False
    before = sum(n.startswith("." + base) for n in os.listdir(folder))
    m.save(path)
    after = sum(n.startswith("." + base) for n in os.listdir(folder))
    print(int(ok), before, after)
""")


def kill(runs: int, suffix: str) -> None:
    counts: collections.Counter = collections.Counter()
    rng, left = random.Random(0), 0
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ckpt" + suffix)
        for _ in range(runs):
            p = subprocess.Popen([sys.executable, "-c", _SAVER, path], stdout=subprocess.PIPE)
            p.stdout.readline()
            time.sleep(rng.uniform(0.0, 0.5))
            p.send_signal(signal.SIGKILL)
            p.wait()
            r = subprocess.run([sys.executable, "-c", _CHECK, path], capture_output=True,
                               text=True, timeout=300)
            ok, before, after = (int(v) for v in r.stdout.split()[-3:])
            counts["kills"] += 1
            counts["lost"] += 1 - ok
            counts["kills_leaving_an_orphan"] += before > left
            left = after
        counts["orphans_at_the_end"] = left
    print(f"kill {suffix}: {dict(sorted(counts.items()))}")


def cost(runs: int, suffix: str) -> None:
    """Best-of-``runs`` save and load times of a 3 x Dense(1500) model with Adam state."""
    import numpy as np

    import gpunet
    from gpunet import Sequential, layers

    m = Sequential([layers.Input((1500,)), layers.Dense(1500), layers.Dense(1500),
                    layers.Dense(1500)])
    m.compile(optimizer="adam", loss="mse")
    m.train_on_batch(np.ones((2, 1500), "float32"), np.ones((2, 1500), "float32"))
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "m" + suffix)
        weights_only = suffix.endswith(".weights.h5")
        steps = [("save", lambda: (m.save_weights if weights_only else m.save)(p)),
                 ("load", lambda: m.load_weights(p) if weights_only
                  else gpunet.models.load_model(p))]
        for name, fn in steps:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            print(f"{name} {suffix} ({os.path.getsize(p) / 1e6:.0f} MB): "
                  f"{min(times) * 1000:.0f} ms (best of {runs})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["disk-full", "sweep", "kill", "cost"])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--suffix", default=".h5", choices=[".h5", ".weights.h5", ".keras"])
    args = ap.parse_args()
    modes = {"disk-full": disk_full, "sweep": sweep, "kill": kill, "cost": cost}
    modes[args.mode](args.runs, args.suffix)


if __name__ == "__main__":
    main()
