"""Control flow and state-style ops, eager: ``cond``, ``switch``, ``fori_loop``,
``while_loop``, ``scan``, ``map``, ``vectorized_map``, ``associative_scan``,
``custom_gradient``; ``slice``/``slice_update``, ``scatter``/``scatter_update``, the segment
reductions and ``in_top_k``.

gpunet runs eagerly, so the loops are Python loops over the traced operations: gradients
flow through every iteration, as with Keras's PyTorch backend.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops import math as M
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops._wrap import raw
from gpunet.ops.shape_ops import getitem, stack


def _truth(pred: Any) -> bool:
    p = raw(pred)
    return bool(p.item() if hasattr(p, "item") else p)


def cond(pred: Any, true_fn: Callable, false_fn: Callable) -> Any:
    """``true_fn()`` if ``pred`` else ``false_fn()`` (``pred`` a scalar; read on the host)."""
    return true_fn() if _truth(pred) else false_fn()


def switch(index: Any, branches: list, *operands: Any) -> Any:
    """``branches[index](*operands)``, ``index`` clamped to the valid range as in Keras."""
    i = builtins.min(builtins.max(int(raw(index)), 0), len(branches) - 1)
    return branches[i](*operands)


def fori_loop(lower: int, upper: int, body_fun: Callable, init_val: Any) -> Any:
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)`` (eager Python loop;
    gradients flow through every iteration).

    Args:
        lower, upper: the loop bounds (ints or scalar tensors).
        body_fun: ``(i, val) -> val``.
        init_val: the initial value (any structure ``body_fun`` accepts).

    Returns:
        The final value.

    Example:

    >>> ops.fori_loop(0, 3, lambda i, v: v * 2.0, x)    # x * 8
    """
    val = init_val
    for i in range(int(raw(lower)), int(raw(upper))):
        val = body_fun(i, val)
    return val


def while_loop(cond: Callable, body: Callable, loop_vars: Any,
               maximum_iterations: int | None = None) -> Any:
    """Repeats ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (at most
    ``maximum_iterations`` times). A single non-tuple ``loop_vars`` is passed as one value."""
    single = not isinstance(loop_vars, (list, tuple))
    vs = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while (maximum_iterations is None or n < maximum_iterations) and _truth(cond(*vs)):
        out = body(*vs)
        vs = (out,) if single else tuple(out)
        n += 1
    return vs[0] if single else type(loop_vars)(vs) if isinstance(loop_vars, list) else vs


def _leading(xs: Any) -> list:
    if isinstance(xs, (list, tuple)):
        parts = [_leading(x) for x in xs]
        return [type(xs)(p[i] for p in parts) for i in range(len(parts[0]))]
    if isinstance(xs, dict):
        parts = {k: _leading(v) for k, v in xs.items()}
        n = len(next(iter(parts.values())))
        return [{k: v[i] for k, v in parts.items()} for i in range(n)]
    xs = as_tensor(xs)
    return [getitem(xs, i) for i in range(xs.shape[0])]


def _stack(outs: list) -> Any:
    first = outs[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_stack([o[i] for o in outs]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack([o[k] for o in outs]) for k in first}
    return stack([as_tensor(o) for o in outs], 0)


def map(f: Callable, xs: Any) -> Any:  # noqa: A001
    """Applies ``f`` to each slice of ``xs`` along its first axis and stacks the results."""
    return _stack([f(x) for x in _leading(xs)])


def vectorized_map(function: Callable, elements: Any) -> Any:
    """``map`` of ``function`` over the first axis of ``elements`` (a Python loop here)."""
    return map(function, elements)


def vectorize(pyfunc: Callable, *, excluded: Any = None, signature: str | None = None):
    """Turns a function of single elements into one applied element by element to its
    arguments (as ``numpy.vectorize``); the positional arguments whose indices are in
    ``excluded`` are passed whole to every call."""
    if signature is not None:
        raise NotImplementedError("vectorize(signature=...) is not supported by gpunet; map "
                                  "the function with `gpunet.ops.map` instead.")
    skip = frozenset(excluded or ())
    if any(not isinstance(i, int) for i in skip):
        raise NotImplementedError("vectorize(excluded=...) takes positional indices in gpunet "
                                  f"(keyword names are not supported). Received: {excluded!r}")

    def inner(*args):
        mapped = [i for i in range(len(args)) if i not in skip]
        ts = [as_tensor(a) if i in mapped else a for i, a in enumerate(args)]
        if not mapped or ts[mapped[0]].ndim == 0:
            return pyfunc(*ts)

        def row_call(row):
            full = list(ts)
            for i, r in zip(mapped, row):
                full[i] = r
            return inner(*full)

        return map(row_call, tuple(ts[i] for i in mapped))

    return inner


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int = 1) -> tuple:
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns
    ``(final_carry, stacked_ys)``."""
    items = _leading(xs) if xs is not None else [None] * int(length)
    if reverse:
        items = items[::-1]
    carry, ys = init, []
    for x in items:
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    return carry, (_stack(ys) if ys and ys[0] is not None else None)


def associative_scan(f: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """Inclusive scan of the associative ``f`` along ``axis`` (sequential here)."""
    from gpunet.ops.gather import moveaxis

    x = moveaxis(as_tensor(elems), axis, 0)
    items = [getitem(x, i) for i in range(x.shape[0])]
    if reverse:
        items = items[::-1]
    acc, outs = None, []
    for it in items:
        acc = it if acc is None else f(acc, it)
        outs.append(acc)
    if reverse:
        outs = outs[::-1]
    return moveaxis(stack(outs, 0), 0, axis)


class _Custom(Function):
    def __init__(self, f, n):
        self.f, self.n = f, n

    def forward(self, *xs):
        from gpunet.autograd.engine import no_grad

        with no_grad():
            y, self.grad_fn = self.f(*[Tensor(x) for x in xs])
        return as_tensor(y).data

    def backward(self, gy):
        try:
            gs = self.grad_fn(Tensor(gy))
        except TypeError:
            gs = self.grad_fn(upstream=Tensor(gy))
        gs = gs if isinstance(gs, (list, tuple)) else (gs,)
        return tuple(None if g is None else raw(as_tensor(g)) for g in gs)


def custom_gradient(f: Callable) -> Callable:
    """Decorator: ``f(*args)`` returns ``(output, grad_fn)`` and ``grad_fn(upstream)`` the
    gradients of the inputs, as in Keras (``grad_fn(*args, upstream=None)`` also works).

    Example:

    >>> @ops.custom_gradient
    ... def log1pexp(x):
    ...     e = ops.exp(x)
    ...     def grad(*args, upstream=None):
    ...         upstream = args[0] if upstream is None else upstream
    ...         return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))
    ...     return ops.log1p(e), grad
    """

    def inner(*args):
        ts = [as_tensor(a) for a in args]
        return _Custom(f, len(ts))(*ts)

    inner.__name__ = getattr(f, "__name__", "custom_gradient")
    inner.__doc__ = f.__doc__
    return inner


def _starts(start_indices: Any) -> list:
    s = raw(start_indices)
    return [int(v) for v in (s.tolist() if hasattr(s, "tolist") else s)]


def slice(inputs: Any, start_indices: Any, shape: Any) -> Tensor:  # noqa: A001
    """The block of ``inputs`` of ``shape`` starting at ``start_indices`` (differentiable)."""
    st = _starts(start_indices)
    key = tuple(builtins.slice(a, a + int(n)) for a, n in zip(st, _starts(shape)))
    return getitem(inputs, key)


class _SliceUpdate(Function):
    def __init__(self, key):
        self.key = key

    def forward(self, x, u):
        y = x.copy()
        y[self.key] = u
        return y

    def backward(self, gy):
        gx = gy.copy()
        gx[self.key] = 0
        return gx, gy[self.key]


def slice_update(inputs: Any, start_indices: Any, updates: Any) -> Tensor:
    """A copy of ``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    x = as_tensor(inputs)
    u = as_tensor(updates, x.data)
    key = tuple(builtins.slice(a, a + n) for a, n in zip(_starts(start_indices), u.shape))
    return _SliceUpdate(key)(x, M.cast(u, x.dtype) if u.dtype != x.dtype else u)


class _ScatterUpdate(Function):
    """``x[idx] = u`` (last write wins for repeated indices); gradient zero at written
    places for ``x``, and ``gy[idx]`` for ``u``."""

    def __init__(self, key, add):
        self.key, self.add = key, add

    def forward(self, x, u):
        xp = xp_of(x)
        y = x.copy()
        if self.add:
            xp.add.at(y, self.key, u)
        else:
            y[self.key] = u
        return y

    def backward(self, gy):
        gx = gy
        if not self.add:
            gx = gy.copy()
            gx[self.key] = 0
        return gx, gy[self.key]


def _key(indices: Any, ndim: int) -> tuple:
    idx = raw(indices)
    idx = idx if hasattr(idx, "shape") else xp_of().asarray(idx)
    idx = idx.astype("int64")
    return tuple(idx[..., i] for i in range(idx.shape[-1]))


def scatter_update(inputs: Any, indices: Any, updates: Any, reduction: str | None = None
                   ) -> Tensor:
    """A copy of ``inputs`` with ``inputs[indices[i]] = updates[i]``; ``indices`` is
    ``(n, k)`` indexing the first ``k`` axes.

    ``reduction=None`` replaces (the last of repeated indices wins, as in Keras);
    ``reduction="add"`` adds the updates, repeated indices summing. Keras's ``"max"``,
    ``"min"`` and ``"mul"`` are not implemented (they raise)."""
    if reduction not in (None, "add"):
        if reduction in ("max", "min", "mul"):
            raise NotImplementedError(f"scatter_update: reduction={reduction!r} is not "
                                      "implemented in gpunet; None and 'add' are.")
        raise ValueError(f"scatter_update: unsupported reduction {reduction!r}; expected None, "
                         "'add', 'max', 'min' or 'mul'.")
    x = as_tensor(inputs)
    u = as_tensor(updates, x.data)
    return _ScatterUpdate(_key(indices, x.ndim), reduction == "add")(x, u)


def scatter(indices: Any, values: Any, shape: Any) -> Tensor:
    """A zero tensor of ``shape`` with ``values`` added at ``indices`` (duplicates sum)."""
    v = as_tensor(values)
    z = Tensor(xp_of(v).zeros(tuple(int(s) for s in shape), v.dtype))
    return _ScatterUpdate(_key(indices, len(shape)), True)(z, v)


class _SegmentSum(Function):
    def __init__(self, ids, n):
        self.ids, self.n = ids, n

    def forward(self, x):
        xp = xp_of(x)
        out = xp.zeros((self.n,) + x.shape[1:], x.dtype)
        ok = (self.ids >= 0) & (self.ids < self.n)
        self.ok = ok
        xp.add.at(out, self.ids[ok], x[ok])
        return out

    def backward(self, gy):
        xp = xp_of(gy)
        g = gy[xp.clip(self.ids, 0, self.n - 1)]
        return g * self.ok.reshape((-1,) + (1,) * (g.ndim - 1))


def _segments(data, segment_ids, num_segments):
    x = as_tensor(data)
    ids = raw(as_tensor(segment_ids, x.data)).astype("int64")
    n = int(num_segments) if num_segments is not None else int(ids.max()) + 1
    return x, ids, n


def segment_sum(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> Tensor:  # noqa: A002
    """Sums of the rows of ``data`` per segment id (ids outside ``[0, n)`` are dropped)."""
    x, ids, n = _segments(data, segment_ids, num_segments)
    return _SegmentSum(ids, n)(x)


def _segment_extreme(data, segment_ids, num_segments, kind):
    x, ids, n = _segments(data, segment_ids, num_segments)
    xp = xp_of(x)
    ref = xp.full((n,) + x.shape[1:], -xp.inf if kind == "max" else xp.inf, x.data.dtype
                  if x.dtype.kind == "f" else "float64")
    ok = (ids >= 0) & (ids < n)
    (xp.maximum if kind == "max" else xp.minimum).at(ref, ids[ok], x.data[ok])
    hit = (x.data == ref[xp.clip(ids, 0, n - 1)]) & ok.reshape((-1,) + (1,) * (x.ndim - 1))
    count = xp.zeros(ref.shape, x.dtype)
    xp.add.at(count, ids[ok], hit[ok].astype(x.dtype))
    share = hit / xp.maximum(count, 1)[xp.clip(ids, 0, n - 1)]
    out = segment_sum(M.multiply(x, Tensor(share.astype(x.dtype))), ids, n)
    empty = Tensor(count == 0)
    fill = -xp.inf if kind == "max" else xp.inf
    return M.where(empty, Tensor(xp.asarray(fill, x.dtype)), out) \
        if x.dtype.kind == "f" else out


def segment_max(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> Tensor:  # noqa: A002
    """Maximum of the rows of ``data`` per segment (empty segments: ``-inf``)."""
    return _segment_extreme(data, segment_ids, num_segments, "max")


def segment_min(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> Tensor:  # noqa: A002
    """Minimum of the rows of ``data`` per segment (empty segments: ``inf``)."""
    return _segment_extreme(data, segment_ids, num_segments, "min")


def segment_prod(data: Any, segment_ids: Any, num_segments: int | None = None,
                 sorted: bool = False) -> Tensor:  # noqa: A002
    """Product of the rows of ``data`` per segment (empty segments: 1; no gradient).

    Computed with scatter-adds only (CuPy has no ``multiply.at``): the magnitude as the
    exponential of summed logarithms, the sign from the count of negative entries, and
    zero where a segment holds a zero.
    """
    x, ids, n = _segments(data, segment_ids, num_segments)
    xp = xp_of(x)
    d = x.data
    ok = (ids >= 0) & (ids < n)
    acc = xp.zeros((3, n) + d.shape[1:], "float64")
    with xp.errstate(divide="ignore") if hasattr(xp, "errstate") else _nullcontext():
        logs = xp.log(xp.abs(d[ok]).astype("float64"))
    zero = d[ok] == 0
    xp.add.at(acc[0], ids[ok], xp.where(zero, 0.0, logs))
    xp.add.at(acc[1], ids[ok], (d[ok] < 0).astype("float64"))
    xp.add.at(acc[2], ids[ok], zero.astype("float64"))
    mag = xp.exp(acc[0]) * (1 - 2 * (acc[1] % 2))
    out = xp.where(acc[2] > 0, 0.0, mag)
    return Tensor(out.astype(d.dtype) if d.dtype.kind == "f" else xp.rint(out).astype(d.dtype))


def _nullcontext():
    import contextlib

    return contextlib.nullcontext()


def in_top_k(targets: Any, predictions: Any, k: int) -> Tensor:
    """Whether each target class is among the ``k`` highest predictions of its row (ties
    count as in, as in Keras)."""
    p = raw(as_tensor(predictions))
    xp = xp_of(p)
    t = raw(as_tensor(targets, p)).astype("int64")
    score = xp.take_along_axis(p, t[:, None], axis=1)
    return Tensor((p > score).sum(axis=1) < k)
