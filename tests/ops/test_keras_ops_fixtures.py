"""gpunet's ops give the values Keras 3 computed for the same inputs
(``tests/fixtures/keras_ops_values.npz``, written by ``make_keras_ops_values.py``): the ops
whose conventions are Keras's own (window layouts, bins, ties, grouped attention)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gpunet import ops

DATA = np.load(os.path.join(os.path.dirname(__file__), os.pardir, "fixtures",
                            "keras_ops_values.npz"))

CASES = {
    "unfold": lambda x: ops.unfold(x, 2, dilation=1, padding=1, stride=2),
    "unfold_dilated": lambda x: ops.unfold(x, (2, 3), dilation=(2, 1), padding=(1, 0)),
    "fold": lambda c: ops.fold(c, (5, 6), 2, padding=1, stride=2),
    "adaptive_average_pool": lambda x: ops.adaptive_average_pool(x, (2, 4)),
    "adaptive_max_pool_1d": lambda x: ops.adaptive_max_pool(x, 3),
    "top_k_values": lambda x: ops.top_k(x, 3)[0],
    "top_k_indices": lambda x: ops.top_k(x, 3)[1],
    "logsumexp": lambda x: ops.logsumexp(x, axis=1),
    "quantile": lambda x: ops.quantile(x, [0.1, 0.5, 0.9], axis=1),
    "glu": lambda x: ops.glu(np.concatenate([x, x[:, ::-1]], -1)),
    "normalize": lambda x: ops.normalize(x, order=1),
    "psnr": lambda a, b: ops.psnr(a, b, 3.0),
    "depth_to_space": lambda x: ops.depth_to_space(x, 2),
    "space_to_depth": lambda x: ops.space_to_depth(x, 2),
    "dot_product_attention": lambda q, k, v: ops.dot_product_attention(q, k, v,
                                                                       is_causal=True),
    "binary_crossentropy": lambda t, p: ops.binary_crossentropy(t, p, from_logits=True),
    "sparse_categorical_crossentropy": lambda p: ops.sparse_categorical_crossentropy(
        np.array([1, 6, 0]), p, from_logits=True),
    "celu": lambda x: ops.celu(x, 0.6),
    "hard_shrink": lambda x: ops.hard_shrink(x, 0.7),
    "soft_shrink": lambda x: ops.soft_shrink(x, 0.7),
    "squareplus": lambda x: ops.squareplus(x, 2.0),
    "cumprod": lambda x: ops.cumprod(x, axis=1),
    "vander": lambda x: ops.vander(x[0], 4),
    "correlate": lambda a, v: ops.correlate(a[0], v[1, :3], "same"),
    "median": lambda x: ops.median(x, axis=0),
    "kron": lambda a, b: ops.kron(a[:2, :2], b[:2, :3]),
    "stft_real": lambda x: ops.stft(x, 10, 4, 16)[0],
    "stft_imag": lambda x: ops.stft(x, 10, 4, 16)[1],
    "stft_hamming": lambda x: ops.stft(x, 8, 3, 8, window="hamming", center=False)[1],
    "istft": lambda x: ops.istft(ops.stft(x, 10, 4, 16), 10, 4, 16),
    "istft_plain": lambda r, i: ops.istft((r, i), 10, 4, 16, length=30, window=None,
                                          center=False),
    "ctc_loss": lambda z, t, tl, ol: ops.ctc_loss(t, z, tl, ol),
    "ctc_loss_blank_last": lambda z, t, tl, ol: ops.ctc_loss(t, z, tl, ol, mask_index=4),
    "ctc_decode": lambda z, t, tl, ol: ops.ctc_decode(z, ol)[0],
    "ctc_decode_scores": lambda z, t, tl, ol: ops.ctc_decode(z, ol)[1],
    "ctc_decode_unmerged": lambda z, t, tl, ol: ops.ctc_decode(z, ol, merge_repeated=False,
                                                               mask_index=2)[0],
}


def test_every_fixture_case_is_checked():
    stored = {k for k in DATA.files if "__in" not in k}
    assert stored == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_keras(backend, name):
    n = sum(1 for k in DATA.files if k.startswith(f"{name}__in"))
    inputs = [ops.convert_to_tensor(DATA[f"{name}__in{i}"]) for i in range(n)]
    got = ops.convert_to_numpy(CASES[name](*inputs))
    exp = DATA[name]
    assert got.shape == exp.shape
    if exp.dtype.kind in "iu":
        np.testing.assert_array_equal(got, exp)
    else:
        np.testing.assert_allclose(got, exp, rtol=2e-5, atol=2e-6)


def test_sparsemax_is_the_simplex_projection(backend):
    # Keras 3.15's JAX sparsemax is not a projection (its rows do not sum to 1), so the
    # reference is the definition: p = max(x - tau, 0) with sum(p) = 1.
    x = DATA["glu__in0"]
    p = ops.convert_to_numpy(ops.sparsemax(x))
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)
    tau = (x - p)[p > 0]
    rows = np.nonzero(p > 0)[0]
    for r in set(rows.tolist()):
        np.testing.assert_allclose(tau[rows == r], tau[rows == r][0], rtol=1e-5)
        assert (x[r][p[r] == 0] <= tau[rows == r][0] + 1e-6).all()
