"""N-D convolution, transposed convolution, depthwise / separable convolution, 3-D pooling and
up-sampling ops: values against naive loops written here (Keras/TensorFlow padding
arithmetic), the transposed convolution against the input gradient of a convolution, and
float64 finite-difference gradient checks of every new Function."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.ops import conv_extra


def _r(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _np(backend, t):
    return backend.to_numpy(t.data)


def _t(backend, *arrays):
    return [Tensor(backend.asarray(a)) for a in arrays]


def _same(n, k, s, d=1):
    """Keras "same": ceil(n / s) outputs, the odd extra padding after."""
    k_eff = d * (k - 1) + 1
    out = -(-n // s)
    total = max((out - 1) * s + k_eff - n, 0)
    return out, total // 2


def naive_conv(x, w, b=None, strides=None, padding="valid", dilation=None, groups=1):
    """Cross-correlation of channels-last ``x`` (any rank), one output cell at a time."""
    r = x.ndim - 2
    strides, dilation = strides or (1,) * r, dilation or (1,) * r
    ks, cg, f = w.shape[:r], w.shape[-2], w.shape[-1]
    k_eff = [d * (k - 1) + 1 for k, d in zip(ks, dilation)]
    if padding == "same":
        outs, befores = zip(*[_same(n, k, s, d) for n, k, s, d in
                              zip(x.shape[1:-1], ks, strides, dilation)])
    else:
        outs = [(n - e) // s + 1 for n, e, s in zip(x.shape[1:-1], k_eff, strides)]
        befores = [0] * r
    big = [max(n + bf, (o - 1) * s + e) for n, bf, o, s, e in
           zip(x.shape[1:-1], befores, outs, strides, k_eff)]
    xp = np.zeros((x.shape[0], *big, x.shape[-1]))
    xp[(slice(None),) + tuple(slice(bf, bf + n) for bf, n in zip(befores, x.shape[1:-1]))] = x
    fg = f // groups
    out = np.zeros((x.shape[0], *outs, f))
    for pos in itertools.product(*(range(o) for o in outs)):
        key = tuple(slice(p * s, p * s + e, d) for p, s, e, d in zip(pos, strides, k_eff, dilation))
        patch = xp[(slice(None),) + key]  # (n, *ks, C)
        for g in range(groups):
            pg = patch[..., g * cg:(g + 1) * cg]
            wg = w[..., g * fg:(g + 1) * fg]
            out[(slice(None),) + pos + (slice(g * fg, (g + 1) * fg),)] = np.tensordot(
                pg, wg, axes=(list(range(1, r + 2)), list(range(r + 1))))
    return out if b is None else out + b


def keras_deconv_len(n, k, padding, output_padding, s, d):
    """keras.utils.conv_utils.deconv_output_length, restated."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + output_padding


def naive_conv_transpose(x, w, strides, padding, output_padding, dilation):
    """Scatter every input cell through the kernel, then crop as the matching conv pads."""
    r = x.ndim - 2
    ks, f = w.shape[:r], w.shape[-2]
    ops_ = output_padding or (None,) * r
    lens = [keras_deconv_len(n, k, padding, o, s, d) for n, k, o, s, d in
            zip(x.shape[1:-1], ks, ops_, strides, dilation)]
    befores = [_same(L, k, s, d)[1] if padding == "same" else 0
               for L, k, s, d in zip(lens, ks, strides, dilation)]
    full = [(n - 1) * s + d * (k - 1) + 1 + bf + L for n, s, d, k, bf, L in
            zip(x.shape[1:-1], strides, dilation, ks, befores, lens)]
    y = np.zeros((x.shape[0], *full, f))
    for pos in itertools.product(*(range(n) for n in x.shape[1:-1])):
        for off in itertools.product(*(range(k) for k in ks)):
            at = tuple(p * s + o * d for p, s, o, d in zip(pos, strides, off, dilation))
            y[(slice(None),) + at] += x[(slice(None),) + pos] @ w[off].T
    return y[(slice(None),) + tuple(slice(bf, bf + L) for bf, L in zip(befores, lens))]


CONV3D_CASES = [dict(), dict(strides=2), dict(strides=(2, 1, 3), padding="same"),
                dict(padding="same"), dict(dilation_rate=(2, 1, 1)), dict(groups=2)]


@pytest.mark.parametrize("kw", CONV3D_CASES, ids=str)
def test_conv3d_values(backend, kw):
    g = kw.get("groups", 1)
    x, w, b = _r(0, 2, 5, 4, 6, 4), _r(1, 3, 2, 2, 4 // g, 4), _r(2, 4)
    r3 = lambda v: (v,) * 3 if isinstance(v, int) else v  # noqa: E731
    exp = naive_conv(x, w, b, r3(kw.get("strides", 1)), kw.get("padding", "valid"),
                     r3(kw.get("dilation_rate", 1)), g)
    got = ops.conv3d(*_t(backend, x, w, b), **kw)
    assert got.shape == exp.shape
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(strides=2, padding="same"), dict(groups=2),
                                dict(dilation_rate=(1, 2, 1))], ids=str)
def test_conv3d_gradients(backend, kw):
    g = kw.get("groups", 1)
    x, w, b = _r(3, 1, 4, 3, 4, 2), _r(4, 2, 2, 2, 2 // g, 2), _r(5, 2)
    check_grad(lambda x, w, b: ops.conv3d(x, w, b, **kw), [x, w, b], backend=backend)
    check_grad(lambda x, w: ops.conv3d(x, w, **kw), [x, w], backend=backend, wrt=[1])


TRANSPOSE_CASES = [  # strides, padding, output_padding, dilation
    ((1, 1), "valid", None, (1, 1)), ((2, 2), "valid", None, (1, 1)),
    ((2, 3), "same", None, (1, 1)), ((3, 2), "valid", (1, 0), (1, 1)),
    ((2, 2), "same", (1, 1), (1, 1)), ((3, 3), "same", (2, 1), (1, 1)),
    ((1, 1), "same", None, (2, 1)), ((1, 1), "valid", (0, 0), (1, 2)),
    ((1, 2), "valid", None, (1, 1)),
]


@pytest.mark.parametrize("strides,padding,output_padding,dilation", TRANSPOSE_CASES, ids=str)
def test_conv2d_transpose_values_shapes_and_conv_gradient(backend, strides, padding,
                                                          output_padding, dilation):
    x, w, b = _r(6, 2, 4, 3, 5), _r(7, 3, 2, 3, 5), _r(8, 3)
    got = conv_extra.conv_transpose(*_t(backend, x, w, b), strides=strides, padding=padding,
                             output_padding=output_padding, dilation_rate=dilation)
    ops_ = output_padding or (None, None)
    lens = tuple(keras_deconv_len(n, k, padding, o, s, d) for n, k, o, s, d in
                 zip((4, 3), (3, 2), ops_, strides, dilation))
    assert got.shape == (2, *lens, 3)
    exp = naive_conv_transpose(x, w, strides, padding, output_padding, dilation) + b
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-10, atol=1e-10)
    # the transposed convolution is the input gradient of the convolution with that kernel
    z = Tensor(backend.asarray(np.zeros((2, *lens, 3))), requires_grad=True)
    y = ops.conv2d(z, Tensor(backend.asarray(w)), strides=strides, padding=padding,
                   dilation_rate=dilation)
    assert y.shape == x.shape
    y.backward(backend.asarray(x))
    np.testing.assert_allclose(backend.to_numpy(z.grad), exp - b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("strides,padding,output_padding,dilation",
                         [TRANSPOSE_CASES[i] for i in (1, 4, 6)], ids=str)
def test_conv2d_transpose_gradients(backend, strides, padding, output_padding, dilation):
    x, w, b = _r(9, 1, 3, 3, 2), _r(10, 3, 2, 2, 2), _r(11, 2)
    f = lambda x, w, b: conv_extra.conv_transpose(x, w, b, strides, padding,  # noqa: E731
                                           output_padding, dilation)
    check_grad(f, [x, w, b], backend=backend)
    check_grad(f, [x, w, b], backend=backend, wrt=[0])


@pytest.mark.parametrize("strides,padding,output_padding", [(1, "valid", None), (2, "same", None),
                                                            (3, "valid", 2), (2, "same", 1)])
def test_conv1d_transpose_equals_conv1d_input_gradient(backend, strides, padding, output_padding):
    x, w = _r(12, 2, 5, 3), _r(13, 4, 2, 3)
    got = conv_extra.conv_transpose(*_t(backend, x, w), strides=strides, padding=padding,
                             output_padding=output_padding)
    n = keras_deconv_len(5, 4, padding, output_padding, strides, 1)
    assert got.shape == (2, n, 2)
    z = Tensor(backend.asarray(np.zeros((2, n, 2))), requires_grad=True)
    ops.conv1d(z, Tensor(backend.asarray(w)), None, strides, padding).backward(
        backend.asarray(x))
    np.testing.assert_allclose(_np(backend, got), backend.to_numpy(z.grad), rtol=1e-10,
                               atol=1e-10)
    check_grad(lambda x, w: conv_extra.conv_transpose(x, w, None, strides, padding, output_padding),
               [x[:1, :3], w[:2]], backend=backend)


def test_conv3d_transpose_values_and_gradients(backend):
    x, w = _r(14, 1, 2, 3, 2, 2), _r(15, 2, 3, 2, 2, 2)
    got = conv_extra.conv_transpose(*_t(backend, x, w), strides=(2, 1, 2), padding="same")
    exp = naive_conv_transpose(x, w, (2, 1, 2), "same", None, (1, 1, 1))
    assert got.shape == (1, 4, 3, 4, 2)
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-10, atol=1e-10)
    check_grad(lambda x, w: conv_extra.conv_transpose(x, w, None, 2, "valid"), [x, w],
               backend=backend)


def naive_depthwise(x, w, strides, padding, dilation):
    c, m = w.shape[-2:]
    outs = [naive_conv(x[..., ci:ci + 1], w[..., ci:ci + 1, :], None, strides, padding, dilation)
            for ci in range(c)]
    return np.concatenate(outs, axis=-1)  # channel ci*m + j


@pytest.mark.parametrize("strides,padding,dilation", [((1, 1), "valid", (1, 1)),
                                                      ((2, 1), "same", (1, 1)),
                                                      ((1, 1), "same", (2, 2))], ids=str)
def test_depthwise_and_separable_values(backend, strides, padding, dilation):
    x, dk, pk, b = _r(16, 2, 6, 5, 3), _r(17, 3, 2, 3, 2), _r(18, 1, 1, 6, 4), _r(19, 4)
    exp = naive_depthwise(x, dk, strides, padding, dilation)
    got = conv_extra.depthwise_conv(*_t(backend, x, dk, b[:2].repeat(3)), strides, padding,
                                    dilation)
    np.testing.assert_allclose(_np(backend, got), exp + b[:2].repeat(3), rtol=1e-10, atol=1e-10)
    sep = conv_extra.separable_conv(*_t(backend, x, dk, pk, b), strides, padding, dilation)
    np.testing.assert_allclose(_np(backend, sep), exp @ pk[0, 0] + b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mult", [1, 2])
@pytest.mark.parametrize("strides,padding,dilation", [(2, "same", 1), (1, "valid", (2, 1))],
                         ids=str)
def test_depthwise_gradients(backend, mult, strides, padding, dilation):
    x, dk, b = _r(20, 1, 5, 4, 2), _r(21, 2, 3, 2, mult), _r(23, 2 * mult)
    f = lambda x, k, b: conv_extra.depthwise_conv(x, k, b, strides, padding, dilation)  # noqa: E731
    check_grad(f, [x, dk, b], backend=backend)
    check_grad(f, [x, dk, b], backend=backend, wrt=[1])  # the data needs no gradient
    check_grad(f, [x, dk, b], backend=backend, wrt=[0])


def test_separable_gradients_and_1d_depthwise(backend):
    x, dk, pk, b = _r(20, 1, 5, 4, 2), _r(21, 2, 3, 2, 2), _r(22, 1, 1, 4, 3), _r(23, 3)
    check_grad(lambda x, k, p, b: conv_extra.separable_conv(x, k, p, b, 1, "valid", 1),
               [x, dk, pk, b], backend=backend)
    x1, k1 = _r(24, 2, 7, 3), _r(25, 3, 3, 2)  # the 1-D forms
    exp = naive_depthwise(x1[:, None], k1[None], (1, 1), "same", (1, 1))[:, 0]
    np.testing.assert_allclose(_np(backend, conv_extra.depthwise_conv(*_t(backend, x1, k1),
                                                               padding="same")), exp, rtol=1e-10)
    check_grad(lambda x, k: conv_extra.depthwise_conv(x, k, None, 2), [x1, k1], backend=backend)


def naive_pool3d(x, pool, strides, padding, mode):
    """Each window reduced over its real (non-padded) cells only."""
    if padding == "same":
        outs, befores = zip(*[_same(n, k, s) for n, k, s in zip(x.shape[1:4], pool, strides)])
    else:
        outs = [(n - k) // s + 1 for n, k, s in zip(x.shape[1:4], pool, strides)]
        befores = (0, 0, 0)
    out = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for pos in itertools.product(*(range(o) for o in outs)):
        key = tuple(slice(max(p * s - bf, 0), p * s - bf + k)
                    for p, s, bf, k in zip(pos, strides, befores, pool))
        win = x[(slice(None),) + key]
        out[(slice(None),) + pos] = (win.max(axis=(1, 2, 3)) if mode == "max"
                                     else win.mean(axis=(1, 2, 3)))
    return out


POOL3D_CASES = [((2, 2, 2), None, "valid"), ((2, 2, 2), None, "same"),
                ((3, 2, 2), (1, 2, 1), "same"), ((2, 3, 1), (2, 1, 1), "valid")]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", POOL3D_CASES, ids=str)
def test_pool3d_values_and_gradients(backend, mode, pool, strides, padding):
    x = _r(26, 2, 4, 5, 3, 2)
    fn = ops.max_pool3d if mode == "max" else ops.avg_pool3d
    exp = naive_pool3d(x, pool, strides or pool, padding, mode)
    f = lambda t: fn(t, pool, strides, padding)  # noqa: E731
    got = f(Tensor(backend.asarray(x)))
    assert got.shape == exp.shape
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-12)
    check_grad(f, [x[:1]], backend=backend)


def test_max_pool3d_ties_send_the_gradient_to_the_first_maximum(backend):
    x = Tensor(backend.asarray(np.ones((1, 2, 2, 2, 1))), requires_grad=True)
    ops.max_pool3d(x, 2).sum().backward()
    g = backend.to_numpy(x.grad).ravel()
    np.testing.assert_array_equal(g, [1, 0, 0, 0, 0, 0, 0, 0])


def test_upsampling3d_values_and_gradients(backend):
    x = _r(27, 2, 2, 3, 2, 2)
    exp = np.repeat(np.repeat(np.repeat(x, 2, axis=1), 1, axis=2), 3, axis=3)
    f = lambda t: ops.upsampling3d(t, (2, 1, 3))  # noqa: E731
    np.testing.assert_array_equal(_np(backend, f(Tensor(backend.asarray(x)))), exp)
    check_grad(f, [x[:1]], backend=backend)


def test_op_errors():
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        ops.conv3d(np.zeros((1, 2, 2, 2, 1)), np.zeros((3, 3, 3, 1, 1)))
    with pytest.raises(ValueError, match="3 channels.*expects 2"):
        ops.conv3d(np.zeros((1, 2, 2, 2, 3)), np.zeros((1, 1, 1, 2, 1)))
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        conv_extra.conv_transpose(np.zeros((1, 3, 3, 1)), np.zeros((2, 2, 1, 1)), padding="full")
    with pytest.raises(ValueError, match="2 channels but the kernel .* expects 1"):
        conv_extra.conv_transpose(np.zeros((1, 3, 3, 2)), np.zeros((2, 2, 4, 1)))
    with pytest.raises(ValueError, match="does not convolve back"):  # even kernel, "same", op=0
        conv_extra.conv_transpose(np.zeros((1, 3, 3, 1)), np.zeros((2, 2, 1, 1)), strides=2,
                           padding="same", output_padding=0)
    with pytest.raises(ValueError, match="4 channels but the kernel .* expects 3"):
        conv_extra.depthwise_conv(np.zeros((1, 3, 3, 4)), np.zeros((2, 2, 3, 1)))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        conv_extra.depthwise_conv(np.zeros((1, 3, 3, 1)), np.zeros((2, 2, 1, 1)), dilation_rate=3)
    with pytest.raises(ValueError, match="smaller than the pool"):
        ops.max_pool3d(np.zeros((1, 1, 4, 4, 1)), 2)
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        ops.avg_pool3d(np.zeros((1, 4, 4, 4, 1)), 2, padding="causal")
