"""Fault injection for ``BackupAndRestore``: kill loops and two processes on one folder.

Run from the repository root (NumPy backend):

    GPUNET_BACKEND=numpy python tools/backup_faults.py --kills 40 --pairs 15

1. Kill loop: a run backing up after every batch (a model of about ``--mb`` MB of weights,
   Adam, so each backup writes weights plus twice as much optimizer state) is SIGKILLed at a
   random moment, ``--kills`` times in a row, each restart resuming the previous backup. After
   each kill the folder is measured (bytes of the committed backup, bytes of anything else of
   the callback's: orphaned checkpoints, temporary files); each restart records what it finds
   after its ``on_train_begin``. A last run trains to its normal end.
2. Pairs: two processes start on the same folder at the same moment, ``--pairs`` times.

Prints one table; every figure is counted, none is estimated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, os, sys
import numpy as np
import gpunet
from gpunet.callbacks import BackupAndRestore, LambdaCallback
folder, units, epochs, report = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
gpunet.utils.set_random_seed(0)
m = gpunet.Sequential([gpunet.Input((units,)), gpunet.layers.Dense(units),
                       gpunet.layers.Dropout(0.2), gpunet.layers.Dense(1)])
m.compile(optimizer="adam", loss="mse")
x = np.random.default_rng(0).normal(size=(64, units)).astype("float32")
def begin(logs):
    meta = os.path.join(folder, "training_metadata.json")
    keep = []
    if os.path.exists(meta):
        with open(meta) as f:
            keep = [e["checkpoint"] for e in json.load(f).values() if isinstance(e, dict)]
    with open(report + ".part", "w") as f:
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        json.dump({"names": names, "keep": keep}, f)
    os.replace(report + ".part", report)
try:
    m.fit(x, x[:, :1], batch_size=16, epochs=epochs, shuffle=True, verbose=0,
          callbacks=[BackupAndRestore(folder, save_freq=1), LambdaCallback(on_train_begin=begin)])
except RuntimeError as e:
    print(e, file=sys.stderr)
    sys.exit(3 if "in use by another training run" in str(e) else 4)
"""


def child(folder, units, epochs, report):
    env = dict(os.environ, GPUNET_BACKEND="numpy",
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.Popen([sys.executable, "-c", CHILD, folder, str(units), str(epochs),
                             report], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def measure(folder):
    """(bytes of the committed backup, bytes of the callback's other files, names)."""
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    committed, other = 0, 0
    keep = set()
    meta = os.path.join(folder, "training_metadata.json")
    if os.path.exists(meta):
        with open(meta) as f:
            m = json.load(f)
        keep = {m[k]["checkpoint"] for k in ("latest", "previous") if m.get(k)}
    for n in names:
        size = os.path.getsize(os.path.join(folder, n))
        base = n.split(".")[0]
        if n == "training_metadata.json" or (base in keep and not n.startswith(".")):
            committed += size
        elif n != "backup.lock":
            other += size
    return committed, other, names


def kill_loop(work, units, kills, rng):
    folder = os.path.join(work, "kill")
    report = os.path.join(work, "begin.json")
    worst_after_kill, worst_at_begin, backup_size, unusable = 0, 0, 0, 0
    for _ in range(kills):
        if os.path.exists(report):
            os.unlink(report)
        p = child(folder, units, 1000, report)
        try:
            while not os.path.exists(report) and p.poll() is None:
                time.sleep(0.01)
            if p.poll() is not None:
                unusable += 1
                continue
            with open(report) as f:
                seen = json.load(f)
            worst_at_begin = max(worst_at_begin, sum(
                1 for n in seen["names"] if n not in ("backup.lock", "training_metadata.json")
                and (n.startswith(".") or n.split(".")[0] not in seen["keep"])))
            time.sleep(rng.uniform(0.2, 1.5))
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        committed, other, _ = measure(folder)
        backup_size = max(backup_size, committed)
        worst_after_kill = max(worst_after_kill, other)
    # the last run goes to its normal end (delete_checkpoint=True)
    if os.path.exists(report):
        os.unlink(report)
    with open(os.path.join(folder, "training_metadata.json")) as f:
        epoch = json.load(f)["epoch"]
    p = child(folder, units, epoch + 2, report)
    _, err = p.communicate()
    return {"kills": kills, "backup_bytes": backup_size, "worst_leftover_after_kill":
            worst_after_kill, "leftover_files_seen_after_restart": worst_at_begin,
            "restarts_failed": unusable, "final_rc": p.returncode,
            "left_after_normal_end": measure(folder)[2], "folder_exists": os.path.isdir(folder)}


def pairs(work, units, n):
    outcomes = {"one trained, one refused": 0, "other": 0, "crashes": 0}
    for i in range(n):
        folder = os.path.join(work, f"pair{i}")
        ps = [child(folder, units, 25, os.path.join(work, f"r{i}{k}.json")) for k in (0, 1)]
        rcs = sorted(p.wait() for p in ps)
        if any(rc < 0 or rc not in (0, 3) for rc in rcs):
            outcomes["crashes"] += 1
        elif rcs == [0, 3] or rcs == [0, 0]:  # [0, 0]: the second started after the first ended
            outcomes["one trained, one refused" if rcs == [0, 3] else "other"] += 1
        else:
            outcomes["other"] += 1
    return outcomes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=40)
    ap.add_argument("--pairs", type=int, default=15)
    ap.add_argument("--mb", type=float, default=4.0, help="approximate weights size in MB")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    units = max(8, int((args.mb * 2**20 / 4) ** 0.5))
    work = tempfile.mkdtemp(prefix="backup_faults_")
    try:
        k = kill_loop(work, units, args.kills, random.Random(args.seed))
        p = pairs(work, units, args.pairs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mb = 2**20
    print("| case | figure |\n|---|---|")
    print(f"| SIGKILL at random moments, each run resuming the last | {k['kills']} kills, "
          f"{k['restarts_failed']} restarts failed |")
    print(f"| committed backup (weights + Adam state + metadata) | "
          f"{k['backup_bytes'] / mb:.1f} MB |")
    print(f"| largest leftover of a killed run (orphan checkpoint, temp files) | "
          f"{k['worst_leftover_after_kill'] / mb:.1f} MB |")
    print(f"| leftovers still there after the next run's on_train_begin | "
          f"{k['leftover_files_seen_after_restart']} files |")
    print(f"| files of ours after the normal end (delete_checkpoint=True) | "
          f"{len(k['left_after_normal_end'])} (folder removed: {not k['folder_exists']}, "
          f"exit {k['final_rc']}) |")
    print(f"| two processes started together on one folder | {args.pairs} trials: "
          f"{p['one trained, one refused']} one trained and the other got the clear error, "
          f"{p['other']} ran one after the other, {p['crashes']} crashes |")


if __name__ == "__main__":
    main()
