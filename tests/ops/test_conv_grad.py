"""Convolution, pooling, up-sampling and padding ops: values against naive loops written here
(Keras/TensorFlow padding arithmetic), and float64 finite-difference gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad


def _r(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _same_pad(n, k, s, d=1):
    """Keras "same": ceil(n / s) outputs, total padding split with the extra unit at the end."""
    k_eff = d * (k - 1) + 1
    out = -(-n // s)
    total = max((out - 1) * s + k_eff - n, 0)
    return out, total // 2, total - total // 2


def naive_conv2d(x, w, b=None, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    n, h, wd, c = x.shape
    kh, kw, cg, f = w.shape
    (sh, sw), (dh, dw) = strides, dilation
    keh, kew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if padding == "same":
        oh, top, bottom = _same_pad(h, kh, sh, dh)
        ow, left, right = _same_pad(wd, kw, sw, dw)
    else:
        oh, ow, top, bottom, left, right = (h - keh) // sh + 1, (wd - kew) // sw + 1, 0, 0, 0, 0
    xp = np.zeros((n, h + top + bottom, wd + left + right, c))
    xp[:, top:top + h, left:left + wd] = x
    fg = f // groups
    out = np.zeros((n, oh, ow, f))
    for o in range(f):
        g = o // fg
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, i * sh:i * sh + keh:dh, j * sw:j * sw + kew:dw, g * cg:(g + 1) * cg]
                out[:, i, j, o] = np.einsum("nabc,abc->n", patch, w[..., o])
    return out if b is None else out + b


def naive_pool2d(x, pool, strides, padding, mode):
    """Each window reduced over its real (non-padded) cells only."""
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        oh, top, _ = _same_pad(h, ph, sh)
        ow, left, _ = _same_pad(w, pw, sw)
    else:
        oh, ow, top, left = (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - top, j * sw - left
            win = x[:, max(r0, 0):r0 + ph, max(c0, 0):c0 + pw]
            out[:, i, j] = win.max(axis=(1, 2)) if mode == "max" else win.mean(axis=(1, 2))
    return out


def _np(backend, t):
    return backend.to_numpy(t.data)


CONV_CASES = [
    dict(),
    dict(strides=2),
    dict(strides=(2, 1)),
    dict(padding="same"),
    dict(padding="same", strides=2),
    dict(padding="same", strides=(3, 2)),
    dict(dilation_rate=2),
    dict(dilation_rate=(2, 1), padding="same"),
    dict(groups=2),
    dict(groups=4, padding="same", strides=2),
]


@pytest.mark.parametrize("kw", CONV_CASES, ids=lambda d: ",".join(f"{k}={v}" for k, v in
                                                                   d.items()) or "default")
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4)], ids=str)
def test_conv2d_values_and_gradients(backend, kw, kshape):
    g = kw.get("groups", 1)
    x, w, b = _r(0, 2, 7, 8, 4), _r(1, *kshape, 4 // g, 4), _r(2, 4)
    s = kw.get("strides", 1)
    d = kw.get("dilation_rate", 1)
    exp = naive_conv2d(x, w, b, (s, s) if isinstance(s, int) else s, kw.get("padding", "valid"),
                       (d, d) if isinstance(d, int) else d, g)
    got = ops.conv2d(Tensor(backend.asarray(x)), Tensor(backend.asarray(w)),
                     Tensor(backend.asarray(b)), **kw)
    assert got.shape == exp.shape
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-10, atol=1e-10)
    check_grad(lambda x, w, b: ops.conv2d(x, w, b, **kw), [x, w, b], backend=backend)


@pytest.mark.parametrize("kw", [dict(), dict(padding="same", strides=2), dict(dilation_rate=2)],
                         ids=str)
def test_conv2d_single_input_channel(backend, kw):
    # one input channel takes the offset-major im2col path
    x, w, b = _r(12, 2, 6, 7, 1), _r(13, 3, 2, 1, 3), _r(14, 3)
    s, d = kw.get("strides", 1), kw.get("dilation_rate", 1)
    exp = naive_conv2d(x, w, b, (s, s), kw.get("padding", "valid"), (d, d))
    f = lambda x, w, b: ops.conv2d(x, w, b, **kw)  # noqa: E731
    got = f(*[Tensor(backend.asarray(a)) for a in (x, w, b)])
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-10, atol=1e-12)
    check_grad(f, [x, w, b], backend=backend)
    check_grad(f, [x, w, b], backend=backend, wrt=[2])  # only the bias


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_fused_relu_and_no_bias(backend, padding):
    x, w = _r(3, 2, 5, 5, 3), _r(4, 3, 3, 3, 2)
    exp = np.maximum(naive_conv2d(x, w, padding=padding), 0)
    f = lambda x, w: ops.conv2d(x, w, padding=padding, activation="relu")  # noqa: E731
    got = f(Tensor(backend.asarray(x)), Tensor(backend.asarray(w)))
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-10, atol=1e-12)
    check_grad(f, [x, w], backend=backend)
    check_grad(f, [x, w], backend=backend, wrt=[1])  # the data needs no gradient


def test_same_padding_puts_the_extra_row_and_column_at_the_end(backend):
    # 4x4 input, 2x2 kernel of ones, stride 1, "same": P = 1 per axis, all of it after.
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    y = _np(backend, ops.conv2d(backend.asarray(x), backend.asarray(np.ones((2, 2, 1, 1))),
                                padding="same"))[0, :, :, 0]
    assert y[0, 0] == 0 + 1 + 4 + 5  # top-left window is not padded
    assert y[3, 3] == 15  # bottom-right window sees only x[3, 3] and padding
    assert y[3, 0] == 12 + 13


def naive_conv1d(x, w, strides, padding, dilation):
    k = w.shape[0]
    if padding == "causal":
        x = np.concatenate([np.zeros((x.shape[0], dilation * (k - 1), x.shape[2])), x], axis=1)
        padding = "valid"
    return naive_conv2d(x[:, None], w[None], None, (1, strides), padding, (1, dilation))[:, 0]


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv1d_values_and_gradients(backend, padding, strides, dilation):
    x, w, b = _r(5, 2, 9, 3), _r(6, 3, 3, 2), _r(7, 2)
    exp = naive_conv1d(x, w, strides, padding, dilation) + b
    f = lambda x, w, b: ops.conv1d(x, w, b, strides, padding, dilation)  # noqa: E731
    got = f(*[Tensor(backend.asarray(a)) for a in (x, w, b)])
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-10, atol=1e-12)
    check_grad(f, [x, w, b], backend=backend)


def test_conv_errors():
    x = np.zeros((1, 2, 2, 3))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        ops.conv2d(x, np.zeros((3, 3, 3, 1)))
    with pytest.raises(ValueError, match="3 channels.*expects 2"):
        ops.conv2d(x, np.zeros((1, 1, 2, 1)))
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        ops.conv2d(x, np.zeros((1, 1, 3, 1)), padding="causal")


POOL_CASES = [((2, 2), None, "valid"), ((2, 2), None, "same"), ((3, 3), (1, 1), "valid"),
              ((3, 3), (2, 2), "same"), ((2, 3), (1, 2), "same"), ((3, 2), (2, 3), "valid"),
              ((1, 1), (2, 2), "valid")]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", POOL_CASES, ids=str)
def test_pool2d_values_and_gradients(backend, mode, pool, strides, padding):
    x = _r(8, 2, 5, 7, 3)
    fn = ops.max_pool2d if mode == "max" else ops.avg_pool2d
    exp = naive_pool2d(x, pool, strides or pool, padding, mode)
    f = lambda t: fn(t, pool, strides, padding)  # noqa: E731
    got = f(Tensor(backend.asarray(x)))
    assert got.shape == exp.shape
    np.testing.assert_allclose(_np(backend, got), exp, rtol=1e-12)
    check_grad(f, [x], backend=backend)


def test_avg_pool_same_divides_by_the_real_cells(backend):
    x = np.ones((1, 3, 3, 1))
    y = _np(backend, ops.avg_pool2d(backend.asarray(x), 2, padding="same"))
    np.testing.assert_allclose(y, np.ones((1, 2, 2, 1)))  # not 1/2, 1/4 at the border


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(backend):
    x = Tensor(backend.asarray(np.array([[3.0, 3.0], [3.0, 1.0]]).reshape(1, 2, 2, 1)),
               requires_grad=True)
    ops.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(_np(backend, Tensor(x.grad))[0, :, :, 0], [[1, 0], [0, 0]])
    x = Tensor(backend.asarray(np.array([1.0, 2.0, 2.0, 0.0]).reshape(1, 4, 1)),
               requires_grad=True)
    ops.max_pool1d(x, 3, 1).sum().backward()  # windows [1,2,2], [2,2,0]: both pick index 1
    np.testing.assert_array_equal(backend.to_numpy(x.grad).ravel(), [0, 2, 0, 0])


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 1, "same"),
                                                  (2, 3, "same")])
def test_pool1d_values_and_gradients(backend, mode, pool, strides, padding):
    x = _r(9, 2, 7, 3)
    fn = ops.max_pool1d if mode == "max" else ops.avg_pool1d
    exp = naive_pool2d(x[:, None], (1, pool), (1, strides or pool), padding, mode)[:, 0]
    f = lambda t: fn(t, pool, strides, padding)  # noqa: E731
    np.testing.assert_allclose(_np(backend, f(Tensor(backend.asarray(x)))), exp, rtol=1e-12)
    check_grad(f, [x], backend=backend)


def test_pool_errors():
    with pytest.raises(ValueError, match="smaller than the pool"):
        ops.max_pool2d(np.zeros((1, 1, 4, 1)), 2)
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        ops.avg_pool2d(np.zeros((1, 4, 4, 1)), 2, padding="full")


def naive_bilinear(x, sh, sw):
    """Half-pixel centres, neighbours clamped to the edge (keras-semantics.md 4.8)."""
    def axis_weights(n, s):
        a = np.zeros((n * s, n))
        for o in range(n * s):
            src = (o + 0.5) / s - 0.5
            lo = int(np.floor(src))
            frac = src - lo
            a[o, min(max(lo, 0), n - 1)] += 1 - frac
            a[o, min(max(lo + 1, 0), n - 1)] += frac
        return a
    a, b = axis_weights(x.shape[1], sh), axis_weights(x.shape[2], sw)
    return np.einsum("oh,pw,nhwc->nopc", a, b, x)


@pytest.mark.parametrize("size", [(2, 2), (2, 3), (1, 2)], ids=str)
def test_upsampling2d(backend, size):
    x = _r(10, 2, 3, 4, 2)
    f = lambda t: ops.upsampling2d(t, size)  # noqa: E731
    exp = np.repeat(np.repeat(x, size[0], axis=1), size[1], axis=2)
    np.testing.assert_array_equal(_np(backend, f(Tensor(backend.asarray(x)))), exp)
    check_grad(f, [x], backend=backend)
    fb = lambda t: ops.upsampling2d(t, size, "bilinear")  # noqa: E731
    got = _np(backend, fb(Tensor(backend.asarray(x))))
    np.testing.assert_allclose(got, naive_bilinear(x, *size), rtol=1e-12)
    check_grad(fb, [x], backend=backend)


def test_bilinear_hand_values(backend):
    x = np.array([0.0, 1.0]).reshape(1, 1, 2, 1)
    y = _np(backend, ops.upsampling2d(backend.asarray(x), (1, 2), "bilinear")).ravel()
    np.testing.assert_allclose(y, [0.0, 0.25, 0.75, 1.0])


def test_pad(backend):
    x = _r(11, 2, 3, 2)
    widths = [(0, 0), (1, 2), (2, 0)]
    f = lambda t: ops.pad(t, widths)  # noqa: E731
    np.testing.assert_array_equal(_np(backend, f(Tensor(backend.asarray(x)))), np.pad(x, widths))
    check_grad(f, [x], backend=backend)
    with pytest.raises(ValueError, match="3 non-negative"):
        ops.pad(x, [(0, 0), (1, 1)])
