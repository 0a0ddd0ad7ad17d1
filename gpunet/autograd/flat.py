"""Flat parameter buffers: every variable of a dtype as a view into one contiguous array."""

from __future__ import annotations

from collections.abc import Sequence

from gpunet.autograd.variable import Variable
from gpunet.backend import backend_of


class FlatGroup:
    """One contiguous data buffer and its twin gradient buffer for variables of one dtype.

    Attributes:
        data: the 1-D parameter buffer; each variable's ``data`` is a view into it.
        grad: the 1-D gradient buffer; each variable's ``grad`` is a view into it.
        variables: the variables, in buffer order.
        spans: ``(start, stop)`` of each variable in the buffers.
    """

    def __init__(self, variables: Sequence[Variable], with_grad: bool = True) -> None:
        self.variables = list(variables)
        b = backend_of(self.variables[0].data)
        self.backend = b
        xp = b.xp
        dtype = self.variables[0].data.dtype
        sizes = [v.data.size for v in self.variables]
        total = sum(sizes)
        self.data = xp.empty(total, dtype)
        self.grad = xp.zeros(total, dtype) if with_grad else None
        self.spans = []
        o = 0
        for v, n in zip(self.variables, sizes):
            shape = v.data.shape
            self.data[o:o + n] = v.data.reshape(-1)
            v.data = self.data[o:o + n].reshape(shape)
            v.grad = self.grad[o:o + n].reshape(shape) if with_grad else None
            v._grad_fresh = True
            self.spans.append((o, o + n))
            o += n

    @property
    def size(self) -> int:
        return int(self.data.size)

    def begin_step(self) -> None:
        """Marks every gradient as not yet written for the coming backward pass."""
        for v in self.variables:
            v._grad_fresh = True

    def end_step(self) -> None:
        """Zeroes the gradient of every variable that received none in the last pass."""
        for v in self.variables:
            if v._grad_fresh:
                v.grad[...] = 0


def pack(variables: Sequence[Variable], with_grad: bool = True) -> list[FlatGroup]:
    """Packs variables into one ``FlatGroup`` per (backend, dtype), keeping their order."""
    groups: dict[tuple, list[Variable]] = {}
    for v in variables:
        key = (backend_of(v.data).device, str(v.data.dtype))
        groups.setdefault(key, []).append(v)
    return [FlatGroup(vs, with_grad) for vs in groups.values()]
