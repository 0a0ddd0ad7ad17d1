"""``Function``: one differentiable op with a hand-written forward and backward."""

from __future__ import annotations

from typing import Any

from gpunet.autograd import engine
from gpunet.autograd.engine import _OFF
from gpunet.autograd.tensor import Tensor
from gpunet.backend import DEVICES, backend_of


class Function:
    """Base class of differentiable operations.

    Subclasses implement ``forward(*arrays)`` and ``backward(*grad_outputs)`` on raw backend
    arrays. ``backward`` may consult ``self.needs_input_grad`` (a tuple of bools) and return
    ``None`` for inputs that need no gradient. Keep what backward needs on ``self``; the
    engine drops the node's references as soon as its backward has run.

    Example:

    >>> class Square(Function):
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x * x
    ...     def backward(self, gy):
    ...         return 2 * self.x * gy
    >>> y = Square()(x)
    """

    inputs: tuple = ()
    needs_input_grad: tuple = ()
    generation: int = 0
    n_out: int = 1

    def forward(self, *xs: Any) -> Any:
        raise NotImplementedError

    def backward(self, *gys: Any) -> Any:
        raise NotImplementedError

    def __call__(self, *inputs: Any) -> Any:
        if DEVICES.several:  # arrays on several GPUs: run on the input's device, as Chainer
            return self._apply_on_device(inputs)
        return self.apply(*inputs)

    def _apply_on_device(self, inputs: tuple) -> Any:
        for x in inputs:
            data = x.data if isinstance(x, Tensor) else x
            if hasattr(data, "__cuda_array_interface__"):
                with backend_of(data).activate():
                    return self.apply(*inputs)
        return self.apply(*inputs)

    def apply(self, *inputs: Any) -> Any:
        xs = []
        needs = []
        record = False
        gen = 0
        for x in inputs:
            if isinstance(x, Tensor):
                xs.append(x.data)
                if x.requires_grad:
                    needs.append(True)
                    record = True
                    c = x.creator  # only inputs that take a gradient order the backward
                    if c is not None and c.generation >= gen:
                        gen = c.generation + 1
                else:
                    needs.append(False)
            else:
                xs.append(x)
                needs.append(False)
        if record and _OFF[0] and not engine.grad_enabled():
            record = False
        if record:
            self.needs_input_grad = tuple(needs)
        ys = self.forward(*xs)
        if type(ys) is not tuple:
            out = Tensor(ys, record)
            if record:
                self.inputs = inputs
                self.generation = gen
                out.creator = self
            return out
        outs = tuple(Tensor(y, record) for y in ys)
        if record:
            self.inputs = inputs
            self.n_out = len(ys)
            self._out_meta = [(y.shape, y.dtype) for y in ys]
            self.generation = gen
            for i, o in enumerate(outs):
                o.creator = self
                o._out_index = i
        return outs

    def grad_buffer(self, index: int) -> Any:
        """The gradient buffer of input ``index`` if backward may write into it directly.

        Returns the input variable's (flat-buffer) ``grad`` view when it has not received a
        gradient yet in this step, else ``None``. A backward that writes its result into
        this buffer must return that same array object.
        """
        x = self.inputs[index]
        if getattr(x, "_grad_fresh", False) and x.grad is not None and x.creator is None:
            return x.grad
        return None

    def release(self) -> None:
        """Drops every array the node kept for backward (called by the engine)."""
        self.__dict__.clear()
        self.backward = _freed_backward


def _freed_backward(*gys: Any) -> Any:
    raise RuntimeError(
        "Trying to backward through the graph a second time (or through a part of it that an "
        "earlier backward() already freed): each node drops its saved arrays once its backward "
        "has run. Recompute the forward pass before calling backward() again."
    )
