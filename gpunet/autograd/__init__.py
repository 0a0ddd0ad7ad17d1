"""The define-by-run core: ``Tensor``, ``Variable``, ``Function``, ``backward``, ``no_grad``."""

from gpunet.autograd.engine import backward, enable_grad, grad_enabled, no_grad
from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor, as_array
from gpunet.autograd.variable import Variable

__all__ = ["Function", "Tensor", "Variable", "as_array", "backward", "enable_grad",
           "grad_enabled", "no_grad"]
