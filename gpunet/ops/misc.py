"""The rest of the NumPy-style ``keras.ops``: ``where``/``select``, joins (``append``,
``hstack``, ...), ``pad`` with modes, ``meshgrid``, counting and searching (``unique``,
``bincount``, ``searchsorted``, ``histogram``), ``nan_to_num``, complex and FFT helpers.
"""

from __future__ import annotations

import builtins
from typing import Any

from gpunet.autograd.tensor import Tensor
from gpunet.ops import math as M
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops._wrap import arr, raw, symbolic, wrap, xp_for
from gpunet.ops.gather import broadcast_to, gather_apply
from gpunet.ops.shape_ops import concatenate, expand_dims, reshape


@symbolic("where")
def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """``x1`` where ``condition`` holds, else ``x2``; with ``condition`` alone, the indices
    of its non-zero elements (``nonzero``)."""
    if x1 is None and x2 is None:
        return nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError("where: pass both `x1` and `x2`, or neither.")
    return M.where(condition, x1, x2)


def nonzero(x: Any) -> tuple:
    """Indices of the non-zero elements, one int Tensor per axis."""
    return tuple(Tensor(i.astype("int32")) for i in xp_for(x).nonzero(arr(x)))


def select(condlist: list, choicelist: list, default: Any = 0) -> Tensor:
    """The choice of the first true condition per element, else ``default``."""
    out = as_tensor(default, raw(choicelist[0]) if hasattr(raw(choicelist[0]), "shape")
                    else None)
    for c, v in zip(reversed(condlist), reversed(choicelist)):
        out = M.where(c, v, out)
    return out


def append(x1: Any, x2: Any, axis: int | None = None) -> Tensor:
    """``x2`` appended to ``x1`` along ``axis`` (both flattened when None)."""
    a, b = as_tensor(x1), as_tensor(x2)
    if axis is None:
        return concatenate([reshape(a, (-1,)), reshape(b, (-1,))], 0)
    return concatenate([a, b], axis)


def _atleast(x: Any, n: int) -> Tensor:
    x = as_tensor(x)
    if x.ndim >= n:
        return x
    if x.ndim <= 1:
        return reshape(x, {2: (1, -1), 3: (1, -1, 1)}[n])
    return reshape(x, tuple(x.shape) + (1,))


def hstack(xs: list) -> Tensor:
    """Joins along axis 1 (axis 0 for 1-D tensors)."""
    ts = [as_tensor(x) for x in xs]
    return concatenate(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(xs: list) -> Tensor:
    """Joins along axis 0 (1-D tensors become rows)."""
    return concatenate([_atleast(x, 2) for x in xs], 0)


def dstack(xs: list) -> Tensor:
    """Joins along axis 2."""
    return concatenate([_atleast(x, 3) for x in xs], 2)


@symbolic("pad")
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> Tensor:
    """Pads ``x``: ``pad_width`` an int, a pair, or one ``(before, after)`` pair per axis;
    ``mode`` ``"constant"``, ``"reflect"``, ``"symmetric"``, ``"edge"``, ``"wrap"``."""
    x = as_tensor(x)
    pw = raw(pad_width)
    if isinstance(pw, int):
        pw = [(pw, pw)] * x.ndim
    elif len(pw) == 2 and all(isinstance(p, int) for p in pw):
        pw = [tuple(pw)] * x.ndim
    pw = [(int(a), int(b)) for a, b in pw]
    if mode == "constant":
        from gpunet.ops.pool import pad as _pad

        return _pad(x, pw, 0.0 if constant_values is None else constant_values)
    if constant_values is not None:
        raise ValueError(f"pad: `constant_values` can only be set with mode='constant'. "
                         f"Received: mode={mode!r}")
    return gather_apply(x, lambda xp, a, fill: xp.pad(a, pw, mode=mode))


def meshgrid(*x: Any, indexing: str = "xy") -> list:
    """Coordinate matrices from coordinate vectors (``indexing`` ``"xy"`` or ``"ij"``)."""
    ts = [reshape(as_tensor(v), (-1,)) for v in x]
    n = len(ts)
    sizes = [t.shape[0] for t in ts]
    if indexing == "xy" and n >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(ts):
        shape = [1] * n
        pos = i if not (indexing == "xy" and i < 2 and n >= 2) else 1 - i
        shape[pos] = t.shape[0]
        out.append(broadcast_to(reshape(t, shape), sizes))
    return out


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replaces NaN and infinities (by default with the dtype's extremes)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return x
    xp = xp_of(x)
    d = x.data
    fi = xp.finfo(x.dtype)
    y = M.where(Tensor(xp.isnan(d)), float(nan), x)
    y = M.where(Tensor(xp.isposinf(d)), float(fi.max if posinf is None else posinf), y)
    return M.where(Tensor(xp.isneginf(d)), float(fi.min if neginf is None else neginf), y)


def unique(x: Any, sorted: bool = True, return_index: bool = False,  # noqa: A002
           return_inverse: bool = False, return_counts: bool = False, axis: int | None = None,
           size: int | None = None, fill_value: Any = None) -> Any:
    """The sorted unique values (and, on request, indices, inverse and counts)."""
    xp = xp_for(x)
    out = xp.unique(arr(x), return_index=return_index, return_inverse=return_inverse,
                    return_counts=return_counts, axis=axis)
    out = list(out) if isinstance(out, tuple) else [out]
    if size is not None:
        vals = out[0]
        padded = xp.empty((size,) + vals.shape[1:], vals.dtype)
        padded[...] = vals.min() if fill_value is None and vals.size else (fill_value or 0)
        padded[: builtins.min(size, len(vals))] = vals[:size]
        out[0] = padded
    out = [wrap(o) for o in out]
    return out[0] if len(out) == 1 else tuple(out)


def bincount(x: Any, weights: Any = None, minlength: int = 0, sparse: bool = False) -> Tensor:
    """Counts of each non-negative int (weighted sums with ``weights``); a 2-D ``x`` counts
    per row."""
    xp = xp_for(x)
    a = arr(x)
    w = None if weights is None else arr(weights, xp)
    if a.ndim == 1:
        return Tensor(xp.bincount(a, w, minlength))
    n = builtins.max(int(a.max()) + 1 if a.size else 0, minlength)
    rows = [xp.bincount(r, None if w is None else w[i], n) for i, r in enumerate(a)]
    return Tensor(xp.stack(rows))


def searchsorted(sorted_sequence: Any, values: Any, side: str = "left") -> Tensor:
    """Insertion indices keeping ``sorted_sequence`` sorted (int32)."""
    xp = xp_for(sorted_sequence, values)
    return Tensor(xp.searchsorted(arr(sorted_sequence, xp), arr(values, xp),
                                  side=side).astype("int32"))


def digitize(x: Any, bins: Any) -> Tensor:
    """Index of the bin of each value (int32)."""
    xp = xp_for(x, bins)
    return Tensor(xp.digitize(arr(x, xp), arr(bins, xp)).astype("int32"))


def histogram(x: Any, bins: int = 10, range: Any = None) -> tuple:  # noqa: A002
    """``(counts, bin_edges)`` of the values of ``x``."""
    xp = xp_for(x)
    c, e = xp.histogram(arr(x), bins=bins, range=range)
    return Tensor(c), Tensor(e)


def unravel_index(indices: Any, shape: Any) -> tuple:
    """Flat indices to coordinate Tensors, one per axis of ``shape``."""
    xp = xp_for(indices)
    return tuple(Tensor(i) for i in xp.unravel_index(arr(indices), tuple(shape)))


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803
    """The Vandermonde matrix of the vector ``x`` (differentiable)."""
    x = as_tensor(x)
    n = x.shape[0] if N is None else N
    p = xp_of(x).arange(n, dtype=x.dtype)
    if not increasing:
        p = p[::-1].copy()
    return M.power(expand_dims(x, 1), Tensor(p))


def correlate(x1: Any, x2: Any, mode: str = "valid") -> Tensor:
    """Cross-correlation of two 1-D tensors (``numpy.correlate``; differentiable)."""
    from gpunet.ops.pool import pad as _pad

    a, v = as_tensor(x1), as_tensor(x2)
    n, m = a.shape[0], v.shape[0]
    if n < m:
        raise ValueError("correlate: gpunet needs len(x1) >= len(x2).")
    if mode == "full":
        a = _pad(a, [(m - 1, m - 1)])
    elif mode == "same":
        a = _pad(a, [((m - 1) // 2, m - 1 - (m - 1) // 2)])
    elif mode != "valid":
        raise ValueError(f"correlate: unknown mode {mode!r}.")
    k = a.shape[0] - m + 1
    idx = xp_of(a).arange(k)[:, None] + xp_of(a).arange(m)[None, :]
    from gpunet.ops.gather import take

    return M.sum(M.multiply(take(a, Tensor(idx)), v), -1)


def corrcoef(x: Any) -> Tensor:
    """Pearson correlation coefficients between the rows of ``x``."""
    x = as_tensor(x)
    d = M.subtract(x, M.mean(x, -1, True))
    c = M.matmul(d, _t(d))
    s = M.sqrt(M.sum(M.square(d), -1))
    return M.divide(c, M.multiply(expand_dims(s, 1), expand_dims(s, 0)))


def _t(x: Tensor) -> Tensor:
    from gpunet.ops.shape_ops import transpose

    return transpose(x)


def extract_sequences(x: Any, sequence_length: int, sequence_stride: int) -> Tensor:
    """Frames of ``sequence_length`` every ``sequence_stride`` along the last axis."""
    from gpunet.ops.gather import take

    x = as_tensor(x)
    n = (x.shape[-1] - sequence_length) // sequence_stride + 1
    xp = xp_of(x)
    idx = xp.arange(n)[:, None] * sequence_stride + xp.arange(sequence_length)[None, :]
    return take(x, Tensor(idx), axis=-1)


def get_item(x: Any, key: Any) -> Tensor:
    """``x[key]`` (differentiable)."""
    from gpunet.ops.shape_ops import getitem

    return getitem(x, key)


# -- complex numbers and FFT (no gradient; Keras passes (real, imag) pairs) -------------------
def real(x: Any) -> Tensor:
    """Real part."""
    return wrap(xp_for(x).real(arr(x)).copy())


def imag(x: Any) -> Tensor:
    """Imaginary part."""
    return wrap(xp_for(x).imag(arr(x)).copy())


def conj(x: Any) -> Tensor:
    """Complex conjugate."""
    return wrap(xp_for(x).conj(arr(x)))


conjugate = conj


def angle(x: Any) -> Tensor:
    """Argument of complex values."""
    return wrap(xp_for(x).angle(arr(x)))


def polar(abs_: Any, angle: Any) -> Tensor:
    """The complex number with modulus ``abs_`` and argument ``angle``."""
    xp = xp_for(abs_, angle)
    return wrap(arr(abs_, xp) * xp.exp(1j * arr(angle, xp)))


def view_as_complex(x: Any) -> Tensor:
    """A ``(..., 2)`` real tensor as complex values."""
    a = arr(x)
    return wrap(a[..., 0] + 1j * a[..., 1])


def view_as_real(x: Any) -> Tensor:
    """Complex values as a ``(..., 2)`` real tensor."""
    xp = xp_for(x)
    a = arr(x)
    return wrap(xp.stack([a.real, a.imag], -1))


def _pair(x: Any):
    re, im = x
    xp = xp_for(re, im)
    return xp, arr(re, xp) + 1j * arr(im, xp)


def _split(xp, c, dtype):
    return Tensor(c.real.astype(dtype)), Tensor(c.imag.astype(dtype))


def fft(x: tuple) -> tuple:
    """FFT over the last axis of ``(real, imag)``; returns ``(real, imag)``."""
    xp, c = _pair(x)
    return _split(xp, xp.fft.fft(c), arr(x[0], xp).dtype)


def fft2(x: tuple) -> tuple:
    """2-D FFT over the last two axes of ``(real, imag)``."""
    xp, c = _pair(x)
    return _split(xp, xp.fft.fft2(c), arr(x[0], xp).dtype)


def ifft2(x: tuple) -> tuple:
    """Inverse 2-D FFT over the last two axes of ``(real, imag)``."""
    xp, c = _pair(x)
    return _split(xp, xp.fft.ifft2(c), arr(x[0], xp).dtype)


def rfft(x: Any, fft_length: int | None = None) -> tuple:
    """Real FFT over the last axis; returns ``(real, imag)``."""
    xp = xp_for(x)
    a = arr(x)
    return _split(xp, xp.fft.rfft(a, n=fft_length), a.dtype)


def irfft(x: tuple, fft_length: int | None = None) -> Tensor:
    """Inverse real FFT of ``(real, imag)`` over the last axis."""
    xp, c = _pair(x)
    return Tensor(xp.fft.irfft(c, n=fft_length).astype(arr(x[0], xp).dtype))


def view(x: Any, dtype: Any = None) -> Tensor:
    """The same bytes seen as ``dtype`` (no gradient)."""
    return wrap(arr(x).view(dtype) if dtype is not None else arr(x))


def isreal(x: Any) -> Tensor:
    """Whether each element has a zero imaginary part."""
    return wrap(xp_for(x).isreal(arr(x)))


def i0(x: Any) -> Tensor:
    """Modified Bessel function of the first kind, order 0 (no gradient)."""
    return wrap(xp_for(x).i0(arr(x)))

