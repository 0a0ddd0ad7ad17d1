"""The MNIST MLP trained data-parallel over several processes (MPI on CPUs, NCCL on GPUs).

Usage:
    mpiexec -n 2 python examples/mnist_data_parallel.py [--epochs 3] [--batch-size 64]

Each process trains on its own shard of the 60,000 images with a per-process batch of
``--batch-size``; the gradients are averaged after every step, so the run is the single-process
run with a batch of ``size * batch_size``. The learning rate is scaled by the number of
processes (the usual linear rule). Rank 0 prints the progress and the test accuracy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mnist_mlp  # noqa: E402

import gpunet  # noqa: E402
from gpunet import distribute as dist  # noqa: E402
from gpunet import optimizers  # noqa: E402


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--device", default="auto", help="cpu, gpu or auto")
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)
    comm = dist.init(device=args.device)
    gpunet.utils.set_random_seed(comm.rank)  # rank 0's weights are broadcast at train begin
    (x, y), (xt, yt), name = mnist_mlp.load_data(args.limit)
    x, y = dist.shard(x, y)
    if comm.rank == 0:
        print(f"{comm}; dataset: {name}; {len(x)} images per process")
    model = mnist_mlp.build_model(x.shape[1])
    opt = dist.DistributedOptimizer(optimizers.Adam(1e-3 * comm.size))
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs,
              callbacks=[dist.BroadcastGlobalVariablesCallback(0), dist.MetricAverageCallback()],
              verbose=2 if comm.rank == 0 else 0)
    elapsed = time.perf_counter() - t0
    loss, acc = model.evaluate(xt, yt, verbose=0)
    if comm.rank == 0:
        print(f"{comm.size} processes, {elapsed:.1f} s; test loss {loss:.4f}; "
              f"test accuracy {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
