"""Run by ``mpiexec -n N python mpi_worker.py OUT OPTIMIZER``: one data-parallel fit whose
weights and history each rank writes to OUT/rank<r>.npz (read by test_data_parallel.py)."""

import json
import sys

import numpy as np

import gpunet
from gpunet import distribute as dist
from gpunet import layers, optimizers


def global_data(n=96):
    rng = np.random.default_rng(42)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype("int64") + (x[:, 3] > 1).astype("int64")
    return x, y


def make_optimizer(name):
    if name == "sgd":
        return optimizers.SGD(0.1, momentum=0.9)
    return optimizers.Adam(0.01, clipnorm=0.5)


def build(seed):
    gpunet.utils.set_random_seed(seed)
    return gpunet.Sequential([layers.Input((5,)), layers.Dense(16, activation="relu"),
                              layers.Dense(3, activation="softmax")])


def main(out, opt_name):
    comm = dist.init(device="cpu")
    x, y = dist.shard(*global_data())
    model = build(seed=100 + comm.rank)  # different on purpose: the broadcast must fix it
    model.compile(optimizer=dist.DistributedOptimizer(make_optimizer(opt_name)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                     callbacks=[dist.BroadcastGlobalVariablesCallback(0),
                                dist.MetricAverageCallback()])
    np.savez(f"{out}/rank{comm.rank}.npz", *model.get_weights())
    with open(f"{out}/rank{comm.rank}.json", "w") as f:
        json.dump({"history": hist.history, "size": comm.size, "local_rank": comm.local_rank,
                   "iterations": int(model.optimizer.iterations)}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
