"""Regularizer penalties and constraint projections, checked against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpunet import constraints as C
from gpunet import regularizers as R
from gpunet.autograd import Tensor, Variable

W = np.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.0]])
ABS_SUM, SQ_SUM = 8.0, 1 + 4 + 0.25 + 9 + 2.25  # sum|w| = 8, sum w^2 = 16.5


def _penalty(backend, reg, w=W):
    return float(reg(Tensor(backend.asarray(w))).item())


# -- regularizers -------------------------------------------------------------------------------


def test_penalties_by_hand(backend):
    assert _penalty(backend, R.L1(0.1)) == pytest.approx(0.1 * ABS_SUM)
    assert _penalty(backend, R.L2(0.2)) == pytest.approx(0.2 * SQ_SUM)
    assert _penalty(backend, R.L1L2(l1=0.1, l2=0.2)) == pytest.approx(0.8 + 3.3)
    assert _penalty(backend, R.L1L2()) == 0.0  # the class defaults to no penalty
    assert _penalty(backend, R.L1L2(l2=0.5)) == pytest.approx(0.5 * SQ_SUM)


def test_defaults(backend):
    assert _penalty(backend, R.L1()) == pytest.approx(0.01 * ABS_SUM)
    assert _penalty(backend, R.L2()) == pytest.approx(0.01 * SQ_SUM)
    both = R.l1_l2()  # Keras 2's function: 0.01 / 0.01
    assert (both.l1, both.l2) == (0.01, 0.01)
    assert _penalty(backend, both) == pytest.approx(0.01 * ABS_SUM + 0.01 * SQ_SUM)
    assert (R.l1().l1, R.l2().l2, R.l1(0.3).l1) == (0.01, 0.01, 0.3)


def test_penalty_gradients_by_hand(backend):
    v = Variable(backend.asarray(W.copy()))
    R.L1L2(l1=0.1, l2=0.2)(v).backward()
    np.testing.assert_allclose(backend.to_numpy(v.grad), 0.1 * np.sign(W) + 0.4 * W)


@pytest.mark.parametrize("name,l1,l2", [("l1", 0.01, 0.0), ("l2", 0.0, 0.01),
                                        ("l1_l2", 0.01, 0.01), ("L1", 0.01, 0.0),
                                        ("L2", 0.0, 0.01), ("L1L2", 0.0, 0.0)])
def test_get_by_name(name, l1, l2):
    reg = R.get(name)
    assert (reg.l1, reg.l2) == (l1, l2)


def test_get_and_config_round_trip():
    assert R.get(None) is None
    reg = R.L1L2(l1=0.25, l2=0.5)
    assert R.get(reg) is reg
    for r in (reg, R.L1(0.3), R.L2(0.4)):
        cfg = R.serialize(r)
        back = R.get(cfg)
        assert type(back) is type(r) and back.get_config() == r.get_config()
    assert R.serialize(R.L2(0.4)) == {"class_name": "L2", "config": {"l2": 0.4}}
    with pytest.raises(ValueError, match="regularizer"):
        R.get("l3")


@pytest.mark.parametrize("kwargs,arg", [({"l1": -0.1}, "l1"), ({"l2": float("nan")}, "l2"),
                                        ({"l2": float("inf")}, "l2")])
def test_bad_factors_raise_naming_them(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        R.L1L2(**kwargs)


# -- constraints --------------------------------------------------------------------------------

EPS = 1e-7
M = np.array([[3.0, 0.6], [4.0, 0.8]])  # column norms 5 and 1; row norms ~3.06 and ~4.08


def _project(backend, c, w=M):
    return backend.to_numpy(c(backend.asarray(w)))


def test_max_norm_by_hand(backend):
    got = _project(backend, C.MaxNorm(max_value=2.0))  # axis=0: per column
    exp = M * np.array([2.0 / (5 + EPS), 1.0 / (1 + EPS)])
    np.testing.assert_allclose(got, exp, rtol=1e-12)
    rows = np.sqrt((M ** 2).sum(1, keepdims=True))
    np.testing.assert_allclose(_project(backend, C.MaxNorm(3.5, axis=1)),
                               M * np.minimum(rows, 3.5) / (rows + EPS), rtol=1e-12)


def test_non_neg_by_hand(backend):
    np.testing.assert_array_equal(_project(backend, C.NonNeg(), W),
                                  [[1.0, 0.0], [0.5, 3.0], [0.0, 0.0]])


def test_unit_norm_by_hand(backend):
    np.testing.assert_allclose(_project(backend, C.UnitNorm()),
                               [[0.6, 0.6], [0.8, 0.8]], rtol=1e-6)
    rows = np.sqrt((M ** 2).sum(1, keepdims=True))
    np.testing.assert_allclose(_project(backend, C.UnitNorm(axis=1)), M / (rows + EPS))


def test_min_max_norm_by_hand(backend):
    got = _project(backend, C.MinMaxNorm(min_value=2.0, max_value=4.0))
    np.testing.assert_allclose(got, M * np.array([4 / (5 + EPS), 2 / (1 + EPS)]), rtol=1e-12)
    half = _project(backend, C.MinMaxNorm(min_value=2.0, max_value=4.0, rate=0.5))
    desired = 0.5 * np.array([4.0, 2.0]) + 0.5 * np.array([5.0, 1.0])
    np.testing.assert_allclose(half, M * desired / (np.array([5.0, 1.0]) + EPS), rtol=1e-12)
    norms = np.sqrt((half ** 2).sum(0))
    np.testing.assert_allclose(norms, [4.5, 1.5], rtol=1e-6)


def test_projected_norms_respect_the_bounds(backend):
    w = np.random.default_rng(0).standard_normal((20, 6)) * 3
    for c, lo, hi in [(C.MaxNorm(1.5), 0, 1.5), (C.UnitNorm(), 1, 1),
                      (C.MinMaxNorm(0.5, 2.0), 0.5, 2.0)]:
        n = np.sqrt((_project(backend, c, w) ** 2).sum(0))
        assert np.all(n <= hi * (1 + 1e-6)) and np.all(n >= lo * (1 - 1e-6))


@pytest.mark.parametrize("axis", [[0, 1, 2], (0, 1, 2)], ids=["list", "tuple"])
def test_conv_kernel_axes_as_list_or_tuple(backend, axis):
    # Keras documents axis=[0, 1, 2] for channels_last conv kernels; JSON configs hold lists
    w = np.random.default_rng(1).standard_normal((3, 3, 2, 4)) * 2
    norms = np.sqrt((w ** 2).sum((0, 1, 2)))
    for c, exp in [(C.MaxNorm(1.0, axis=axis), np.minimum(norms, 1.0)),
                   (C.UnitNorm(axis=axis), np.ones(4)),
                   (C.MinMaxNorm(0.5, 0.8, axis=axis), np.clip(norms, 0.5, 0.8))]:
        got = np.sqrt((_project(backend, c, w) ** 2).sum((0, 1, 2)))
        np.testing.assert_allclose(got, exp, rtol=1e-6)


@pytest.mark.parametrize("name,cls", [("max_norm", C.MaxNorm), ("MaxNorm", C.MaxNorm),
                                      ("non_neg", C.NonNeg), ("NonNeg", C.NonNeg),
                                      ("unit_norm", C.UnitNorm),
                                      ("min_max_norm", C.MinMaxNorm)])
def test_constraint_get_by_name(name, cls):
    assert type(C.get(name)) is cls


def test_constraint_config_round_trip():
    assert C.get(None) is None
    for c in (C.MaxNorm(3.0, axis=[0, 1]), C.NonNeg(), C.UnitNorm(axis=1),
              C.MinMaxNorm(0.1, 2.0, 0.7, axis=0)):
        back = C.get(C.serialize(c))
        assert type(back) is type(c) and back.get_config() == c.get_config()
    assert C.serialize(C.MaxNorm()) == {"class_name": "MaxNorm",
                                        "config": {"max_value": 2.0, "axis": 0}}
    with pytest.raises(ValueError, match="constraint"):
        C.get("max_nrom")
    assert math.isclose(C.MaxNorm().max_value, 2.0)
