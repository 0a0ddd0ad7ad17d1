"""Cost of feeding ``fit`` from a ``Sequence`` instead of in-memory arrays (MNIST MLP).

Workload: 784-512-512-10 MLP (ReLU, dropout 0.2, softmax), sparse CE, Adam(1e-3), batch 128,
one epoch over the 60,000 MNIST training images per run, fed by:

- (a) arrays: ``fit(x, y, shuffle=True)``: copied to the device once, batches gathered there.
- (b) Sequence, same batches: a ``Sequence`` that gathers ``x[perm[i*128:(i+1)*128]]`` on the
  host (``perm`` redrawn in ``on_epoch_end``), i.e. the same shuffled batches as (a), prepared
  on the background thread and copied to the device once per batch.
- (b') Sequence, slices: contiguous slices ``x[i*128:(i+1)*128]``, batch order shuffled by
  ``fit(shuffle=True)``.
- (c) Sequence + augmentation: ``ImageDataGenerator(width_shift_range=2,
  height_shift_range=2).flow(...)`` (a random shift of up to 2 pixels per image, bilinear
  warp), flattened to 784, ``workers=2``. Where the ImageDataGenerator is missing, a NumPy
  roll of the batch by up to 2 pixels.
- (c') Sequence + ``np.roll`` by up to 2 pixels per batch (the cheapest augmentation).

Usage: ``GPUNET_DATA_DIR=../shared/datasets python bench/bench_input_pipeline.py
[--device cpu|gpu] [--repeats 3]``. Runs are interleaved so that machine noise hits every
feeder alike; the table gives the best and the median seconds per epoch and the slowdown of
the best time against (a).
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

from bench.common import machine, mnist_flat, table  # noqa: E402
from gpunet.utils.sequence import Sequence  # noqa: E402

BATCH = 128


class SameBatches(Sequence):
    """Sample-shuffled batches gathered on the host, like the array path's batches."""

    def __init__(self, x, y, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.perm = np.random.permutation(len(x))

    def __len__(self):
        return math.ceil(len(self.x) / BATCH)

    def __getitem__(self, i):
        idx = self.perm[i * BATCH:(i + 1) * BATCH]
        return self.x[idx], self.y[idx]

    def on_epoch_end(self):
        self.perm = np.random.permutation(len(self.x))


class Slices(Sequence):
    """Contiguous slices (views: no copy on the host)."""

    def __init__(self, x, y, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y

    def __len__(self):
        return math.ceil(len(self.x) / BATCH)

    def __getitem__(self, i):
        return self.x[i * BATCH:(i + 1) * BATCH], self.y[i * BATCH:(i + 1) * BATCH]


class Rolled(Slices):
    """Slices shifted by a random (dy, dx) in [-2, 2] pixels, the whole batch at once."""

    def __getitem__(self, i):
        xb, yb = super().__getitem__(i)
        dy, dx = np.random.randint(-2, 3, size=2)
        img = np.roll(xb.reshape(-1, 28, 28), (int(dy), int(dx)), axis=(1, 2))
        return img.reshape(len(xb), 784), yb


class Flow(Sequence):
    """``ImageDataGenerator.flow()`` batches flattened for the MLP."""

    def __init__(self, x, y, **kwargs):
        super().__init__(**kwargs)
        from gpunet.preprocessing.image import ImageDataGenerator

        gen = ImageDataGenerator(width_shift_range=2, height_shift_range=2)
        self.it = gen.flow(x.reshape(-1, 28, 28, 1), y, batch_size=BATCH, shuffle=True)

    def __len__(self):
        return len(self.it)

    def __getitem__(self, i):
        xb, yb = self.it[i]
        return xb.reshape(len(xb), 784), yb

    def on_epoch_end(self):
        self.it.on_epoch_end()


def _has_image_generator() -> bool:
    try:
        from gpunet.preprocessing.image import ImageDataGenerator  # noqa: F401
    except ImportError:
        return False
    return True


def feeders(x, y):
    """name → (fit arguments for one epoch)."""
    aug = (("(c) Sequence + ImageDataGenerator shifts, workers=2",
            lambda: dict(x=Flow(x, y, workers=2), shuffle=False)) if _has_image_generator()
           else ("(c) Sequence + np.roll (no ImageDataGenerator), workers=2",
                 lambda: dict(x=Rolled(x, y, workers=2), shuffle=True)))
    return [
        ("(a) arrays", lambda: dict(x=x, y=y, batch_size=BATCH, shuffle=True)),
        ("(b) Sequence, same batches", lambda: dict(x=SameBatches(x, y), shuffle=False)),
        ("(b') Sequence, slices", lambda: dict(x=Slices(x, y), shuffle=True)),
        aug,
        ("(c') Sequence + np.roll", lambda: dict(x=Rolled(x, y), shuffle=True)),
    ]


def run(x, y, fit_kwargs, device) -> float:
    import gpunet
    from gpunet import Sequential, layers, optimizers

    gpunet.utils.set_random_seed(0)
    with gpunet.backend.device(device) as b:
        model = Sequential([layers.Input((784,)), layers.Dense(512, activation="relu"),
                            layers.Dropout(0.2), layers.Dense(512, activation="relu"),
                            layers.Dropout(0.2), layers.Dense(10, activation="softmax")])
        model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(x[:BATCH * 20], y[:BATCH * 20], batch_size=BATCH, epochs=1, verbose=0)
        b.synchronize()
        t0 = time.perf_counter()
        model.fit(epochs=1, verbose=0, **fit_kwargs)
        b.synchronize()
        return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args()
    x, y, source = mnist_flat()
    info = machine()
    info.update({"data": source, "device": args.device})
    rows = feeders(x, y)
    times: dict[str, list[float]] = {name: [] for name, _ in rows}
    for r in range(args.repeats):
        for name, make in rows:  # interleaved
            t = run(x, y, make(), args.device)
            times[name].append(t)
            print(f"repeat {r + 1}: {name}: {t:.2f} s", file=sys.stderr, flush=True)
    base = min(times[rows[0][0]])
    out = []
    for name, _ in rows:
        best = min(times[name])
        out.append({"feeder": name, "best s/epoch": f"{best:.2f}",
                    "median s/epoch": f"{statistics.median(times[name]):.2f}",
                    "vs arrays": "—" if name == rows[0][0] else f"{best / base - 1:+.1%}"})
    print(json.dumps(info, indent=1))
    print(f"{args.repeats} interleaved runs of 1 epoch (60,000 samples, "
          f"{math.ceil(len(x) / BATCH)} steps) per feeder\n")
    print(table(out, ["feeder", "best s/epoch", "median s/epoch", "vs arrays"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": out, "times": times}, f, indent=1)


if __name__ == "__main__":
    main()
