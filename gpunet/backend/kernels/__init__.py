"""Fused in-place optimizer updates over flat buffers: NumPy ``out=`` ufuncs or one CuPy kernel.

Each function updates ``w`` (and its slots) in place, given the whole flat parameter buffer
``w`` and gradient buffer ``g`` of one group. On NumPy one or two scratch buffers the size of
``w`` (``tmp``, ``tmp2``) avoid temporaries; on CuPy the whole update is one
``ElementwiseKernel`` launch, built lazily through ``backend.kernel(name, factory)`` from the
specs in ``SPECS``. ``ALL_SPECS`` holds those and every other CuPy kernel of gpunet (the
fused LSTM/GRU steps, ``relu_grad``).
"""

from __future__ import annotations

from gpunet.backend.kernels import nn, philox_cuda, rnn_steps  # noqa: F401  (specs join ALL_SPECS)
from gpunet.backend.kernels._spec import ALL_SPECS, SPECS, KernelSpec, launch
from gpunet.backend.kernels.adam import adam_update, adamax_update, nadam_update
from gpunet.backend.kernels.adaptive import adadelta_update, adagrad_update, rmsprop_update
from gpunet.backend.kernels.common import ema_update, weight_decay_update
from gpunet.backend.kernels.misc import ftrl_update, lion_update
from gpunet.backend.kernels.sgd import sgd_momentum_update, sgd_update

__all__ = [
    "ALL_SPECS", "SPECS", "KernelSpec", "launch", "sgd_update", "sgd_momentum_update",
    "adam_update", "adamax_update", "nadam_update", "rmsprop_update", "adagrad_update",
    "adadelta_update", "ftrl_update", "lion_update", "ema_update", "weight_decay_update",
]
