"""Products: ``einsum`` (one differentiable node), ``tensordot``, ``dot``, ``outer``,
``inner``, ``vdot``, ``kron``, ``cross``, ``cdist``."""

from __future__ import annotations

import string
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops import math as M
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops._wrap import symbolic
from gpunet.ops.shape_ops import reshape, transpose


def _parse(subscripts: str, shapes: list) -> tuple:
    """Explicit subscripts with ``...`` replaced by letters: ``(inputs, output)``."""
    spec = subscripts.replace(" ", "")
    lhs, _, rhs = spec.partition("->")
    ins = lhs.split(",")
    used = set(spec) - set(".,->")
    free = [c for c in string.ascii_letters if c not in used]
    nell = max((len(s) - len(t.replace("...", "")) for t, s in zip(ins, shapes)
                if "..." in t), default=0)
    ell = "".join(free[:nell])
    out_ins = []
    for t, s in zip(ins, shapes):
        if "..." in t:
            k = len(s) - len(t.replace("...", ""))
            t = t.replace("...", ell[nell - k:])
        out_ins.append(t)
    if "->" not in spec:
        counts = {c: "".join(out_ins).count(c) for c in set("".join(out_ins))}
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return out_ins, rhs


class Einsum(Function):
    """``einsum`` over explicit subscripts; each input's gradient is another einsum."""

    def __init__(self, ins, out):
        self.ins, self.out = ins, out

    def forward(self, *xs):
        self.xs = xs
        return xp_of(*xs).einsum(",".join(self.ins) + "->" + self.out, *xs)

    def backward(self, gy):
        xp = xp_of(gy)
        grads = []
        for i, (sub, need) in enumerate(zip(self.ins, self.needs_input_grad)):
            if not need:
                grads.append(None)
                continue
            others = [(s, x) for j, (s, x) in enumerate(zip(self.ins, self.xs)) if j != i]
            avail = set(self.out) | {c for s, _ in others for c in s}
            target = "".join(dict.fromkeys(c for c in sub if c in avail))
            g = xp.einsum(",".join([self.out] + [s for s, _ in others]) + "->" + target,
                          gy, *[x for _, x in others])
            shape = self.xs[i].shape
            sizes = dict(zip(sub, shape))
            full = "".join(dict.fromkeys(sub))  # broadcast over indices only this input has
            g = xp.einsum(target + "->" + target, g)
            for c in full:
                if c not in target:
                    g = xp.expand_dims(g, -1)
                    target += c
            g = xp.broadcast_to(xp.einsum(target + "->" + full, g),
                                tuple(sizes[c] for c in full))
            if full != sub:  # repeated index (a diagonal): place g on it
                z = xp.zeros(shape, g.dtype)
                xp.einsum(sub + "->" + full, z)[...] = g
                g = z
            grads.append(xp.ascontiguousarray(g))
        return tuple(grads)


@symbolic("einsum")
def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation over the operands (one differentiable node).

    Args:
        subscripts: ``numpy.einsum`` notation, e.g. ``"bij,bjk->bik"``; ``...`` and the
            implicit output form are allowed.
        *operands: the tensors.

    Returns:
        The contracted Tensor; the gradient of each operand is itself an einsum.

    Example:

    >>> ops.einsum("btnh,bsnh->bnts", q, k)     # attention scores
    """
    ts = [as_tensor(o) for o in operands]
    ins, out = _parse(subscripts, [t.shape for t in ts])
    return Einsum(ins, out)(*ts)


@symbolic("tensordot")
def tensordot(x1: Any, x2: Any, axes: Any = 2) -> Tensor:
    """Sum of products over ``axes`` (an int: the last/first ``axes`` axes; or two lists)."""
    a, b = as_tensor(x1), as_tensor(x2)
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    ax_a = [i % a.ndim for i in ax_a]
    ax_b = [i % b.ndim for i in ax_b]
    keep_a = [i for i in range(a.ndim) if i not in ax_a]
    keep_b = [i for i in range(b.ndim) if i not in ax_b]
    n = 1
    for i in ax_a:
        n *= a.shape[i]
    am = reshape(transpose(a, keep_a + ax_a), (-1, n))
    bm = reshape(transpose(b, ax_b + keep_b), (n, -1))
    return reshape(M.matmul(am, bm),
                   tuple(a.shape[i] for i in keep_a) + tuple(b.shape[i] for i in keep_b))


@symbolic("dot")
def dot(x1: Any, x2: Any) -> Tensor:
    """``numpy.dot``: a product for scalars, ``matmul`` up to 2-D, else a sum over the last
    axis of ``x1`` and the second-to-last of ``x2``."""
    a, b = as_tensor(x1), as_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return M.multiply(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return M.matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [max(b.ndim - 2, 0)]))


def outer(x1: Any, x2: Any) -> Tensor:
    """Outer product of the flattened inputs."""
    a, b = as_tensor(x1), as_tensor(x2)
    return M.multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def inner(x1: Any, x2: Any) -> Tensor:
    """Sum of products over the last axes."""
    a, b = as_tensor(x1), as_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return M.multiply(a, b)
    return tensordot(a, b, ([-1], [-1]))


def vdot(x1: Any, x2: Any) -> Tensor:
    """Dot product of the flattened inputs."""
    return M.sum(M.multiply(reshape(as_tensor(x1), (-1,)), reshape(as_tensor(x2), (-1,))))


def kron(x1: Any, x2: Any) -> Tensor:
    """Kronecker product."""
    a, b = as_tensor(x1), as_tensor(x2)
    nd = max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (nd - a.ndim) + tuple(a.shape))
    b = reshape(b, (1,) * (nd - b.ndim) + tuple(b.shape))
    a2 = reshape(a, sum(((s, 1) for s in a.shape), ()))
    b2 = reshape(b, sum(((1, s) for s in b.shape), ()))
    return reshape(M.multiply(a2, b2), tuple(p * q for p, q in zip(a.shape, b.shape)))


def cross(x1: Any, x2: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Tensor:
    """Cross product of 3-vectors along the last axis."""
    from gpunet.ops.gather import moveaxis
    from gpunet.ops.shape_ops import getitem, stack

    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(as_tensor(x1), axisa, -1)
    b = moveaxis(as_tensor(x2), axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ValueError("cross: gpunet supports 3-vectors only. Received shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}.")
    c = [getitem(a, (..., i)) for i in range(3)]
    d = [getitem(b, (..., i)) for i in range(3)]
    out = stack([M.subtract(M.multiply(c[1], d[2]), M.multiply(c[2], d[1])),
                 M.subtract(M.multiply(c[2], d[0]), M.multiply(c[0], d[2])),
                 M.subtract(M.multiply(c[0], d[1]), M.multiply(c[1], d[0]))], -1)
    return moveaxis(out, -1, axisc)


def cdist(x: Any, y: Any, p: float = 2.0) -> Tensor:
    """Pairwise ``p``-norm distances between the rows of ``x`` (``..., m, d``) and ``y``
    (``..., n, d``); Keras's ``cdist(x, y)`` is the Euclidean ``p=2``."""
    from gpunet.ops.shape_ops import expand_dims

    d = M.abs(M.subtract(expand_dims(as_tensor(x), -2), expand_dims(as_tensor(y), -3)))
    if p == 2:
        return M.sqrt(M.sum(M.square(d), -1))
    if p == float("inf"):
        return M.max(d, -1)
    return M.power(M.sum(M.power(d, float(p)), -1), 1.0 / p)


__all__ = ["cdist", "cross", "dot", "einsum", "inner", "kron", "outer", "tensordot", "vdot"]
