"""The NumPy backend keeps large freed arrays in the heap (no page faults on reuse)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gpunet.backend.host_memory import host_malloc_tuned, tune_host_malloc

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

_CHILD = r"""
import resource, sys
import numpy as np
if sys.argv[1] == "1":
    import gpunet.backend  # creates the NumPy backend, which tunes the allocator
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):  # warm up: the first allocation faults its pages in either way
    a = np.empty(10 << 20, np.float32); a[:] = 1; del a
f0 = faults()
for _ in range(10):
    a = np.empty(10 << 20, np.float32)  # 40 MiB: above the most glibc raises its threshold to
    a[:] = 1
    del a
print(faults() - f0)
"""


def _faults(tuned: bool, env_value: str | None = None) -> int:
    env = dict(os.environ)
    env.pop("GPUNET_HOST_MALLOC", None)
    if env_value is not None:
        env["GPUNET_HOST_MALLOC"] = env_value
    out = subprocess.run([sys.executable, "-c", _CHILD, "1" if tuned else "0"], env=env,
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@glibc
def test_reused_large_arrays_do_not_fault_again():
    # 10 fresh 40 MiB arrays: each one faults at least its 20 huge pages (NumPy asks for 2 MiB
    # pages; 10,240 faults of 4 KiB pages without them) without the tuning, as glibc's own
    # dynamic threshold stops at 32 MiB; next to none once the freed block stays in the heap.
    untuned = _faults(False)
    tuned = _faults(True)
    assert untuned >= 10 * 20
    assert tuned * 10 < untuned


@glibc
def test_env_var_turns_it_off():
    assert _faults(True, "0") >= 10 * 20


def test_disabled_by_env(monkeypatch):
    monkeypatch.setenv("GPUNET_HOST_MALLOC", "off")
    assert tune_host_malloc() is False


@glibc
def test_backend_applied_it():
    if os.environ.get("GPUNET_HOST_MALLOC", "1") == "0":
        pytest.skip("turned off in this environment")
    import gpunet.backend  # noqa: F401

    assert host_malloc_tuned()
