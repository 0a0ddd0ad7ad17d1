"""Adaptive pooling whose bins all have one size runs as a plain pool (one node), and average
pooling of any sizes as one product per axis: the values and gradients of the per-bin
reference (the bins of an axis of length n into m are ``[floor(i n / m), ceil((i + 1) n /
m))``, Keras's and PyTorch's)."""

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd.tensor import Tensor


def _per_bin(mode, x, sizes):
    """The bins one by one, in NumPy (the reference)."""
    out = x
    for a, m in enumerate(sizes, start=1):
        n = out.shape[a]
        parts = []
        for i in range(m):
            sl = [slice(None)] * out.ndim
            sl[a] = slice(i * n // m, -(-(i + 1) * n // m))
            red = np.mean if mode == "average" else np.max
            parts.append(red(out[tuple(sl)], axis=a, keepdims=True))
        out = np.concatenate(parts, axis=a)
    return out


@pytest.mark.parametrize("shape, sizes", [((2, 12, 3), (4,)), ((2, 8, 12, 3), (4, 3)),
                                          ((2, 4, 6, 8, 2), (2, 3, 4))])
@pytest.mark.parametrize("mode", ["average", "max"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_equal_bins_match_the_per_bin_reference(backend, shape, sizes, mode, data_format):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)  # distinct values: no ties for the max
    xin = x if data_format == "channels_last" else np.moveaxis(x, -1, 1)
    fn = ops.adaptive_average_pool if mode == "average" else ops.adaptive_max_pool
    t = Tensor(backend.asarray(xin), requires_grad=True)
    y = fn(t, sizes, data_format=data_format)
    got = backend.to_numpy(y.data)
    if data_format == "channels_first":
        got = np.moveaxis(got, 1, -1)
    np.testing.assert_allclose(got, _per_bin(mode, x, sizes), rtol=1e-12, atol=1e-12)
    # gradient of sum(y * w): each input cell gets its bin's weight / count (average) or the
    # weight where it is its bin's maximum (max)
    w = rng.standard_normal(y.shape)
    y.backward(backend.asarray(w))
    g = backend.to_numpy(t.grad)
    if data_format == "channels_first":
        g, w = np.moveaxis(g, 1, -1), np.moveaxis(w, 1, -1)
    k = tuple(n // m for n, m in zip(x.shape[1:-1], sizes))
    up = w
    for a, r in enumerate(k, start=1):
        up = np.repeat(up, r, axis=a)
    if mode == "average":
        expect = up / np.prod(k)
    else:
        mx = _per_bin("max", x, sizes)
        for a, r in enumerate(k, start=1):
            mx = np.repeat(mx, r, axis=a)
        expect = np.where(x == mx, up, 0.0)
    np.testing.assert_allclose(g, expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, sizes", [((2, 13, 3), (5,)), ((2, 7, 10, 2), (3, 4)),
                                          ((1, 5, 7, 3, 2), (2, 3, 5)), ((2, 3, 4), (5,))])
def test_average_of_unequal_bins_matches_the_per_bin_reference(backend, shape, sizes):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape)
    t = Tensor(backend.asarray(x), requires_grad=True)
    y = ops.adaptive_average_pool(t, sizes)
    np.testing.assert_allclose(backend.to_numpy(y.data), _per_bin("average", x, sizes),
                               rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(y.shape)
    y.backward(backend.asarray(w))
    # d/dx of sum(y * w): each cell gets w / count of every bin it belongs to (bins overlap
    # when they do not divide evenly), axis by axis
    g = w
    for a, m in enumerate(sizes, start=1):
        n = x.shape[a]
        p = np.zeros((m, n))
        for i in range(m):
            lo, hi = i * n // m, -(-(i + 1) * n // m)
            p[i, lo:hi] = 1.0 / (hi - lo)
        g = np.moveaxis(np.tensordot(p.T, np.moveaxis(g, a, 0), axes=1), 0, a)
    np.testing.assert_allclose(backend.to_numpy(t.grad), g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, sizes", [((2, 13, 3), (5,)), ((2, 7, 10, 2), (3, 4)),
                                          ((1, 5, 7, 3, 2), (2, 3, 5)), ((2, 3, 4), (5,))])
def test_max_of_unequal_bins_matches_the_per_bin_reference(backend, shape, sizes):
    # the per-bin path (a two-window form through stride-1 pools measured 3x slower here)
    rng = np.random.default_rng(sum(shape) + 1)
    x = rng.standard_normal(shape)  # distinct values: no ties
    t = Tensor(backend.asarray(x), requires_grad=True)
    y = ops.adaptive_max_pool(t, sizes)
    ref = _per_bin("max", x, sizes)
    np.testing.assert_array_equal(backend.to_numpy(y.data), ref)
    # gradient: every bin's weight reaches the cell holding that bin's maximum (a cell that
    # is the maximum of two overlapping bins gets both), found here bin by bin in NumPy
    w = rng.standard_normal(y.shape)
    y.backward(backend.asarray(w))
    expect = np.zeros_like(x)
    grids = [[(i * n // m, -(-(i + 1) * n // m)) for i in range(m)]
             for n, m in zip(x.shape[1:-1], sizes)]
    for out_idx in np.ndindex(*sizes):
        box = tuple(slice(*grids[d][i]) for d, i in enumerate(out_idx))
        for b in range(x.shape[0]):
            for c in range(x.shape[-1]):
                cell = x[(b,) + box + (c,)]
                pos = np.unravel_index(np.argmax(cell), cell.shape)
                full = (b,) + tuple(sl.start + p for sl, p in zip(box, pos)) + (c,)
                expect[full] += w[(b,) + out_idx + (c,)]
    np.testing.assert_allclose(backend.to_numpy(t.grad), expect, rtol=1e-12, atol=1e-12)
