"""``rearrange``: einops-style reshapes and transpositions (Keras 3's ``ops.rearrange``)."""

from __future__ import annotations

import re
from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.ops._utils import as_tensor
from gpunet.ops.shape_ops import reshape, transpose

__all__ = ["rearrange"]

_TOKEN = re.compile(r"\(|\)|\.\.\.|[A-Za-z_][A-Za-z0-9_]*|\S")


def _groups(side: str, pattern: str) -> list:
    """``"b (h w) c"`` -> ``[["b"], ["h", "w"], ["c"]]``; ``...`` is the group ``["..."]``."""
    out, cur = [], None
    for tok in _TOKEN.findall(side):
        if tok == "(":
            if cur is not None:
                raise ValueError(f"rearrange: nested parentheses in {pattern!r}.")
            cur = []
        elif tok == ")":
            if cur is None:
                raise ValueError(f"rearrange: unbalanced ')' in {pattern!r}.")
            out.append(cur)
            cur = None
        elif tok == "..." or tok.isidentifier():
            (cur.append(tok) if cur is not None else out.append([tok]))
        else:
            raise ValueError(f"rearrange: unsupported token {tok!r} in {pattern!r} (axis names, "
                             "'...' and parentheses are supported).")
    if cur is not None:
        raise ValueError(f"rearrange: unbalanced '(' in {pattern!r}.")
    return out


def rearrange(tensor: Any, pattern: str, **axes_lengths: int) -> Tensor:
    """Reshapes and transposes by an einops pattern (differentiable).

    Example:

    >>> ops.rearrange(x, "b h w c -> b (h w) c")              # flatten the image
    >>> ops.rearrange(x, "b (h p) w c -> b h (p w) c", p=2)   # split and merge axes
    """
    x = as_tensor(tensor)
    if "->" not in pattern:
        raise ValueError(f"rearrange: the pattern needs '->'. Received: {pattern!r}")
    lhs, rhs = (_groups(s, pattern) for s in pattern.split("->"))
    n_ell = x.ndim - (len(lhs) - (1 if ["..."] in lhs else 0))
    if n_ell < 0 or (n_ell and ["..."] not in lhs):
        raise ValueError(f"rearrange: {pattern!r} names {len(lhs)} axes but the input has "
                         f"{x.ndim} (shape {tuple(x.shape)}).")
    sizes = dict(axes_lengths)
    elems, dim = [], 0
    for g in lhs:
        if g == ["..."]:
            for i in range(n_ell):
                sizes[f"...{i}"] = x.shape[dim + i]
                elems.append(f"...{i}")
            dim += n_ell
            continue
        unknown = [a for a in g if a not in sizes]
        known = 1
        for a in g:
            known *= sizes.get(a, 1)
        if len(unknown) > 1:
            raise ValueError(f"rearrange: cannot infer the sizes of {unknown} in {pattern!r}; "
                             "pass them as keyword arguments.")
        if unknown:
            if x.shape[dim] % known:
                raise ValueError(f"rearrange: axis {dim} of size {x.shape[dim]} does not split "
                                 f"into {g}.")
            sizes[unknown[0]] = x.shape[dim] // known
        elif known != x.shape[dim]:
            raise ValueError(f"rearrange: axis {dim} has size {x.shape[dim]}, but {g} gives "
                             f"{known}.")
        elems += g
        dim += 1
    rhs_elems = [e for g in rhs for e in ([f"...{i}" for i in range(n_ell)]
                                          if g == ["..."] else g)]
    if sorted(rhs_elems) != sorted(elems):
        raise ValueError(f"rearrange: the two sides of {pattern!r} must name the same axes.")
    y = reshape(x, [sizes[e] for e in elems])
    y = transpose(y, [elems.index(e) for e in rhs_elems])
    shape = []
    for g in rhs:
        names = [f"...{i}" for i in range(n_ell)] if g == ["..."] else g
        if g == ["..."]:
            shape += [sizes[n] for n in names]
        else:
            p = 1
            for n in names:
                p *= sizes[n]
            shape.append(p)
    return reshape(y, shape)
