"""Data-parallel training through MPI equals one process training on the union of the batches.

Two processes are launched with ``mpiexec`` (mpi4py + an MPI; ``pip install mpi4py mpich``);
the test is skipped when either is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

HERE = pathlib.Path(__file__).parent
_spec = importlib.util.spec_from_file_location("mpi_worker", HERE / "mpi_worker.py")
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)


def _mpiexec():
    local = pathlib.Path(sys.executable).with_name("mpiexec")
    return str(local) if local.exists() else shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or _mpiexec() is None,
    reason="needs mpi4py and mpiexec (pip install mpi4py mpich)")


def _launch(tmp_path, n, opt):
    env = dict(os.environ, GPUNET_BACKEND="numpy", OMP_NUM_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",  # Open MPI
               OPENBLAS_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
                   [str(HERE.parents[1])] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    cmd = [_mpiexec(), "-n", str(n), sys.executable, str(HERE / "mpi_worker.py"),
           str(tmp_path), opt]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return [(list(np.load(tmp_path / f"rank{r}.npz").values()),
             json.loads((tmp_path / f"rank{r}.json").read_text())) for r in range(n)]


def _reference(opt, n_ranks, per_rank_batch=8, epochs=3):
    """One process, rank 0's initial weights, global batch i = every rank's batch i."""
    x, y = worker.global_data()
    per = len(x) // n_ranks
    shards = [(x[r * per:(r + 1) * per], y[r * per:(r + 1) * per]) for r in range(n_ranks)]
    xs, ys = [], []
    for i in range(0, per, per_rank_batch):
        for sx, sy in shards:
            xs.append(sx[i:i + per_rank_batch])
            ys.append(sy[i:i + per_rank_batch])
    model = worker.build(seed=100)
    model.compile(optimizer=worker.make_optimizer(opt), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(np.concatenate(xs), np.concatenate(ys), batch_size=per_rank_batch * n_ranks,
                     epochs=epochs, shuffle=False, verbose=0)
    return model, hist.history


@needs_mpi
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_two_ranks_match_one_process_on_the_union_of_batches(tmp_path, opt):
    results = _launch(tmp_path, 2, opt)
    (w0, info0), (w1, info1) = results
    assert info0["size"] == 2 and info1["size"] == 2
    for a, b in zip(w0, w1):  # every replica holds the very same weights
        np.testing.assert_array_equal(a, b)
    assert info0["history"] == info1["history"]  # MetricAverageCallback: global logs
    ref, ref_hist = _reference(opt, 2)
    for got, want in zip(w0, ref.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(info0["history"]["loss"], ref_hist["loss"], rtol=1e-5)
    np.testing.assert_allclose(info0["history"]["accuracy"], ref_hist["accuracy"], atol=1e-6)
    assert info0["iterations"] == ref.optimizer.iterations


def test_shard_splits_rows_evenly_and_names_bad_input():
    from gpunet import distribute as dist

    x, y = np.arange(10), np.arange(10) * 2
    with pytest.warns(UserWarning, match="dropping the last 1 of 10"):
        parts = [dist.shard(x, y, rank=r, size=3) for r in range(3)]
    assert [p[0].tolist() for p in parts] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert parts[1][1].tolist() == [6, 8, 10]
    uneven = [dist.shard(x, rank=r, size=3, drop_remainder=False).tolist() for r in range(3)]
    assert uneven == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    with pytest.raises(ValueError, match="same length"):
        dist.shard(x, y[:5], rank=0, size=2)
    with pytest.raises(ValueError, match="rank must be in"):
        dist.shard(x, rank=2, size=2)


def test_single_process_is_a_no_op(backend):
    from gpunet import Sequential, layers, optimizers
    from gpunet import distribute as dist

    comm = dist.SingleProcess()
    opt = dist.DistributedOptimizer(optimizers.SGD(0.1), comm=comm)
    assert opt._grad_reducer is None and comm.size == 1
    m = Sequential([layers.Input((2,)), layers.Dense(1)])
    m.compile(optimizer=opt, loss="mse")
    before = m.get_weights()
    dist.broadcast_model(m, comm=comm)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_transport_is_named():
    from gpunet import distribute as dist

    with pytest.raises(ValueError, match="transport"):
        dist.init(transport="gloo")
