"""Values of the ``keras.ops``-style ops against NumPy formulas on random inputs, and the
Keras 3 conventions (dtypes, out-of-range ids, empty segments) from hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpunet
from gpunet import ops
from gpunet.autograd import Tensor

R = np.random.default_rng(3)
A = R.uniform(-2, 2, (3, 4))
B = R.uniform(-2, 2, (3, 4))
P = R.uniform(0.2, 3, (3, 4))
U = R.uniform(-0.9, 0.9, (3, 4))
I = R.integers(0, 8, (3, 4))
SPD = (lambda m: m @ m.T + 4 * np.eye(4))(R.standard_normal((4, 4)))

# name -> (gpunet call, NumPy reference), both on the host arrays above
TABLE = {
    "expm1": (lambda: ops.expm1(A), lambda: np.expm1(A)),
    "exp2": (lambda: ops.exp2(A), lambda: 2.0 ** A),
    "log2": (lambda: ops.log2(P), lambda: np.log(P) / np.log(2)),
    "log10": (lambda: ops.log10(P), lambda: np.log(P) / np.log(10)),
    "rsqrt": (lambda: ops.rsqrt(P), lambda: 1 / np.sqrt(P)),
    "cbrt": (lambda: ops.cbrt(P), lambda: P ** (1 / 3)),
    "reciprocal": (lambda: ops.reciprocal(P), lambda: 1 / P),
    "tan": (lambda: ops.tan(U), lambda: np.sin(U) / np.cos(U)),
    "arcsinh": (lambda: ops.arcsinh(A), lambda: np.log(A + np.sqrt(A * A + 1))),
    "arccosh": (lambda: ops.arccosh(P + 1), lambda: np.log(P + 1 + np.sqrt((P + 1) ** 2 - 1))),
    "arctanh": (lambda: ops.arctanh(U), lambda: 0.5 * np.log((1 + U) / (1 - U))),
    "erf": (lambda: ops.erf(A), lambda: np.vectorize(math.erf)(A)),
    "erfc": (lambda: ops.erfc(A), lambda: np.vectorize(math.erfc)(A)),
    "erfinv": (lambda: ops.erf(ops.erfinv(U)), lambda: U),
    "sinc": (lambda: ops.sinc(A), lambda: np.sin(np.pi * A) / (np.pi * A)),
    "log_sigmoid": (lambda: ops.log_sigmoid(A), lambda: -np.log1p(np.exp(-A))),
    "hard_tanh": (lambda: ops.hard_tanh(A), lambda: np.clip(A, -1, 1)),
    "tanh_shrink": (lambda: ops.tanh_shrink(A), lambda: A - np.tanh(A)),
    "sparse_plus": (lambda: ops.sparse_plus(A),
                    lambda: np.where(A <= -1, 0, np.where(A >= 1, A, (A + 1) ** 2 / 4))),
    "celu": (lambda: ops.celu(A, 0.5), lambda: np.maximum(A, 0)
             + np.minimum(0, 0.5 * (np.exp(A / 0.5) - 1))),
    "squareplus": (lambda: ops.squareplus(A), lambda: (A + np.sqrt(A * A + 4)) / 2),
    "arctan2": (lambda: ops.arctan2(A, B), lambda: np.angle(B + 1j * A)),
    "hypot": (lambda: ops.hypot(A, B), lambda: np.sqrt(A * A + B * B)),
    "logaddexp": (lambda: ops.logaddexp(A, B), lambda: np.log(np.exp(A) + np.exp(B))),
    "mod": (lambda: ops.mod(A, P), lambda: A - np.floor(A / P) * P),
    "divide_no_nan": (lambda: ops.divide_no_nan(A, np.where(B > 0, B, 0)),
                      lambda: np.where(B > 0, A / np.where(B > 0, B, 1), 0)),
    "prod": (lambda: ops.prod(A, axis=0), lambda: A[0] * A[1] * A[2]),
    "var": (lambda: ops.var(A, axis=1), lambda: ((A - A.mean(1, keepdims=True)) ** 2).mean(1)),
    "std": (lambda: ops.std(A), lambda: np.sqrt(((A - A.mean()) ** 2).mean())),
    "logsumexp": (lambda: ops.logsumexp(A, axis=0), lambda: np.log(np.exp(A).sum(0))),
    "cumsum": (lambda: ops.cumsum(A, axis=1), lambda: np.add.accumulate(A, 1)),
    "cumprod": (lambda: ops.cumprod(A), lambda: np.multiply.accumulate(A.ravel())),
    "median": (lambda: ops.median(A, axis=1), lambda: np.sort(A, 1)[:, 1:3].mean(1)),
    "quantile": (lambda: ops.quantile(A, 0.25, axis=1),
                 lambda: np.sort(A, 1)[:, 0] * 0.25 + np.sort(A, 1)[:, 1] * 0.75),
    "einsum": (lambda: ops.einsum("ij,kj->ik", A, B), lambda: A @ B.T),
    "tensordot": (lambda: ops.tensordot(A, B, ([0, 1], [0, 1])), lambda: (A * B).sum()),
    "outer": (lambda: ops.outer(A[0], B[1]), lambda: A[0][:, None] * B[1][None, :]),
    "kron": (lambda: ops.kron(A[:2, :2], B[:2, :2]), lambda: np.block(
        [[A[0, 0] * B[:2, :2], A[0, 1] * B[:2, :2]], [A[1, 0] * B[:2, :2], A[1, 1] * B[:2, :2]]])),
    "cross": (lambda: ops.cross(A[:, :3], B[:, :3]), lambda: np.stack(
        [A[:, 1] * B[:, 2] - A[:, 2] * B[:, 1], A[:, 2] * B[:, 0] - A[:, 0] * B[:, 2],
         A[:, 0] * B[:, 1] - A[:, 1] * B[:, 0]], 1)),
    "inv": (lambda: ops.matmul(ops.inv(SPD), SPD), lambda: np.eye(4)),
    "det": (lambda: ops.det(np.diag([2.0, 3.0, 0.5])), lambda: np.array(3.0)),
    "solve": (lambda: ops.matmul(SPD, ops.solve(SPD, B.T)), lambda: B.T),
    "cholesky": (lambda: (lambda L: ops.matmul(L, ops.transpose(L)))(ops.cholesky(SPD)),
                 lambda: SPD),
    "norm": (lambda: ops.norm(A, axis=1), lambda: np.sqrt((A * A).sum(1))),
    "tril": (lambda: ops.tril(A, -1), lambda: A * (np.arange(4)[None] < np.arange(3)[:, None])),
    "roll": (lambda: ops.roll(A, 1, axis=1), lambda: A[:, [3, 0, 1, 2]]),
    "repeat": (lambda: ops.repeat(A[0], 2), lambda: A[0][[0, 0, 1, 1, 2, 2, 3, 3]]),
    "take_along_axis": (lambda: ops.take_along_axis(A, np.argsort(A, 1), 1),
                        lambda: np.sort(A, 1)),
    "pad_reflect": (lambda: ops.pad(A[0], 2, mode="reflect"),
                    lambda: A[0][[2, 1, 0, 1, 2, 3, 2, 1]]),
    "segment_sum": (lambda: ops.segment_sum(A, np.array([1, 0, 1]), 2),
                    lambda: np.stack([A[1], A[0] + A[2]])),
    "correlate": (lambda: ops.correlate(A[0], B[0, :2], "valid"),
                  lambda: A[0][:-1] * B[0, 0] + A[0][1:] * B[0, 1]),
    "moments": (lambda: ops.moments(A, [0])[1], lambda: A.var(0)),
    "normalize": (lambda: ops.normalize(A), lambda: A / np.sqrt((A * A).sum(-1, keepdims=True))),
    "binary_crossentropy": (lambda: ops.binary_crossentropy(U * 0.5 + 0.5, ops.sigmoid(A)),
                            lambda: -((U * 0.5 + 0.5) * np.log(1 / (1 + np.exp(-A)))
                                      + (0.5 - U * 0.5) * np.log(1 - 1 / (1 + np.exp(-A))))),
    "categorical_crossentropy_logits": (
        lambda: ops.categorical_crossentropy(np.eye(4)[[0, 3, 1]], A, from_logits=True),
        lambda: -(A[[0, 1, 2], [0, 3, 1]] - np.log(np.exp(A).sum(1)))),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_value_table(backend, name):
    fn, ref = TABLE[name]
    got = fn()
    np.testing.assert_allclose(ops.convert_to_numpy(got), ref(), rtol=1e-6, atol=1e-6)


def test_keras_conventions_hand_computed(backend):
    # values printed by Keras 3.15 (JAX backend) for the same calls
    seg = ops.segment_max(np.array([1.0, 5, 3, 2]), np.array([0, 0, 1, 1]), 3)
    np.testing.assert_array_equal(ops.convert_to_numpy(seg), [5.0, 3.0, -np.inf])
    hot = ops.one_hot(np.array([1, -1, 3]), 3)
    np.testing.assert_array_equal(ops.convert_to_numpy(hot), [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    assert hot.dtype == np.float32
    multi = ops.multi_hot(np.array([[0, 2], [1, 1]]), 3)
    np.testing.assert_array_equal(ops.convert_to_numpy(multi), [[1, 0, 1], [0, 1, 0]])
    top = ops.in_top_k(np.array([1, 0]), np.array([[0.1, 0.9, 0.0], [0.2, 0.3, 0.5]]), 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(top), [True, False])
    vals, idx = ops.top_k(np.array([1.0, 3, 3, 2]), 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(vals), [3, 3])
    np.testing.assert_array_equal(ops.convert_to_numpy(idx), [1, 2])
    assert idx.dtype == np.int32 and ops.argmax(A, 1).dtype == np.int32
    assert ops.arange(3).dtype == np.int32 and ops.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert ops.full((2,), 3).dtype == np.float32 and ops.zeros((2,)).dtype == np.float32
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == np.float32
    assert ops.convert_to_tensor([1, 2]).dtype == np.int32
    assert ops.count_nonzero(np.array([1, 0, 2])).dtype == np.int32
    np.testing.assert_allclose(ops.convert_to_numpy(ops.var(np.array([1, 2, 4]))), 1.5555555,
                               rtol=1e-6)
    m, v = ops.moments(np.array([[1.0, 2], [3, 5]]), axes=[0])
    np.testing.assert_allclose(ops.convert_to_numpy(m), [2, 3.5])
    np.testing.assert_allclose(ops.convert_to_numpy(v), [1, 2.25])
    np.testing.assert_allclose(ops.convert_to_numpy(ops.normalize(np.array([[3.0, 4]]))),
                               [[0.6, 0.8]])


def test_shape_is_a_function_and_inspection_ops(backend):
    x = ops.ones((2, 3))
    assert ops.shape(x) == (2, 3) and ops.ndim(x) == 2 and ops.size(x) == 6
    assert ops.dtype(x) == "float32" and ops.is_tensor(x) and not ops.is_tensor(np.ones(2))
    assert isinstance(ops.convert_to_numpy(x), np.ndarray)


def test_creation_ops(backend):
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.eye(2, 3, 1)), np.eye(2, 3, 1))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.tri(3)), np.tril(np.ones((3, 3))))
    np.testing.assert_allclose(ops.convert_to_numpy(ops.linspace(0, 1, 5)), [0, .25, .5, .75, 1])
    z = ops.zeros_like(Tensor(backend.asarray(I)))
    assert z.dtype == I.dtype and ops.convert_to_numpy(z).sum() == 0
    assert ops.full_like(Tensor(backend.asarray(A)), 2.0).shape == A.shape


def test_control_flow_is_eager(backend):
    assert ops.fori_loop(0, 4, lambda i, v: v + i, 0) == 6
    assert ops.while_loop(lambda v: v < 10, lambda v: v * 2, 1) == 16
    assert ops.while_loop(lambda v: v < 10, lambda v: v * 2, 1, maximum_iterations=2) == 4
    assert ops.switch(5, [lambda: 0, lambda: 1]) == 1  # clamped as Keras
    carry, ys = ops.scan(lambda c, x: (c + x, c * 1.0), 0.0, np.arange(4.0))
    assert float(carry) == 6.0
    np.testing.assert_array_equal(ops.convert_to_numpy(ys), [0, 0, 1, 3])


def test_errors_name_the_op():
    with pytest.raises(ValueError, match="split"):
        ops.split(np.ones((5, 2)), 2)
    with pytest.raises(ValueError, match="sparse"):
        ops.convert_to_tensor([1.0], sparse=True)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        ops.categorical_crossentropy(np.ones((2, 3)), np.ones((2, 4)))


def test_lu_factor_reconstructs_the_permuted_matrix(backend):
    m = np.random.default_rng(1).random((2, 4, 4))
    lu, piv = ops.lu_factor(m)
    lu, piv = ops.convert_to_numpy(lu), ops.convert_to_numpy(piv)
    for b in range(2):
        a = m[b].copy()
        for k, p in enumerate(piv[b]):  # LAPACK-style row interchanges
            a[[k, p]] = a[[p, k]]
        low = np.tril(lu[b], -1) + np.eye(4)
        np.testing.assert_allclose(low @ np.triu(lu[b]), a, atol=1e-12)


def test_keras_defaults_of_shared_names(backend):
    x = np.array([-1.0, 0.5, 2.0])
    tanh_gelu = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(ops.convert_to_numpy(ops.gelu(x)), tanh_gelu, rtol=1e-12)
    assert float(ops.max(np.array([1.0, 2.0]), initial=5.0)) == 5.0
    assert float(ops.min(np.array([1.0, 2.0]), initial=-1.0)) == -1.0
    np.testing.assert_allclose(ops.convert_to_numpy(ops.geomspace(1, 1000, 4)),
                               [1, 10, 100, 1000], rtol=1e-6)
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.concatenate([x, x])).shape, (6,))


def test_adaptive_pools_use_keras_bins(backend):
    # bins of 7 -> 3: [0, 3), [2, 5), [4, 7); of 5 -> 2: [0, 3), [2, 5) (Keras 3.15 printed
    # 18, 24 / 48, 54 / 78, 84 for this input)
    x = np.arange(2 * 7 * 5 * 3, dtype="float32").reshape(2, 7, 5, 3)
    avg = ops.convert_to_numpy(ops.adaptive_average_pool(x, (3, 2)))
    np.testing.assert_allclose(avg[0, :, :, 0], [[18, 24], [48, 54], [78, 84]])
    mx = ops.convert_to_numpy(ops.adaptive_max_pool(x, (3, 2)))
    np.testing.assert_allclose(mx[0, :, :, 0], [[(2 * 5 + 2) * 3, (2 * 5 + 4) * 3],
                                                [(4 * 5 + 2) * 3, (4 * 5 + 4) * 3],
                                                [(6 * 5 + 2) * 3, (6 * 5 + 4) * 3]])
    cf = ops.adaptive_average_pool(np.moveaxis(x, -1, 1), (3, 2), data_format="channels_first")
    np.testing.assert_allclose(ops.convert_to_numpy(cf), np.moveaxis(avg, -1, 1))


def test_ops_on_functional_inputs_build_a_model(backend):
    x = gpunet.Input((4,))
    ids = gpunet.Input((3,), dtype="int32")
    outs = [ops.one_hot(ids, 5), ops.var(x, axis=-1), ops.einsum("bi,bj->bij", x, x),
            ops.top_k(x, 2)[0], ops.where(ops.greater(x, 0.5), x, 0.0), ops.moments(x, [1])[1]]
    model = gpunet.Model([x, ids], outs)
    xv = np.random.default_rng(0).random((2, 4)).astype("float32")
    iv = np.array([[0, 1, 4], [2, 2, 3]])
    got = model.predict([xv, iv], verbose=0)
    np.testing.assert_array_equal(got[0], np.eye(5)[iv])
    np.testing.assert_allclose(got[1], xv.var(-1), rtol=1e-5)
    np.testing.assert_allclose(got[2], xv[:, :, None] * xv[:, None, :], rtol=1e-6)
    np.testing.assert_allclose(got[3], -np.sort(-xv, -1)[:, :2])
    np.testing.assert_allclose(got[4], np.where(xv > 0.5, xv, 0))
    np.testing.assert_allclose(got[5], xv.var(-1), rtol=1e-5)


def test_rearrange_patterns(backend):
    x = np.arange(2 * 4 * 6 * 3, dtype="float32").reshape(2, 4, 6, 3)

    def r(pattern, **kw):
        return ops.convert_to_numpy(ops.rearrange(x, pattern, **kw))

    np.testing.assert_array_equal(r("b h w c -> b (h w) c"), x.reshape(2, 24, 3))
    np.testing.assert_array_equal(r("b h w c -> c b w h"), x.transpose(3, 0, 2, 1))
    np.testing.assert_array_equal(r("b (h p) w c -> b h (p w) c", p=2),
                                  x.reshape(2, 2, 2, 6, 3).reshape(2, 2, 12, 3))
    np.testing.assert_array_equal(r("b h (w q) c -> (b q) h w c", q=3),
                                  x.reshape(2, 4, 2, 3, 3).transpose(0, 3, 1, 2, 4)
                                  .reshape(6, 4, 2, 3))
    np.testing.assert_array_equal(r("b ... c -> b c ..."), np.moveaxis(x, -1, 1))
    with pytest.raises(ValueError, match="same axes"):
        ops.rearrange(x, "b h w c -> b h w")
    with pytest.raises(ValueError, match="infer"):
        ops.rearrange(x, "b (h p) w c -> b h p w c")


def test_segment_prod_signs_zeros_and_empty_segments(backend):
    d = np.array([[2.0, -3], [0.5, 4], [1, 0], [-1, -1]])
    got = ops.convert_to_numpy(ops.segment_prod(d, np.array([0, 0, 1, 1]), 3))
    np.testing.assert_allclose(got, [[1, -12], [-1, 0], [1, 1]], rtol=1e-12)
    ints = ops.segment_prod(np.array([2, 3, 4]), np.array([0, 0, 1]), 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(ints), [6, 4])


def test_infinity_tests_and_rounding(backend):
    x = np.array([np.inf, -np.inf, 1.0, np.nan])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.isposinf(x)), [1, 0, 0, 0])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.isneginf(x)), [0, 1, 0, 0])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.round(np.array([0.5, 1.5, 2.25]),
                                                                 1)), [0.5, 1.5, 2.2])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.round(np.array([0.5, 1.5]))),
                                  [0, 2])  # half to even, as Keras
    full = ops.full((2,), ops.convert_to_tensor(3.0))
    assert full.dtype == np.float32 and ops.convert_to_numpy(full).tolist() == [3, 3]
