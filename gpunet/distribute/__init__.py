"""Data-parallel training over processes: MPI (mpi4py) on CPUs, NCCL (CuPy) on GPUs.

One process per device, launched by ``mpiexec`` (or ``srun``). Every process builds the same
model, trains on its own shard of the data, and the gradients are averaged over all processes
before each update: one collective per flat gradient buffer, so the update is the one a single
process would make on the union of the batches.

Example (``mpiexec -n 4 python train.py``):

>>> from gpunet import distribute as dist
>>> comm = dist.init()                       # MPI world; on GPUs: one device per rank + NCCL
>>> x_local, y_local = dist.shard(x, y)      # this rank's equal-sized part
>>> model.compile(optimizer=dist.DistributedOptimizer(Adam(1e-3 * comm.size)), loss=...)
>>> model.fit(x_local, y_local, batch_size=64,          # per-rank batch
...           callbacks=[dist.BroadcastGlobalVariablesCallback(0),
...                      dist.MetricAverageCallback()],
...           verbose=1 if comm.rank == 0 else 0)

The API follows Horovod's Keras API, which Keras users already know.
"""

from __future__ import annotations

from typing import Any

from gpunet.distribute.callbacks import BroadcastGlobalVariablesCallback, MetricAverageCallback
from gpunet.distribute.comm import (
    Communicator,
    MPICommunicator,
    NCCLCommunicator,
    SingleProcess,
    env_local_rank,
)
from gpunet.distribute.data import shard
from gpunet.distribute.optimizer import DistributedOptimizer, broadcast_model

_COMM: Communicator | None = None


def init(transport: str = "auto", device: str = "auto", comm: Any = None) -> Communicator:
    """Joins the process group and picks this process's device.

    Args:
        transport: ``"auto"`` (NCCL when the backend is CuPy and NCCL is available, else
            MPI; a single process when mpi4py is missing and the world has one process),
            ``"mpi"``, ``"nccl"`` or ``"none"``.
        device: ``"auto"`` (GPU ``local_rank % device_count`` when a GPU is usable, else the
            CPU), ``"cpu"`` or ``"gpu"``. The chosen backend becomes the default.
        comm: an ``mpi4py`` communicator to use instead of ``MPI.COMM_WORLD``.

    Returns:
        The communicator (also returned later by :func:`communicator`).
    """
    global _COMM
    from gpunet import backend as B

    if transport not in ("auto", "mpi", "nccl", "none"):
        raise ValueError(f"`transport` must be 'auto', 'mpi', 'nccl' or 'none'. Received: "
                         f"transport={transport!r}")
    if transport == "none":
        _COMM = SingleProcess()
        return _COMM
    try:
        import mpi4py  # noqa: F401
    except ImportError as e:
        if transport != "auto" or _launched_with_many():
            raise ImportError("gpunet.distribute needs mpi4py (pip install 'gpunet[mpi]', or "
                              "mpi4py built against your MPI).") from e
        _COMM = SingleProcess()
        return _COMM
    mpi = MPICommunicator(comm)
    use_gpu = device == "gpu" or (device == "auto" and B.has_gpu())
    if use_gpu:
        import cupy

        dev = mpi.local_rank % cupy.cuda.runtime.getDeviceCount()
        B.set_backend(f"gpu:{dev}")
    elif device in ("cpu", "auto"):
        B.set_backend("cpu")
    else:
        raise ValueError(f"`device` must be 'auto', 'cpu' or 'gpu'. Received: device={device!r}")
    if transport == "nccl" and not use_gpu:
        raise ValueError("transport='nccl' needs a GPU backend (device='gpu' or a usable GPU "
                         f"with device='auto'); received device={device!r} with no GPU in use.")
    if transport == "nccl" or (transport == "auto" and use_gpu and _nccl_available()):
        _COMM = NCCLCommunicator(mpi.comm, device_id=dev)
    else:
        _COMM = mpi
    return _COMM


def _nccl_available() -> bool:
    try:
        from cupy.cuda import nccl
    except ImportError:
        return False
    return bool(nccl.available)


def _launched_with_many() -> bool:
    import os

    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS"):
        if int(os.environ.get(var, "1")) > 1:
            return True
    return False


def communicator() -> Communicator:
    """The communicator of :func:`init` (a single-process one when ``init`` was not called)."""
    return _COMM if _COMM is not None else SingleProcess()


def rank() -> int:
    return communicator().rank


def size() -> int:
    return communicator().size


def local_rank() -> int:
    return communicator().local_rank


__all__ = ["BroadcastGlobalVariablesCallback", "Communicator", "DistributedOptimizer",
           "MPICommunicator", "MetricAverageCallback", "NCCLCommunicator", "SingleProcess",
           "broadcast_model", "communicator", "env_local_rank", "init", "local_rank", "rank",
           "shard", "size"]
