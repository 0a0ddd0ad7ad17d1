"""Reverse-mode differentiation over the recorded ``Function`` nodes, and ``no_grad``."""

from __future__ import annotations

import contextlib
import heapq
import threading
from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.backend import backend_of

_state = threading.local()
# how many no_grad() blocks are open, in all threads: while none is, every thread records
# (the per-thread flag need not be read: a thread-local read is the slower one)
_OFF = [0]


def grad_enabled() -> bool:
    """True unless inside a ``no_grad()`` block."""
    return not _OFF[0] or getattr(_state, "enabled", True)


@contextlib.contextmanager
def no_grad():
    """Context manager in which operations record no graph (inference, evaluation)."""
    prev = grad_enabled()
    _state.enabled = False
    _OFF[0] += 1
    try:
        yield
    finally:
        _OFF[0] -= 1
        _state.enabled = prev


@contextlib.contextmanager
def enable_grad():
    """Context manager that turns graph recording back on inside a ``no_grad()`` block."""
    prev = grad_enabled()
    _state.enabled = True
    try:
        yield
    finally:
        _state.enabled = prev


def _accumulate_leaf(x: Tensor, gx: Any) -> None:
    if getattr(x, "_grad_fresh", None) is not None:  # a Variable
        if x.grad is None:
            x.grad = gx.copy()  # gx may be shared (e.g. by both inputs of an add); own it
        elif x._grad_fresh:
            if gx is not x.grad:
                x.grad[...] = gx
        else:
            x.grad += gx
        x._grad_fresh = False
    elif x.grad is None:
        x.grad = gx.copy()
    else:
        x.grad = x.grad + gx


def backward(root: Tensor, grad: Any = None) -> None:
    """Back-propagates from ``root`` through every recorded node.

    Gradients reach leaf tensors in ``.grad``; a ``Variable`` whose ``grad`` is a view of a
    flat buffer receives it in place. Each node frees its saved arrays right after its own
    backward has run, so the graph can be walked only once.

    Args:
        root: the tensor to differentiate (a scalar loss unless ``grad`` is given).
        grad: the gradient of the final objective with respect to ``root``; defaults to 1.
    """
    if grad is None:
        data = root.data
        if data.size != 1:
            raise ValueError(
                "backward() without an explicit gradient needs a scalar tensor. "
                f"Received a tensor of shape {tuple(root.shape)}."
            )
        grad = backend_of(data).xp.ones(data.shape, data.dtype)
    elif isinstance(grad, Tensor):
        grad = grad.data
    f = root.creator
    if f is None:
        if root.requires_grad:
            _accumulate_leaf(root, grad)
        return
    fid = id(f)
    grads: dict[tuple[int, int], Any] = {(fid, root._out_index): grad}
    heap: list = [(-f.generation, fid, f)]
    seen = {fid}
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        _, fid, f = pop(heap)
        if f.n_out == 1:
            g = grads.pop((fid, 0), None)
            if g is None:
                f.release()
                continue
            gxs = f.backward(g)
        else:
            n_out = f.n_out
            gys = [grads.pop((fid, i), None) for i in range(n_out)]
            if all(g is None for g in gys):
                f.release()
                continue
            if any(g is None for g in gys):
                xp = root.backend.xp
                gys = [xp.zeros(shape, dtype) if g is None else g
                       for g, (shape, dtype) in zip(gys, f._out_meta)]
            gxs = f.backward(*gys)
        if type(gxs) is not tuple:
            gxs = (gxs,)
        for x, need, gx in zip(f.inputs, f.needs_input_grad, gxs):
            if not need or gx is None:
                continue
            c = x.creator
            if c is None:
                if gx is x.grad and getattr(x, "_grad_fresh", False):
                    x._grad_fresh = False  # the node wrote it into the buffer (grad_buffer)
                else:
                    _accumulate_leaf(x, gx)
                continue
            cid = id(c)
            key = (cid, x._out_index)
            prev = grads.get(key)
            grads[key] = gx if prev is None else prev + gx
            if cid not in seen:
                seen.add(cid)
                push(heap, (-c.generation, cid, c))
        f.release()
