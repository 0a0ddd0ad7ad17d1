"""Under ``mixed_float16`` on a GPU the layers' CuPy kernels run on float16 arrays (the
optimizer kernels still see the float32 variables): each layer kernel compiles with NVRTC for
float16, through the same source generator and options as tests/backend/test_kernel_compile.py
(no GPU needed; skips without CuPy or NVRTC)."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

from gpunet.backend.kernels import ALL_SPECS

_PATH = pathlib.Path(__file__).parent.parent / "backend" / "test_kernel_compile.py"
LAYER_KERNELS = sorted(n for n, s in ALL_SPECS.items() if s.group == "layer")


def _compiler():
    spec = importlib.util.spec_from_file_location("_kernel_compile", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_layer_kernels_are_listed():
    assert {"lstm_step_fwd", "lstm_step_bwd", "gru_step_fwd", "gru_step_bwd",
            "relu_grad"} <= set(LAYER_KERNELS)


@pytest.mark.parametrize("name", LAYER_KERNELS)
def test_layer_kernel_compiles_for_float16(name):
    kc = _compiler()
    kc._cupy_compiler()  # skips without CuPy / NVRTC, saying why
    kc.check_compiles(ALL_SPECS[name], np.float16)
