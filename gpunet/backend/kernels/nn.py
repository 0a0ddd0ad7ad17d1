"""Elementwise CuPy kernels of the layers' backward passes (the NumPy forms live on the
NumPy backend)."""

from __future__ import annotations

from gpunet.backend.kernels._spec import define

# dL/dx of ReLU from its output: ``gy`` where ``y > 0``, else 0 (also the convolutions'
# fused ReLU)
RELU_GRAD = define("relu_grad", "T gy, T y", "T gx", "gx = y > 0 ? gy : (T)0", group="layer")
