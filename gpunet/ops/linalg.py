"""``keras.ops.linalg``: ``det``, ``inv``, ``solve``, ``cholesky``, ``slogdet`` are
differentiable ``Function`` s; the factorisations (``qr``, ``svd``, ``eigh``, ``eig``,
``lu_factor``), ``lstsq``, ``pinv`` and ``matrix_rank`` return values without a gradient.
All run on the backend's ``linalg`` (``numpy.linalg`` or ``cupy.linalg``), batched over the
leading axes.
"""

from __future__ import annotations

from typing import Any

from gpunet.autograd.function import Function
from gpunet.autograd.tensor import Tensor
from gpunet.ops import math as M
from gpunet.ops._utils import as_tensor, xp_of
from gpunet.ops._wrap import wrap


def _mT(a):  # noqa: N802
    return a.swapaxes(-1, -2)


class Inv(Function):
    def forward(self, a):
        self.y = xp_of(a).linalg.inv(a)
        return self.y

    def backward(self, gy):
        yt = _mT(self.y)
        return -(yt @ gy @ yt)


class Det(Function):
    def forward(self, a):
        xp = xp_of(a)
        self.a, self.y = a, xp.linalg.det(a)
        return self.y

    def backward(self, gy):
        xp = xp_of(gy)
        return (gy * self.y)[..., None, None] * _mT(xp.linalg.inv(self.a))


class Slogdet(Function):
    def forward(self, a):
        xp = xp_of(a)
        self.a = a
        self.sign, ld = xp.linalg.slogdet(a)
        return ld

    def backward(self, gy):
        return gy[..., None, None] * _mT(xp_of(gy).linalg.inv(self.a))


class Solve(Function):
    def forward(self, a, b):
        xp = xp_of(a)
        self.vec = b.ndim == a.ndim - 1
        bb = b[..., None] if self.vec else b
        self.a, self.x = a, xp.linalg.solve(a, bb)
        return self.x[..., 0] if self.vec else self.x

    def backward(self, gy):
        xp = xp_of(gy)
        g = gy[..., None] if self.vec else gy
        gb = xp.linalg.solve(_mT(self.a), g)
        ga = -(gb @ _mT(self.x))
        na, nb = self.needs_input_grad
        return (ga if na else None), ((gb[..., 0] if self.vec else gb) if nb else None)


class Cholesky(Function):
    """Lower Cholesky factor; the gradient is the symmetric one (Murray 2016)."""

    def forward(self, a):
        self.L = xp_of(a).linalg.cholesky(a)
        return self.L

    def backward(self, gy):
        xp = xp_of(gy)
        L = self.L
        n = L.shape[-1]
        eye = xp.eye(n, dtype=L.dtype)

        def phi(m):
            return xp.tril(m) - 0.5 * m * eye

        p = phi(_mT(L) @ gy)
        linv = xp.linalg.inv(L)
        s = _mT(linv) @ p @ linv
        return 0.5 * (s + _mT(s))


def inv(x: Any) -> Tensor:
    """Inverse of the square matrices in the last two axes."""
    return Inv()(as_tensor(x))


def det(x: Any) -> Tensor:
    """Determinant of the square matrices in the last two axes."""
    return Det()(as_tensor(x))


def slogdet(x: Any) -> tuple:
    """``(sign, log|det|)``; the log-determinant carries the gradient."""
    fn = Slogdet()
    ld = fn(as_tensor(x))
    return Tensor(xp_of(ld).sign(det(Tensor(as_tensor(x).data)).data)), ld


def logdet(x: Any) -> Tensor:
    """Log-determinant of (Hermitian positive-definite) matrices."""
    return slogdet(x)[1]


def solve(a: Any, b: Any) -> Tensor:
    """Solves ``a @ x = b`` for ``x``."""
    a = as_tensor(a)
    return Solve()(a, as_tensor(b, a.data))


def solve_triangular(a: Any, b: Any, lower: bool = False) -> Tensor:
    """Solves ``a @ x = b`` reading only the lower (or upper) triangle of ``a``."""
    from gpunet.ops.gather import tril, triu

    return solve(tril(a) if lower else triu(a), b)


def cholesky(x: Any, upper: bool = False) -> Tensor:
    """Cholesky factor of symmetric positive-definite matrices (lower unless ``upper``)."""
    from gpunet.ops.gather import swapaxes

    L = Cholesky()(as_tensor(x))
    return swapaxes(L, -1, -2) if upper else L


def cholesky_inverse(x: Any, upper: bool = False) -> Tensor:
    """The inverse of ``A`` from its Cholesky factor ``x`` (``A = L Lᵀ`` or ``Uᵀ U``)."""
    from gpunet.ops.gather import swapaxes

    x = as_tensor(x)
    xt = swapaxes(x, -1, -2)
    return inv(M.matmul(xt, x) if upper else M.matmul(x, xt))


def _nograd(fn):
    def op(x: Any, *args: Any, **kwargs: Any) -> Any:
        return wrap(fn(xp_of(as_tensor(x)), as_tensor(x).data, *args, **kwargs))

    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = fn.__doc__
    return op


@_nograd
def qr(xp, x, mode: str = "reduced"):
    """QR decomposition ``(q, r)`` (no gradient)."""
    return tuple(xp.linalg.qr(x, mode=mode))


@_nograd
def svd(xp, x, full_matrices: bool = True, compute_uv: bool = True):
    """Singular value decomposition ``(u, s, vh)``, or ``s`` (no gradient)."""
    out = xp.linalg.svd(x, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


@_nograd
def eigh(xp, x):
    """Eigenvalues and eigenvectors of symmetric matrices (no gradient)."""
    return tuple(xp.linalg.eigh(x))


@_nograd
def eig(xp, x):
    """Eigenvalues and eigenvectors of general matrices (NumPy backend; no gradient)."""
    return tuple(xp.linalg.eig(x))


@_nograd
def pinv(xp, x, rcond: float = 1e-15):
    """Moore-Penrose pseudo-inverse (no gradient)."""
    return xp.linalg.pinv(x, rcond)


@_nograd
def matrix_rank(xp, x, tol: Any = None):
    """Rank by SVD (no gradient)."""
    return xp.asarray(xp.linalg.matrix_rank(x, tol))


def lstsq(a: Any, b: Any, rcond: Any = None) -> Tensor:
    """Least-squares solution of ``a @ x = b`` (no gradient)."""
    a = as_tensor(a)
    xp = xp_of(a)
    return Tensor(xp.linalg.lstsq(a.data, as_tensor(b, a.data).data, rcond=rcond)[0])


@_nograd
def lu_factor(xp, x):
    """``(lu, pivots)`` as SciPy's ``lu_factor`` (partial pivoting, no gradient)."""
    n = x.shape[-1]
    a = x.reshape((-1, n, n)).copy()
    bi = xp.arange(a.shape[0])
    piv = xp.zeros(a.shape[:-1], "int32")
    for k in range(n):
        p = xp.argmax(xp.abs(a[:, k:, k]), axis=-1) + k
        piv[:, k] = p
        row_k, row_p = a[:, k, :].copy(), a[bi, p, :].copy()
        a[:, k, :] = row_p
        a[bi, p, :] = xp.where((p == k)[:, None], row_p, row_k)
        a[:, k + 1:, k] /= a[:, k:k + 1, k]
        a[:, k + 1:, k + 1:] -= a[:, k + 1:, k:k + 1] * a[:, k:k + 1, k + 1:]
    return a.reshape(x.shape), piv.reshape(x.shape[:-1])


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Vector or matrix norm as ``numpy.linalg.norm`` (differentiable except the
    nuclear and spectral matrix norms)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        x = M.cast(x, "float32")
    if axis is None:
        axis = tuple(range(x.ndim)) if ord is None or x.ndim == 1 else (-2, -1)
        if ord is None:
            return M.sqrt(M.sum(M.square(x), axis, keepdims))
    ax = (axis,) if isinstance(axis, int) else tuple(axis)
    a = M.abs(x)
    if len(ax) == 1:
        if ord is None or ord == 2:
            return M.sqrt(M.sum(M.square(x), ax, keepdims))
        if ord == float("inf"):
            return M.max(a, ax, keepdims)
        if ord == float("-inf"):
            return M.min(a, ax, keepdims)
        if ord == 0:
            return M.sum(M.cast(Tensor(x.data != 0), x.dtype), ax, keepdims)
        return M.power(M.sum(M.power(a, float(ord)), ax, keepdims), 1.0 / ord)
    r, c = (i % x.ndim for i in ax)
    if ord in (None, "fro"):
        return M.sqrt(M.sum(M.square(x), ax, keepdims))
    if ord in (1, -1):
        s = M.sum(a, r, True)
        return _squeeze((M.max if ord == 1 else M.min)(s, c, True), (r, c), keepdims)
    if ord in (float("inf"), float("-inf")):
        s = M.sum(a, c, True)
        return _squeeze((M.max if ord > 0 else M.min)(s, r, True), (r, c), keepdims)
    if ord in ("nuc", 2, -2):
        xp = xp_of(x)
        from gpunet.ops.gather import moveaxis

        m = moveaxis(x, (r, c), (-2, -1)).data
        s = xp.linalg.svd(m, compute_uv=False)
        v = s.sum(-1) if ord == "nuc" else s.max(-1) if ord == 2 else s.min(-1)
        if keepdims:
            v = xp.expand_dims(xp.expand_dims(v, min(r, c)), max(r, c))
        return Tensor(v)
    raise ValueError(f"norm: invalid `ord` {ord!r} for a matrix norm.")


def _squeeze(t: Tensor, axes: tuple, keepdims: bool) -> Tensor:
    if keepdims:
        return t
    from gpunet.ops.shape_ops import squeeze

    return squeeze(t, axes)


__all__ = ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "logdet", "lstsq",
           "lu_factor", "matrix_rank", "norm", "pinv", "qr", "slogdet", "solve",
           "solve_triangular", "svd"]
