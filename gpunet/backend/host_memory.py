"""Large host arrays from the process heap instead of fresh pages, for NumPy training steps.

glibc serves every allocation above ``M_MMAP_THRESHOLD`` (128 KiB, raised on the fly up to
32 MiB) with a new ``mmap``, and gives it back with ``munmap`` when NumPy frees it. A training
step allocates and frees the same large temporaries every step (im2col columns, activations,
their gradients, the per-sequence buffers of the recurrent layers), so each step page-faults
all of them in again, and the kernel zeroes every page: measured on the MNIST CNN, 7,200 minor
faults and a third of the CPU time of a step. Raising the mmap threshold (and the heap trim
threshold with it) lets freed blocks stay in the heap, where the next step reuses them: the
same effect as a workspace cache, for every op at once, with no change to who owns an array.

This runs once, when the NumPy backend is created, on Linux with glibc only.
``GPUNET_HOST_MALLOC=0`` leaves the allocator as it is. The cost is that up to
``trim_threshold`` bytes of freed memory stay mapped to the process after a large step ends
(the peak resident size of a step does not grow: the same blocks are reused).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20  # blocks up to 256 MiB come from the heap
TRIM_THRESHOLD = 512 << 20  # free memory kept at the top of the heap before trimming

_state: dict[str, bool] = {}


def tune_host_malloc(mmap_threshold: int = MMAP_THRESHOLD,
                     trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Sets glibc's mmap and trim thresholds so large freed arrays are reused, not unmapped.

    Args:
        mmap_threshold: allocations of at least this many bytes still get their own mapping.
        trim_threshold: free bytes at the top of the heap kept before memory goes back to
            the system.

    Returns:
        True when both settings were applied; False off Linux/glibc, when
        ``GPUNET_HOST_MALLOC=0``, or when glibc refused them.
    """
    if os.environ.get("GPUNET_HOST_MALLOC", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no such thresholds)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1 and ok
    _state["tuned"] = ok
    return ok


def host_malloc_tuned() -> bool:
    """Whether ``tune_host_malloc`` has applied its settings in this process."""
    return _state.get("tuned", False)
