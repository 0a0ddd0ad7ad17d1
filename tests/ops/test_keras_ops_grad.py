"""Float64 finite-difference gradient checks of the ``keras.ops``-style ops, by family.

Each case is ``name -> (fn, inputs)``: ``fn`` takes Tensors, ``inputs`` are float64 arrays
chosen away from kinks. Every differentiable public op added for the Keras 3 namespace is
listed here (``tests/ops/test_coverage.py`` checks the list is complete).
"""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.ops.elementwise import BINARY, UNARY

R = np.random.default_rng(7)
X23 = R.uniform(-1.5, 1.5, (2, 3))
X34 = R.uniform(-1.5, 1.5, (3, 4))
POS = R.uniform(0.5, 2.0, (2, 3))
UNIT = R.uniform(-0.8, 0.8, (2, 3))
SAFE = np.array([[-1.7, -0.6, -0.3], [0.4, 0.8, 1.5]])  # away from the kinks at 0 and +-1
SPD = (lambda a: a @ a.T + 3 * np.eye(3))(R.standard_normal((3, 3)))

UNARY_DOMAIN = {"arcsin": UNIT, "arccos": UNIT, "arctanh": UNIT, "erfinv": UNIT,
                "arccosh": POS + 1.0, "log2": POS, "log10": POS, "rsqrt": POS, "cbrt": POS,
                "reciprocal": POS}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_table_gradients(backend, name):
    check_grad(getattr(ops, name), [UNARY_DOMAIN.get(name, SAFE)], backend=backend)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_table_gradients(backend, name):
    a = np.array([[1.3, 0.7, 1.9], [1.1, 1.7, 0.65]])
    b = np.array([0.9, 1.6, 0.55])
    wrt = [0] if name == "ldexp" else None
    check_grad(getattr(ops, name), [a, b], backend=backend, wrt=wrt)


def _t(a):
    return np.asarray(a)


IDX = np.array([[2, 0, 1], [1, 1, 0]])
CASES = {
    # index rearrangements (one generic gather)
    "tile": (lambda x: ops.tile(x, (2, 1)), [X23]),
    "repeat": (lambda x: ops.repeat(x, 2, axis=1), [X23]),
    "roll": (lambda x: ops.roll(x, 1, axis=1), [X23]),
    "flip": (lambda x: ops.flip(x, 0), [X23]),
    "fliplr": (ops.fliplr, [X23]),
    "flipud": (ops.flipud, [X23]),
    "rot90": (ops.rot90, [X23]),
    "take": (lambda x: ops.take(x, np.array([0, 2, 2]), axis=1), [X23]),
    "take_along_axis": (lambda x: ops.take_along_axis(x, IDX, axis=1), [X23]),
    "diagonal": (ops.diagonal, [X34]),
    "diag": (lambda x: ops.diag(ops.reshape(x, (-1,)), 1), [X23]),
    "diagflat": (ops.diagflat, [X23]),
    "tril": (ops.tril, [X34]),
    "triu": (lambda x: ops.triu(x, 1), [X34]),
    "broadcast_to": (lambda x: ops.broadcast_to(x, (4, 2, 3)), [X23]),
    "moveaxis": (lambda x: ops.moveaxis(x, 0, -1), [X23]),
    "swapaxes": (lambda x: ops.swapaxes(x, 0, 1), [X23]),
    "ravel": (ops.ravel, [X23]),
    "split": (lambda x: ops.split(x, 2, axis=1)[1], [X34]),
    "array_split": (lambda x: ops.array_split(x, 3, axis=1)[0], [X34]),
    "hsplit": (lambda x: ops.hsplit(x, [1])[1], [X34]),
    "vsplit": (lambda x: ops.vsplit(x, 3)[2], [X34]),
    "dsplit": (lambda x: ops.dsplit(ops.reshape(x, (2, 2, 3)), 3)[1], [X34]),
    "unstack": (lambda x: ops.unstack(x, axis=1)[2], [X23]),
    "sort": (lambda x: ops.sort(x, axis=1), [X23]),
    "top_k": (lambda x: ops.top_k(x, 2)[0], [X34]),
    "get_item": (lambda x: ops.get_item(x, (slice(None), [0, 2])), [X23]),
    # reductions and scans
    "prod": (lambda x: ops.prod(x, axis=1), [np.array([[1.5, 0.0, 2.0], [0.5, -1.2, 0.8]])]),
    "cumsum": (lambda x: ops.cumsum(x, axis=1), [X23]),
    "cumprod": (lambda x: ops.cumprod(x, axis=0), [POS]),
    "var": (lambda x: ops.var(x, axis=0), [X23]),
    "std": (lambda x: ops.std(x, axis=1, keepdims=True), [X23]),
    "logsumexp": (lambda x: ops.logsumexp(x, axis=1), [X23]),
    "quantile": (lambda x: ops.quantile(x, np.array([0.3, 0.8]), axis=1), [X34]),
    "percentile": (lambda x: ops.percentile(x, 40.0), [X34]),
    "median": (lambda x: ops.median(x, axis=0), [X34]),
    "average": (lambda x: ops.average(x, axis=1, weights=np.array([1.0, 2.0, 0.5])), [X23]),
    "ptp": (lambda x: ops.ptp(x, axis=1), [X23]),
    "amax": (lambda x: ops.amax(x, axis=0), [X23]),
    "amin": (lambda x: ops.amin(x, axis=1), [X23]),
    "nansum": (ops.nansum, [X23]),
    "nanmean": (lambda x: ops.nanmean(x, 1), [X23]),
    "nanvar": (lambda x: ops.nanvar(x, 1), [X23]),
    "nanstd": (lambda x: ops.nanstd(x, 0), [X23]),
    "nanmax": (lambda x: ops.nanmax(x, 1), [X23]),
    "nanmin": (lambda x: ops.nanmin(x, 1), [X23]),
    "nanprod": (lambda x: ops.nanprod(x, 1), [X23]),
    "nancumsum": (lambda x: ops.nancumsum(x, 1), [X23]),
    "nancumprod": (lambda x: ops.nancumprod(x, 1), [POS]),
    "diff": (lambda x: ops.diff(x, 2, axis=1), [X34]),
    "trace": (ops.trace, [X34]),
    "trapezoid": (lambda y: ops.trapezoid(y, dx=0.5), [X34]),
    # products
    "einsum": (lambda a, b: ops.einsum("...ij,jk->...ki", a, b), [R.random((2, 2, 3)), X34]),
    "tensordot": (lambda a, b: ops.tensordot(a, b, 1), [X23, X34]),
    "dot": (ops.dot, [R.random((2, 2, 3)), X34]),
    "outer": (ops.outer, [X23, R.random(4)]),
    "inner": (ops.inner, [X23, R.random((4, 3))]),
    "vdot": (ops.vdot, [X23, POS]),
    "kron": (ops.kron, [X23, R.random((2, 2))]),
    "cross": (ops.cross, [R.random((2, 3)), R.random((2, 3))]),
    "cdist": (ops.cdist, [R.random((2, 3)), R.random((4, 3))]),
    # linear algebra
    "inv": (ops.inv, [SPD]),
    "det": (ops.det, [SPD]),
    "logdet": (ops.logdet, [SPD]),
    "slogdet": (lambda a: ops.slogdet(a)[1], [SPD]),
    "solve": (ops.solve, [SPD, X34]),
    "solve_triangular": (lambda a, b: ops.solve_triangular(a, b, lower=True), [SPD, X34]),
    "cholesky": (lambda a: ops.cholesky(ops.matmul(a, ops.transpose(a)) + 3.0 * np.eye(3)),
                 [R.standard_normal((3, 3))]),
    "cholesky_inverse": (ops.cholesky_inverse, [np.linalg.cholesky(SPD)]),
    "norm": (lambda x: ops.norm(x, 3, axis=1) + ops.norm(x, "fro", axis=(0, 1))
             + ops.norm(x, 1, axis=(0, 1)), [X34]),
    # nn
    "binary_crossentropy": (lambda t, p: ops.binary_crossentropy(t, ops.sigmoid(p))
                            + ops.binary_crossentropy(t, p, from_logits=True),
                            [R.random((2, 3)), X23]),
    "categorical_crossentropy": (lambda t, p: ops.categorical_crossentropy(t, ops.softmax(p))
                                 + ops.categorical_crossentropy(t, p, from_logits=True),
                                 [np.eye(3)[[0, 2]], X23]),
    "sparse_categorical_crossentropy": (
        lambda p: ops.sparse_categorical_crossentropy(np.array([2, 0]), p, from_logits=True),
        [X23]),
    "moments": (lambda x: ops.moments(x, [0])[0] + ops.moments(x, [0])[1], [X23]),
    "normalize": (ops.normalize, [X23]),
    "batch_normalization": (lambda x, m, v, o, s: ops.batch_normalization(x, m, v, -1, o, s),
                            [X23, R.random(3), POS[0], R.random(3), R.random(3)]),
    "layer_normalization": (lambda x, g, b: ops.layer_normalization(x, g, b), [X23, POS[0],
                                                                             X23[0]]),
    "rms_normalization": (lambda x, s: ops.rms_normalization(x, s), [X23, POS[0]]),
    "conv": (lambda x, k: ops.conv(x, k, padding="same"), [R.random((1, 4, 4, 2)),
                                                          R.random((3, 3, 2, 2))]),
    "depthwise_conv": (lambda x, k: ops.depthwise_conv(x, k, 2), [R.random((1, 5, 5, 2)),
                                                                   R.random((3, 3, 2, 1))]),
    "separable_conv": (lambda x, d, p: ops.separable_conv(x, d, p),
                       [R.random((1, 4, 4, 2)), R.random((2, 2, 2, 1)), R.random((1, 1, 2, 3))]),
    "conv_transpose": (lambda x, k: ops.conv_transpose(x, k, 2), [R.random((1, 3, 3, 2)),
                                                                   R.random((2, 2, 3, 2))]),
    "max_pool": (lambda x: ops.max_pool(x, 2), [R.permutation(32).reshape(1, 4, 4, 2) / 7.0]),
    "average_pool": (lambda x: ops.average_pool(x, 2, padding="same"),
                     [R.random((1, 3, 3, 2))]),
    "adaptive_average_pool": (lambda x: ops.adaptive_average_pool(x, (3, 2)),
                              [R.random((1, 7, 5, 2))]),
    "adaptive_max_pool": (lambda x: ops.adaptive_max_pool(x, 3),
                          [R.permutation(14).reshape(1, 7, 2) / 5.0]),
    "ctc_loss": (lambda z: ops.ctc_loss(np.array([[1, 2, 7], [2, 2, 1]]), z, np.array([2, 3]),
                                        np.array([5, 4]), mask_index=3),
                 [R.standard_normal((2, 6, 4))]),
    "rearrange": (lambda x: ops.rearrange(x, "(h p) w -> w (p h)", p=2), [X34[:2]]),
    "stft": (lambda x: ops.stft(x, 6, 2, 8)[0] + 0.5 * ops.stft(x, 6, 2, 8)[1],
             [R.standard_normal((1, 20))]),
    "istft": (lambda r, i: ops.istft((r, i), 6, 2, 8), [R.standard_normal((1, 7, 5)),
                                                       R.standard_normal((1, 7, 5))]),
    "unfold": (lambda x: ops.unfold(x, 2, padding=1, stride=2), [R.random((1, 2, 3, 4))]),
    "fold": (lambda c: ops.fold(c, (3, 4), 2, padding=1, stride=1), [R.random((1, 8, 20))]),
    "dot_product_attention": (lambda q, k, v: ops.dot_product_attention(q, k, v,
                                                                        is_causal=True),
                              [R.random((1, 3, 2, 2)), R.random((1, 3, 1, 2)),
                               R.random((1, 3, 1, 2))]),
    "celu": (lambda x: ops.celu(x, 0.7), [SAFE]),
    "glu": (ops.glu, [X34]),
    "hard_shrink": (ops.hard_shrink, [SAFE]),
    "soft_shrink": (ops.soft_shrink, [SAFE]),
    "squareplus": (ops.squareplus, [X23]),
    "threshold": (lambda x: ops.threshold(x, 0.1, -2.0), [SAFE]),
    "sparsemax": (ops.sparsemax, [np.array([[0.1, 0.9, 0.35], [1.5, 0.2, -0.4]])]),
    "psnr": (lambda a, b: ops.psnr(a, b, 1.0), [R.random((2, 3)), R.random((2, 3))]),
    "depth_to_space": (lambda x: ops.depth_to_space(x, 2), [R.random((1, 2, 2, 4))]),
    "space_to_depth": (lambda x: ops.space_to_depth(x, 2), [R.random((1, 4, 2, 1))]),
    # control flow and updates
    "slice": (lambda x: ops.slice(x, (0, 1), (2, 2)), [X34]),
    "slice_update": (lambda x, u: ops.slice_update(x, (1, 1), u), [X34, R.random((2, 2))]),
    "scatter": (lambda v: ops.scatter(np.array([[0, 1], [2, 2], [0, 1]]), v, (3, 3)),
                [R.random(3)]),
    "scatter_update": (lambda x, u: ops.scatter_update(x, np.array([[0], [2]]), u),
                       [X34, R.random((2, 4))]),
    "scatter_update_add": (lambda x, u: ops.scatter_update(x, np.array([[0], [2], [0]]), u,
                                                           reduction="add"),
                           [X34, R.random((3, 4))]),
    "segment_sum": (lambda x: ops.segment_sum(x, np.array([0, 2, 0]), 3), [X34]),
    "segment_max": (lambda x: ops.segment_max(x, np.array([1, 1, 0]), 2), [X34]),
    "segment_min": (lambda x: ops.segment_min(x, np.array([1, 1, 0]), 2), [X34]),
    "scan": (lambda x: ops.scan(lambda c, r: (c * r + 1.0, c), ops.ones((4,), "float64"),
                                x)[0], [X34]),
    "map": (lambda x: ops.map(lambda r: ops.sum(r * r), x), [X34]),
    "vectorized_map": (lambda x: ops.vectorized_map(lambda r: r[::-1] * 2.0, x), [X34]),
    "fori_loop": (lambda x: ops.fori_loop(0, 3, lambda i, v: v * x + 1.0, x), [X23]),
    "while_loop": (lambda x: ops.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, v * x),
                                            (0, x))[1], [X23]),
    "associative_scan": (lambda x: ops.associative_scan(ops.multiply, x, axis=1), [X23]),
    "cond": (lambda x: ops.cond(True, lambda: ops.sin(x), lambda: x), [X23]),
    "switch": (lambda x: ops.switch(1, [ops.exp, ops.square], x), [X23]),
    "custom_gradient": (None, [X23]),  # own test below
    "copy": (ops.copy, [X23]),
    "saturate_cast": (lambda x: ops.saturate_cast(x, "float64"), [X23]),
    # numpy-style helpers built on differentiable ops
    "where": (lambda a, b: ops.where(a > 0, a, b), [X23, POS]),
    "select": (lambda a, b: ops.select([a > 0.5, a < -0.5], [a, b], 0.0), [X23, POS]),
    "append": (lambda a, b: ops.append(a, b, axis=0), [X23, POS]),
    "hstack": (lambda a, b: ops.hstack([a, b]), [X23, POS]),
    "vstack": (lambda a, b: ops.vstack([a, b]), [X23, POS]),
    "dstack": (lambda a, b: ops.dstack([a, b]), [X23, POS]),
    "pad": (lambda x: ops.pad(x, ((1, 0), (2, 1)), mode="reflect") + 0.0, [X34]),
    "meshgrid": (lambda a, b: ops.meshgrid(a, b)[0] * ops.meshgrid(a, b)[1],
                 [R.random(3), R.random(2)]),
    "nan_to_num": (ops.nan_to_num, [X23]),
    "vander": (lambda x: ops.vander(x, 3), [R.random(3)]),
    "correlate": (lambda a, v: ops.correlate(a, v, "full"), [R.random(5), R.random(3)]),
    "corrcoef": (ops.corrcoef, [X34]),
    "extract_sequences": (lambda x: ops.extract_sequences(x, 2, 1), [X34]),
}


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c[0] is not None))
def test_family_gradients(backend, name):
    fn, inputs = CASES[name]
    check_grad(fn, inputs, backend=backend)


def test_custom_gradient_uses_the_given_gradient(backend):
    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

        return ops.log1p(e), grad

    check_grad(log1pexp, [X23], backend=backend)
    x = Tensor(backend.asarray(np.array([100.0])), requires_grad=True)
    log1pexp(x).backward()  # the naive gradient would be inf/inf = nan
    np.testing.assert_allclose(backend.to_numpy(x.grad), [1.0])


def test_stop_gradient_blocks_the_gradient(backend):
    x = Tensor(backend.asarray(X23), requires_grad=True)
    ops.sum(ops.stop_gradient(x) * x).backward()
    np.testing.assert_allclose(backend.to_numpy(x.grad), X23)


def test_no_gradient_ops_return_constant_tensors(backend):
    x = Tensor(backend.asarray(X23), requires_grad=True)
    for out in (ops.argmax(x, 1), ops.argsort(x), ops.greater(x, 0), ops.floor(x),
                ops.isnan(x), ops.top_k(x, 2)[1], ops.round(x)):
        assert isinstance(out, Tensor) and not out.requires_grad
