"""Shared helpers for the benchmarks: data, machine description, table printing."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def mnist_flat(limit: int | None = None):
    """Real MNIST (through GPUNET_DATA_DIR) flattened to float32 in [0, 1]; random if absent."""
    try:
        from gpunet.datasets import mnist

        (x, y), _ = mnist.load_data()
        source = "MNIST"
    except (OSError, ValueError):
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, 60000).astype(np.uint8)
        source = "random (MNIST not found)"
    if limit:
        x, y = x[:limit], y[:limit]
    return x.reshape(len(x), -1).astype("float32") / 255.0, y.astype("int64"), source


def machine() -> dict:
    """What the figures were measured on."""
    import numpy

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except (KeyError, TypeError, ValueError):
        pass
    info["blas kernel"] = _openblas_core()
    info["OPENBLAS_NUM_THREADS"] = os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")
    try:
        import numba

        info["numba"] = numba.__version__
        info["GPUNET_NUMBA"] = os.environ.get("GPUNET_NUMBA", "(unset: on)")
    except ImportError:
        info["numba"] = "(not installed: NumPy paths)"
    try:
        from gpunet.backend.cpu_threads import cpu_threads

        info["gpunet CPU threads"] = (f"{cpu_threads()} (GPUNET_CPU_THREADS="
                                      f"{os.environ.get('GPUNET_CPU_THREADS', 'unset')})")
    except (ImportError, ValueError):
        pass
    try:
        info["load average"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        pass
    try:
        import threadpoolctl

        pools = threadpoolctl.threadpool_info()
        info["blas"] = ", ".join(f"{p.get('internal_api')} {p.get('version')} "
                                 f"{p.get('architecture')} x{p.get('num_threads')}" for p in pools)
    except ImportError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def _openblas_core() -> str:
    """The OpenBLAS kernel set this process runs (``openblas_get_corename``), if found."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            paths = sorted({ln.split()[-1] for ln in f if "openblas" in ln.lower() and ".so" in ln})
        for path in paths:
            lib = ctypes.CDLL(path)
            for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                         "openblas_get_corename64_", "openblas_get_corename"):
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn.restype = ctypes.c_char_p
                    return fn().decode()
    except (OSError, ValueError, AttributeError):
        pass
    return "(unknown)"


def table(rows: list[dict], cols: list[str]) -> str:
    """A Markdown table of ``rows`` with the given columns."""
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return "\n".join(out)
