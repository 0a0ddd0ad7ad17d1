"""The fused scaled dot-product attention op: values against a NumPy formula (masks, causal
masking, returned weights, dropout) and float64 finite-difference gradients."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.backend.random import SeedStream


def _r(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _reference(q, k, v, mask=None, scale=None, causal=False, zero_masked=True):
    """softmax(where(mask, q kᵀ scale, -1e9)) v, written from the formula."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("...id,...jd->...ij", q, k) * scale
    full = np.ones(s.shape, bool)
    if mask is not None:
        full &= np.broadcast_to(mask, s.shape)
    if causal:
        tq, tk = s.shape[-2:]
        full &= np.array([[j <= i for j in range(tk)] for i in range(tq)])
    s = np.where(full, s, -1e9)
    e = np.exp(s - s.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    if zero_masked:
        p = np.where(full, p, 0.0)
    return np.einsum("...ij,...jd->...id", p, v), p


CASES = {
    "plain": dict(),
    "mask_b1k": dict(mask=np.array([[[True, True, False, True, False]],
                                    [[False, True, True, True, True]]])),
    "causal": dict(causal=True),
    "mask_and_causal": dict(mask=np.array([[[True, False, True, True, True]],
                                           [[True, True, True, False, True]]]), causal=True),
    "scale": dict(scale=0.3),
}


def _inputs(tq=4, tk=5, d=3, dv=2, lead=(2,)):
    return _r(0, *lead, tq, d), _r(1, *lead, tk, d), _r(2, *lead, tk, dv)


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_and_scores_match_formula(backend, case):
    kw = CASES[case]
    q, k, v = _inputs()
    out, w = ops.scaled_dot_product_attention(
        *[Tensor(backend.asarray(a)) for a in (q, k, v)], mask=kw.get("mask"),
        scale=kw.get("scale"), is_causal=kw.get("causal", False), return_attention_scores=True)
    ref_out, ref_w = _reference(q, k, v, kw.get("mask"), kw.get("scale"), kw.get("causal", False))
    np.testing.assert_allclose(backend.to_numpy(out.data), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(w.data), ref_w, rtol=1e-10, atol=1e-12)
    if kw.get("causal"):  # nothing after the query step is attended to
        assert np.all(np.triu(backend.to_numpy(w.data)[0], 1) == 0)


def test_fully_masked_row_gives_zeros_or_uniform(backend):
    q, k, v = _inputs()
    mask = np.ones((2, 4, 5), bool)
    mask[0, 1] = False
    args = [Tensor(backend.asarray(a)) for a in (q, k, v)]
    out, w = ops.scaled_dot_product_attention(*args, mask=mask, return_attention_scores=True)
    assert np.all(backend.to_numpy(w.data)[0, 1] == 0)
    assert np.all(backend.to_numpy(out.data)[0, 1] == 0)
    out, w = ops.scaled_dot_product_attention(*args, mask=mask, return_attention_scores=True,
                                              zero_masked=False)
    np.testing.assert_allclose(backend.to_numpy(w.data)[0, 1], np.full(5, 0.2))
    np.testing.assert_allclose(backend.to_numpy(out.data)[0, 1], v[0].mean(0), rtol=1e-12)


def test_four_d_heads_layout(backend):
    q, k, v = _inputs(lead=(2, 3))
    mask = np.random.default_rng(3).random((2, 1, 4, 5)) > 0.3
    mask[..., 0] = True
    out = ops.scaled_dot_product_attention(*[Tensor(backend.asarray(a)) for a in (q, k, v)],
                                           mask=mask)
    np.testing.assert_allclose(backend.to_numpy(out.data), _reference(q, k, v, mask)[0],
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rate", [0.4, 1.0])
@pytest.mark.parametrize("after", [True, False])
def test_dropout_on_weights(backend, rate, after):
    q, k, v = _inputs()
    out, w = ops.scaled_dot_product_attention(
        *[Tensor(backend.asarray(a)) for a in (q, k, v)], dropout=rate,
        return_attention_scores=True, scores_after_dropout=after)
    _, p = _reference(q, k, v)
    w = backend.to_numpy(w.data)
    if not after:
        np.testing.assert_allclose(w, p, rtol=1e-10)
        return
    kept = w != 0
    if rate < 1:
        np.testing.assert_allclose(w[kept], p[kept] / (1 - rate), rtol=1e-10)
        assert 0 < kept.mean() < 1
    else:
        assert not kept.any()
    np.testing.assert_allclose(backend.to_numpy(out.data), w @ v, rtol=1e-10, atol=1e-12)


# -- gradients (float64 finite differences) -----------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_output_and_scores(backend, case):
    kw = CASES[case]

    def f(q, k, v):
        out, w = ops.scaled_dot_product_attention(
            q, k, v, mask=kw.get("mask"), scale=kw.get("scale"),
            is_causal=kw.get("causal", False), return_attention_scores=True)
        return ops.concatenate([out, w], axis=-1)

    check_grad(f, list(_inputs()), backend=backend)


def test_gradients_output_only_and_partial_inputs(backend):
    def f(q, k, v):
        return ops.scaled_dot_product_attention(q, k, v, is_causal=True)

    check_grad(f, list(_inputs(lead=(2, 2))), backend=backend)
    check_grad(f, list(_inputs()), backend=backend, wrt=[2])
    check_grad(f, list(_inputs()), backend=backend, wrt=[0])


@pytest.mark.parametrize("after", [True, False])
def test_gradients_with_dropout(backend, after):
    mask = CASES["mask_b1k"]["mask"]

    def f(q, k, v):  # a fresh stream per call: the same dropout mask in every evaluation
        out, w = ops.scaled_dot_product_attention(
            q, k, v, mask=mask, dropout=0.3, stream=SeedStream(7),
            return_attention_scores=True, scores_after_dropout=after, zero_masked=False)
        return ops.concatenate([out, w], axis=-1)

    check_grad(f, list(_inputs()), backend=backend)


def test_shape_errors_name_the_op():
    q, k, v = _inputs()
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*\(2, 5, 3\)"):
        ops.scaled_dot_product_attention(q, k, k[..., :2][:, :3])
    with pytest.raises(ValueError, match="at least 2 axes"):
        ops.scaled_dot_product_attention(np.ones(3), k, v)
