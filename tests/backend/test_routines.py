"""The device routines of the backends, against hand-computed values and NumPy references."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import gpunet
from gpunet.backend import numpy_backend, to_numpy
from gpunet.backend.numpy_routines import _openblas


def test_scatter_add_accumulates_repeated_indices(backend):
    out = backend.xp.zeros((3, 2), "float32")
    idx = backend.asarray(np.array([0, 2, 0, 0]))
    vals = backend.asarray(np.array([[1, 2], [3, 4], [5, 6], [7, 8]], "float32"))
    backend.scatter_add(out, idx, vals)
    np.testing.assert_array_equal(backend.to_numpy(out), [[13, 16], [0, 0], [3, 4]])


def test_scatter_add_takes_a_tuple_index(backend):
    out = backend.xp.zeros((2, 3), "float64")
    rows = backend.asarray(np.array([1, 1, 0]))
    cols = backend.asarray(np.array([2, 2, 0]))
    backend.scatter_add(out, (rows, cols), backend.asarray(np.array([1.0, 2.0, 5.0])))
    np.testing.assert_array_equal(backend.to_numpy(out), [[5, 0, 0], [0, 0, 3]])


def test_scatter_add_rows(backend):
    out = backend.xp.ones((4, 2), "float32")
    ids = backend.asarray(np.array([[3, 1], [3, 3]]))
    vals = backend.asarray(np.arange(8, dtype="float32").reshape(2, 2, 2))
    backend.scatter_add_rows(out, ids, vals)
    # row 3 gets [0,1] + [4,5] + [6,7]; row 1 gets [2,3]
    np.testing.assert_array_equal(backend.to_numpy(out), [[1, 1], [3, 4], [1, 1], [11, 14]])


def test_bincount_counts_and_weights(backend):
    idx = backend.asarray(np.array([1, 1, 4, 0, 1]))
    counts = backend.to_numpy(backend.bincount(idx, 6))
    np.testing.assert_array_equal(counts, [1, 3, 0, 0, 1, 0])
    w = backend.asarray(np.array([0.5, 0.25, 2.0, 1.0, 1.0], "float32"))
    np.testing.assert_allclose(backend.to_numpy(backend.bincount(idx, 5, w)),
                               [1.0, 1.75, 0.0, 0.0, 2.0])


def test_argsort_is_stable(backend):
    x = backend.asarray(np.array([[2.0, 1.0, 2.0, 1.0, 2.0]]))
    np.testing.assert_array_equal(backend.to_numpy(backend.argsort(x, axis=-1)),
                                  [[1, 3, 0, 2, 4]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erf_matches_math_erf(backend, dtype):
    xs = np.array([-3.0, -0.7, 0.0, 1e-3, 0.5, 2.4, 2.6, 6.0], dtype)
    got = backend.to_numpy(backend.erf(backend.asarray(xs)))
    assert got.dtype == np.dtype(dtype)
    tol = 1e-6 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(got, [math.erf(float(v)) for v in xs], rtol=tol, atol=tol)


@pytest.mark.parametrize("shapes", [((7, 3), (7, 5)), ((7, 5), (7, 3))])
def test_matmul_tn_both_orientations(backend, shapes):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    want = a.T @ b
    got = backend.matmul_tn(backend.asarray(a), backend.asarray(b))
    np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-12)
    out = backend.xp.empty(want.shape)
    assert backend.matmul_tn(backend.asarray(a), backend.asarray(b), out) is out
    np.testing.assert_allclose(backend.to_numpy(out), want, rtol=1e-12)


def test_ignore_overflow_silences_exp_overflow(backend):
    x = backend.asarray(np.array([1000.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with backend.ignore_overflow():
            y = backend.xp.exp(x)
    assert np.isinf(backend.to_numpy(y)[0])


def test_single_thread_blas_restores_the_thread_count(backend):
    fns = _openblas() if backend.is_host else None
    before = fns[1]() if fns else None
    with backend.single_thread_blas():
        if fns:
            assert fns[1]() == 1
        a = backend.asarray(np.eye(3))
        np.testing.assert_array_equal(backend.to_numpy(a @ a), np.eye(3))
    if fns:
        assert fns[1]() == before


def test_fused_rnn_kernels_exist_on_the_gpu_only(backend):
    if backend.is_host:
        assert backend.lstm_step_kernels() is None and backend.gru_step_kernels() is None
    else:
        assert len(backend.lstm_step_kernels()) == 2 and len(backend.gru_step_kernels()) == 2


def test_to_numpy_reads_any_value(backend):
    a = backend.asarray(np.array([1.0, 2.0], "float32"))
    for value in (a, gpunet.ops.convert_to_tensor(a), [1.0, 2.0]):
        got = to_numpy(value)
        assert isinstance(got, np.ndarray)
        np.testing.assert_array_equal(got, [1.0, 2.0])
    assert to_numpy(3.5) == np.float64(3.5)


def test_numpy_backend_is_host():
    assert numpy_backend().is_host is True


def test_clear_session_restarts_automatic_layer_names():
    # As Keras 3: after clear_session the next Dense is "dense" again.
    gpunet.layers.Dense(2)
    assert gpunet.layers.Dense(2).name != "dense"
    gpunet.backend.clear_session(free_memory=False)
    assert gpunet.layers.Dense(2).name == "dense"
    gpunet.utils.clear_session()
    assert gpunet.layers.Dense(2).name == "dense"


def test_generator_same_key_same_draws_and_one_method_set(backend):
    g1, g2 = backend.generator((7, 3)), backend.generator((7, 3))
    a, b = backend.to_numpy(g1.uniform((4,))), backend.to_numpy(g2.uniform((4,)))
    np.testing.assert_array_equal(a, b)
    assert ((a >= 0) & (a < 1)).all()
    assert not np.array_equal(a, backend.to_numpy(backend.generator((7, 4)).uniform((4,))))
    g = backend.generator((1,))
    assert backend.to_numpy(g.normal((3, 2))).shape == (3, 2)
    ints = backend.to_numpy(g.integers(2, 5, (50,)))
    assert ints.min() >= 2 and ints.max() < 5
    assert sorted(backend.to_numpy(g.permutation(6)).tolist()) == list(range(6))
    assert (backend.to_numpy(g.gamma(2.0, (5,))) > 0).all()
    assert ((backend.to_numpy(g.beta(2.0, 3.0, (5,))) - 0.5) ** 2 <= 0.25).all()
    assert backend.to_numpy(g.binomial(backend.asarray(np.array(4)), 0.5, (5,))).max() <= 4


def test_unkeyed_generator_follows_the_backend_seed(backend):
    backend.seed(11)
    a = backend.to_numpy(backend.generator().uniform((3,)))
    backend.seed(11)
    np.testing.assert_array_equal(a, backend.to_numpy(backend.generator().uniform((3,))))
