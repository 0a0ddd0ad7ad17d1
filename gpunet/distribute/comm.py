"""Communicators: MPI (mpi4py) for host buffers, NCCL (CuPy) for device buffers.

gpunet never moves bytes itself: every collective is one MPI or NCCL call on a whole flat
buffer. The NCCL communicator is bootstrapped by broadcasting its unique id over MPI, so one
``mpiexec`` launch serves both.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gpunet.backend import backend_of

_LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK",
                    "SLURM_LOCALID", "PMI_LOCAL_RANK", "LOCAL_RANK")


def _is_device_array(x: Any) -> bool:
    return not backend_of(x).is_host


class Communicator:
    """One process's view of the group: ``rank``, ``size``, ``local_rank`` and collectives
    that work in place on contiguous arrays (NumPy or CuPy)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    transport: str = "none"

    def allreduce_(self, buf: Any, average: bool = True) -> Any:
        """Sums (or averages) ``buf`` over every rank, in place; returns ``buf``."""
        return buf

    def broadcast_(self, buf: Any, root: int = 0) -> Any:
        """Overwrites ``buf`` with ``root``'s copy, in place; returns ``buf``."""
        return buf

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        """A small picklable object from ``root`` (counters, configs)."""
        return obj

    def allreduce_scalar(self, value: float, average: bool = True) -> float:
        """A Python float summed (or averaged) over every rank."""
        return float(value)

    def barrier(self) -> None:
        """Waits until every rank gets here."""

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} rank={self.rank}/{self.size} "
                f"local_rank={self.local_rank} transport={self.transport}>")


class SingleProcess(Communicator):
    """The group of one: every collective is the identity (no MPI needed)."""

    transport = "none"


class MPICommunicator(Communicator):
    """Collectives through ``mpi4py`` on ``MPI.COMM_WORLD`` (or a given communicator).

    Host (NumPy) buffers go straight to MPI. A CuPy buffer is staged through host memory
    unless the MPI library is CUDA-aware (set ``GPUNET_MPI_CUDA_AWARE=1`` to hand device
    pointers to MPI); with GPUs, prefer :class:`NCCLCommunicator`.
    """

    transport = "mpi"

    def __init__(self, comm: Any = None) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = local.Get_rank(), local.Get_size()
        local.Free()
        self.cuda_aware = os.environ.get("GPUNET_MPI_CUDA_AWARE", "0") == "1"

    def _host_view(self, buf: Any):
        if _is_device_array(buf):
            if not self.cuda_aware:
                return buf.get(), True  # .get() waits for the stream
            import cupy

            cupy.cuda.get_current_stream().synchronize()  # MPI reads device memory directly
        if not buf.flags.c_contiguous:
            raise ValueError(f"MPI collectives need a contiguous buffer; received an array of "
                             f"shape {buf.shape} with strides {buf.strides}.")
        return buf, False

    def allreduce_(self, buf: Any, average: bool = True) -> Any:
        if self.size == 1:
            return buf
        host, staged = self._host_view(buf)
        self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM)
        if average:
            host *= host.dtype.type(1.0 / self.size) if host.dtype.kind == "f" else 1
        if staged:
            buf.set(host)
        return buf

    def broadcast_(self, buf: Any, root: int = 0) -> Any:
        if self.size == 1:
            return buf
        host, staged = self._host_view(buf)
        self.comm.Bcast(host, root=root)
        if staged:
            buf.set(host)
        return buf

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def allreduce_scalar(self, value: float, average: bool = True) -> float:
        total = self.comm.allreduce(float(value), op=self.MPI.SUM)
        return total / self.size if average else total

    def barrier(self) -> None:
        self.comm.Barrier()


_NCCL_TYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
               "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8"}


class NCCLCommunicator(MPICommunicator):
    """Device buffers reduced by NCCL (one GPU per process); host traffic and the NCCL id go
    over MPI. Every collective runs on the current CuPy stream."""

    transport = "nccl"

    def __init__(self, comm: Any = None, device_id: int | None = None) -> None:
        super().__init__(comm)
        import cupy
        from cupy.cuda import nccl

        if not nccl.available:
            raise RuntimeError("NCCL is not available to CuPy: install the NCCL wheel that "
                               "matches your CUDA (for CUDA 13: pip install "
                               "'nvidia-nccl-cu13>=2.27.7,<3'), or use transport='mpi'.")
        self.cupy, self.nccl = cupy, nccl
        self.device_id = self.local_rank % cupy.cuda.runtime.getDeviceCount() \
            if device_id is None else device_id
        cupy.cuda.Device(self.device_id).use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = self.comm.bcast(uid, root=0)
        self.nccl_comm = nccl.NcclCommunicator(self.size, uid, self.rank)

    def _dtype(self, buf: Any) -> int:
        name = _NCCL_TYPES.get(np.dtype(buf.dtype).name)
        if name is None:
            raise TypeError(f"NCCL cannot reduce arrays of dtype {buf.dtype}; expected one of "
                            f"{sorted(_NCCL_TYPES)}.")
        return getattr(self.nccl, name)

    def allreduce_(self, buf: Any, average: bool = True) -> Any:
        if not _is_device_array(buf):
            return super().allreduce_(buf, average)
        if self.size == 1:
            return buf
        stream = self.cupy.cuda.get_current_stream().ptr
        op = self.nccl.NCCL_AVG if average and buf.dtype.kind == "f" else self.nccl.NCCL_SUM
        self.nccl_comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._dtype(buf), op,
                                 stream)
        return buf

    def broadcast_(self, buf: Any, root: int = 0) -> Any:
        if not _is_device_array(buf):
            return super().broadcast_(buf, root)
        if self.size == 1:
            return buf
        stream = self.cupy.cuda.get_current_stream().ptr
        self.nccl_comm.bcast(buf.data.ptr, buf.size, self._dtype(buf), root, stream)
        return buf


def env_local_rank() -> int | None:
    """The local rank the launcher exported (mpich, Open MPI, MVAPICH, Slurm, torchrun)."""
    for var in _LOCAL_RANK_VARS:
        if var in os.environ:
            return int(os.environ[var])
    return None
