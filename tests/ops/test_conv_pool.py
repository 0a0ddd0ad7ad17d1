"""The fused Conv2D(relu) + MaxPooling2D(2) node: the values and gradients of the separate
ops (conv2d with its fused ReLU, then max_pool), float64 finite differences, and Sequential
using it only where the layers would give the same result."""

import numpy as np
import pytest

import gpunet
from gpunet import layers, ops
from gpunet.autograd.gradcheck import check_grad
from gpunet.autograd.tensor import Tensor
from gpunet.ops.conv_pool import ConvReluPool, conv_relu_max_pool, conv_relu_pool_ok


def _fused_or_skip(backend, dtype, ksize, c):
    if not backend.conv_relu_pool_ok(np.dtype(dtype), ksize, c):
        pytest.skip(f"no fused conv+relu+pool kernel on {backend.name} for {dtype}")


def _separate(x, w, b):
    y = ops.conv2d(x, w, b, 1, "valid", 1, 1, "relu")
    return ops.max_pool(y, 2, 2, "valid")


CASES = [((2, 9, 8, 1), (3, 3, 1, 5), True),   # odd conv output: the last row is dropped
         ((2, 8, 9, 3), (2, 2, 3, 4), False),
         ((2, 7, 7, 2), (2, 2, 2, 3), True)]


@pytest.mark.parametrize("xs, ws, bias", CASES)
def test_values_and_gradients_equal_the_separate_ops(backend, xs, ws, bias):
    _fused_or_skip(backend, "float32", ws[:2], ws[2])
    rng = np.random.default_rng(sum(xs))
    x = backend.asarray(rng.standard_normal(xs).astype("float32"))
    w0 = rng.standard_normal(ws).astype("float32")
    b0 = rng.standard_normal(ws[3]).astype("float32") * 0.5 if bias else None
    res = []
    for fn in (conv_relu_max_pool, _separate):
        w = Tensor(backend.asarray(w0), requires_grad=True)
        b = Tensor(backend.asarray(b0), requires_grad=True) if bias else None
        y = fn(Tensor(x), w, b)
        g = rng.standard_normal(y.shape).astype("float32")
        y.backward(backend.asarray(g))
        res.append([backend.to_numpy(a) for a in (y.data, w.grad) + ((b.grad,) if bias else ())])
        rng = np.random.default_rng(sum(xs))  # the same upstream gradient for both
        rng.standard_normal(xs), rng.standard_normal(ws)
        if bias:
            rng.standard_normal(ws[3])
    assert res[0][0].shape == ((xs[0], (xs[1] - ws[0] + 1) // 2, (xs[2] - ws[1] + 1) // 2,
                                ws[3]))
    for got, ref in zip(*res):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("xs, ws, bias", CASES[:2])
def test_gradient_check_float64(backend, xs, ws, bias):
    _fused_or_skip(backend, "float64", ws[:2], ws[2])
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs)
    # the ReLU and the max must not sit on a kink: a bias keeps the outputs off zero and
    # distinct random weights keep the four corners of each window apart
    w = rng.standard_normal(ws)
    b = rng.standard_normal(ws[3])
    args = [x, w] + ([b] if bias else [])
    check_grad(lambda *t: ConvReluPool()(*t), args, backend=backend,
               wrt=[1, 2] if bias else [1], eps=1e-6)


def test_nan_and_ties_reach_the_cells_the_separate_ops_choose(backend):
    _fused_or_skip(backend, "float32", (1, 1), 1)
    # a 1x1 kernel of weight 1: the pool sees the input itself. Window 0 ties at 2.0 (the
    # first corner wins), window 1 holds a NaN (it wins), window 2 is all negative (ReLU 0:
    # no gradient)
    x = np.array([[1, 2, 2, 0, -1, -2],
                  [2, 0, np.nan, 1, -3, -1]], "float32").reshape(1, 2, 6, 1)
    res = []
    for fn in (conv_relu_max_pool, _separate):
        w = Tensor(backend.asarray(np.ones((1, 1, 1, 1), "float32")), requires_grad=True)
        b = Tensor(backend.asarray(np.zeros(1, "float32")), requires_grad=True)
        with np.errstate(invalid="ignore"):
            y = fn(Tensor(backend.asarray(x)), w, b)
            y.backward(backend.asarray(np.array([1.0, 10.0, 100.0], "float32")
                                       .reshape(1, 1, 3, 1)))
        res.append((backend.to_numpy(y.data).ravel(), backend.to_numpy(w.grad).ravel()))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][0][[0, 2]], [2.0, 0.0])
    assert np.isnan(res[0][0][1])
    np.testing.assert_array_equal(np.isnan(res[0][1]), np.isnan(res[1][1]))


def test_input_that_takes_a_gradient_is_refused(backend):
    x = Tensor(backend.asarray(np.zeros((1, 6, 6, 1), "float32")), requires_grad=True)
    w = Tensor(backend.asarray(np.zeros((3, 3, 1, 2), "float32")), requires_grad=True)
    assert not conv_relu_pool_ok(x, w)
    with pytest.raises(ValueError, match="conv_relu_max_pool"):
        conv_relu_max_pool(x, w)


def _convnet(conv_kw=None, pool_kw=None, first=None, size=14, pool=layers.MaxPooling2D,
             act="relu"):
    stack = [layers.Input((size, size, 1))] + ([first] if first is not None else [])
    stack += [layers.Conv2D(8, 3, activation=act, **(conv_kw or {})),
              pool(2, **(pool_kw or {})), layers.Flatten(),
              layers.Dense(3, activation="softmax")]
    m = gpunet.Sequential(stack)
    m.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return m


def _fit(monkeypatch, fuse, make, x, y):
    import gpunet.models.sequential as seq

    kernel_calls, pair_calls = [], []
    real = ConvReluPool.forward
    real_pair = seq.conv_pool_call

    def spy(self, *a):
        kernel_calls.append(1)
        return real(self, *a)

    def pair_spy(*a):
        out = real_pair(*a)
        pair_calls.append(out is not None)
        return out

    monkeypatch.setattr(ConvReluPool, "forward", spy)
    monkeypatch.setattr(seq, "conv_pool_call", pair_spy if fuse else (lambda *a: None))
    gpunet.utils.set_random_seed(3)
    m = make()
    h = m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    monkeypatch.undo()
    return h.history["loss"], m.get_weights(), len(kernel_calls), sum(pair_calls)


# (model, the fused kernel runs, the pair runs together: kernel or cropped convolution)
@pytest.mark.parametrize("make, kernel, pair", [
    (_convnet, True, True),
    (lambda: _convnet(conv_kw={"padding": "same"}), True, True),  # the data padded once
    (lambda: _convnet(conv_kw={"padding": "same"}, size=13), True, True),
    (lambda: _convnet(conv_kw={"padding": "same"}, first=layers.Conv2D(1, 1)), False, False),
    (lambda: _convnet(conv_kw={"strides": 2}), False, False),
    (lambda: _convnet(pool_kw={"strides": 1}), False, False),
    (lambda: _convnet(conv_kw={"activity_regularizer": "l2"}), False, False),
    (lambda: _convnet(first=layers.Rescaling(1.0)), True, True),  # no gradient to its output
    (lambda: _convnet(first=layers.Conv2D(1, 1)), False, False),  # 12x12: the pool reads all
    # 13x13 -> 11x11 under a 2x2 pool: the convolution runs on the 12x12 the pool reaches
    (lambda: _convnet(first=layers.Conv2D(1, 1), size=15), False, True),
    (lambda: _convnet(first=layers.Conv2D(1, 1), size=15, pool=layers.AveragePooling2D,
                      act="tanh"), False, True),
    (lambda: _convnet(size=15, pool=layers.AveragePooling2D), False, True),
])
def test_sequential_fuses_only_where_the_layers_give_the_same_result(backend, monkeypatch,
                                                                     make, kernel, pair):
    rng = np.random.default_rng(0)
    size = make().input_shape[1]
    x = rng.random((32, size, size, 1)).astype("float32")
    x[:, : size // 2] *= rng.random((32, 1, 1, 1)).astype("float32") * 2  # learnable labels:
    top = x[:, : size // 2].mean(axis=(1, 2, 3))                           # the top half's
    y = np.digitize(top, np.quantile(top, [1 / 3, 2 / 3]))                 # brightness
    got = _fit(monkeypatch, True, make, x, y)
    ref = _fit(monkeypatch, False, make, x, y)
    runs = backend.conv_relu_pool_ok(np.dtype("float32"), (3, 3), 1)
    assert got[2] == (8 if kernel and runs else 0)  # 4 batches x 2 epochs
    assert got[3] == (8 if pair and (runs or not kernel) else 0)
    assert ref[2] == ref[3] == 0
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5)
    for a, b in zip(got[1], ref[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert got[0][-1] < got[0][0]  # it trains


def _functional(branch=False, size=14):
    inp = layers.Input((size, size, 1))
    c = layers.Conv2D(8, 3, activation="relu")(inp)
    p = layers.MaxPooling2D(2)(c)
    c2 = layers.Conv2D(4, 3, activation="relu")(p)
    p2 = layers.MaxPooling2D(2)(c2)
    feats = [layers.Flatten()(p2)]
    if branch:  # the first conv's output is also read elsewhere: it must stay whole
        feats.append(layers.GlobalAveragePooling2D()(c))
    h = layers.Concatenate()(feats) if branch else feats[0]
    m = gpunet.Model(inp, layers.Dense(3, activation="softmax")(h))
    m.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return m


@pytest.mark.parametrize("branch, pairs", [(False, 2), (True, 1)])
def test_functional_model_pairs_a_conv_only_its_pool_reads(backend, monkeypatch, branch,
                                                           pairs):
    from gpunet.layers import fusion

    m = _functional(branch, size=16)  # 14x14 -> pool 7x7 -> conv 5x5 -> pool reads 4x4
    assert sum(isinstance(e[0], fusion.ConvPoolPair) for e in m._plan) == pairs
    rng = np.random.default_rng(1)
    x = rng.random((16, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, 16)
    res = []
    ran = []
    real = fusion.conv_pool_call

    def spy(*a):
        out = real(*a)
        ran.append(out is not None)
        return out

    for fuse in (True, False):
        monkeypatch.setattr(fusion, "conv_pool_call", spy if fuse else (lambda *a: None))
        gpunet.utils.set_random_seed(5)
        model = _functional(branch, size=16)
        h = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        res.append((h.history["loss"], model.get_weights()))
        monkeypatch.undo()
    # 2 batches x 2 epochs; on a backend without the fused kernel the first pair runs its
    # layers (its 12x12 output is read whole), the second runs cropped
    crop_only = not backend.conv_relu_pool_ok(np.dtype("float32"), (3, 3), 1)
    assert sum(ran) == 4 * (pairs - (crop_only and not branch))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-5)
    for a, b in zip(res[0][1], res[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_unknown_spatial_size_runs_fused_on_every_size(backend, monkeypatch):
    import gpunet.models.sequential as seq

    gpunet.utils.set_random_seed(2)
    m = gpunet.Sequential([layers.Input((None, None, 1)),
                           layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2),
                           layers.GlobalMaxPooling2D()])
    rng = np.random.default_rng(0)
    for size in (11, 16):  # an odd conv output (cropped or fused) and an even one
        x = rng.random((2, size, size, 1)).astype("float32")
        got = m.predict(x, verbose=0)
        with monkeypatch.context() as mp:
            mp.setattr(seq, "conv_pool_call", lambda *a: None)
            ref = m.predict(x, verbose=0)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_rgb_same_padding_stem_runs_fused(backend, monkeypatch):
    # the CIFAR-style first layer: 3x3 over 3 channels (27 taps), "same" padding
    def make():
        m = gpunet.Sequential([layers.Input((12, 12, 3)),
                               layers.Conv2D(6, 3, padding="same", activation="relu"),
                               layers.MaxPooling2D(2), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
        m.compile(optimizer=gpunet.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy")
        return m

    rng = np.random.default_rng(4)
    x = rng.random((16, 12, 12, 3)).astype("float32")
    y = rng.integers(0, 3, 16)
    got = _fit(monkeypatch, True, make, x, y)
    ref = _fit(monkeypatch, False, make, x, y)
    runs = backend.conv_relu_pool_ok(np.dtype("float32"), (3, 3), 3)
    assert got[2] == (4 if runs else 0)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5)
    for a, b in zip(got[1], ref[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _kernel_from(monkeypatch, folder):
    from gpunet.backend.kernels import numba_conv_pool, numba_cpu

    if not numba_cpu.numba_enabled():
        pytest.skip("needs Numba")
    monkeypatch.setenv("GPUNET_CACHE_DIR", str(folder))
    monkeypatch.delitem(numba_cpu._STATE, "conv_relu_pool_1x2x2", raising=False)
    k = numba_conv_pool.conv_relu_pool_kernels(np.float32, 1, 2, 2)
    monkeypatch.delitem(numba_cpu._STATE, "conv_relu_pool_1x2x2")  # not kept for others
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 6, 2)).astype("float32")
    w = rng.standard_normal((1, 2, 2, 3)).astype("float32")
    b = rng.standard_normal(3).astype("float32")
    y = np.empty((2, 2, 2, 3), np.float32)
    idx = np.empty(y.shape, np.uint8)
    k[0](x, w.reshape(4, 3), b, y, idx)
    ref = _separate(Tensor(x), Tensor(w), Tensor(b)).data
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)


def test_generated_kernels_are_kept_in_the_cache_folder(monkeypatch, tmp_path):
    _kernel_from(monkeypatch, tmp_path)
    files = sorted(p.name for p in (tmp_path / "kernels").glob("*.py"))
    assert len(files) == 1 and files[0].startswith("conv_relu_pool_1x2x2_")
    assert not list((tmp_path / "kernels").glob("*.tmp"))


def test_an_unwritable_cache_folder_compiles_in_memory(monkeypatch, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    _kernel_from(monkeypatch, blocker)  # makedirs fails: the kernels still run


def test_conv_out_limit_gradient_check_and_values(backend):
    from gpunet.ops.conv import Conv

    rng = np.random.default_rng(11)
    x, w, b = (rng.standard_normal((2, 9, 8, 3)), rng.standard_normal((3, 3, 3, 4)),
               rng.standard_normal(4))
    check_grad(lambda *t: Conv((1, 1), "valid", (1, 1), 1, None, (6, 5))(*t), [x, w, b],
               backend=backend)
    full = ops.conv2d(Tensor(backend.asarray(x)), backend.asarray(w), backend.asarray(b))
    part = Conv((1, 1), "valid", (1, 1), 1, None, (6, 5))(
        Tensor(backend.asarray(x)), backend.asarray(w), backend.asarray(b))
    assert part.shape == (2, 6, 5, 4)
    np.testing.assert_allclose(backend.to_numpy(part.data),
                               backend.to_numpy(full.data)[:, :6, :5], rtol=1e-12)
