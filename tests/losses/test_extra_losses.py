"""Keras 3 extra losses (focal, Dice, Tversky, CTC, Circle) against NumPy formulas written here,
brute-force CTC sums over every alignment, float64 gradient checks, configs and training."""

import importlib
import inspect
import itertools
import pkgutil

import numpy as np
import pytest

import gpunet.losses
from gpunet import Sequential, layers, losses, ops, optimizers
from gpunet.autograd import Function
from gpunet.autograd.gradcheck import check_grad
from gpunet.autograd.tensor import Tensor

EPS = 1e-7
RNG = np.random.default_rng(7)


# -- reference formulas (plain NumPy, float64) -------------------------------------------------
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def ref_bfce(y, p, balancing=False, alpha=0.25, gamma=2.0, logits=False, smoothing=0.0):
    y = y * (1 - smoothing) + 0.5 * smoothing
    p = sigmoid(p) if logits else p
    c = np.clip(p, EPS, 1 - EPS)
    bce = -(y * np.log(c) + (1 - y) * np.log(1 - c))
    p_t = y * p + (1 - y) * (1 - p)
    out = (1 - p_t) ** gamma * bce
    if balancing:
        out = out * (y * alpha + (1 - y) * (1 - alpha))
    return out.mean(-1)


def ref_cfce(y, p, alpha=0.25, gamma=2.0, logits=False, smoothing=0.0):
    y = y * (1 - smoothing) + smoothing / y.shape[-1]
    if logits:
        p = np.exp(p - p.max(-1, keepdims=True))
    q = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return (np.asarray(alpha) * (1 - q) ** gamma * -y * np.log(q)).sum(-1)


def ref_dice(y, p, axis=None):
    return 1 - 2 * (y * p).sum(axis) / (y.sum(axis) + p.sum(axis) + EPS)


def ref_tversky(y, p, alpha=0.5, beta=0.5, axis=None):
    tp = (y * p).sum(axis)
    return 1 - tp / (tp + alpha * ((1 - p) * y).sum(axis) + beta * (p * (1 - y)).sum(axis) + EPS)


def ref_ctc(labels, z):
    """-log of the sum, over every path of T symbols that collapses to ``labels``, of its
    probability (collapse: merge repeats, then drop blanks 0)."""
    t_len, k = z.shape
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    target = [int(v) for v in labels if v != 0]
    total = 0.0
    for path in itertools.product(range(k), repeat=t_len):
        merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if [c for c in merged if c != 0] == target:
            total += np.exp(sum(logp[t, c] for t, c in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


def ref_circle(labels, e, gamma=80.0, margin=0.4, remove_diagonal=True):
    out = []
    d = np.maximum(1 - e @ e.T, 0)
    for i in range(len(labels)):
        pos = [j for j in range(len(labels)) if labels[j] == labels[i]
               and not (remove_diagonal and j == i)]
        neg = [j for j in range(len(labels)) if labels[j] != labels[i]]
        if not pos or not neg:
            out.append(0.0)
            continue
        sp = [-gamma * max(margin + d[i, j], 0) * (margin - d[i, j]) for j in pos]
        sn = [gamma * max(1 + margin - d[i, j], 0) * (1 - margin - d[i, j]) for j in neg]
        x = np.log(np.sum(np.exp(sp))) + np.log(np.sum(np.exp(sn)))
        out.append(np.log1p(np.exp(x)))
    return np.array(out)


def val(t, backend):
    return backend.to_numpy(t.data)


def unit_rows(n, d):
    e = RNG.normal(size=(n, d))
    return e / np.linalg.norm(e, axis=1, keepdims=True)


# -- values ------------------------------------------------------------------------------------
Y01 = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
P01 = np.array([[0.0, 1.0, 0.0, 1.0], [0.3, 0.8, 1.0, 0.2], [0.5, 0.05, 0.9, 0.0]])   # 0 and 1


@pytest.mark.parametrize("kw", [{}, {"apply_class_balancing": True, "alpha": 0.4},
                                {"gamma": 0.0}, {"gamma": 3.5, "label_smoothing": 0.2}])
def test_binary_focal_values(backend, kw):
    got = losses.binary_focal_crossentropy(backend.asarray(Y01), backend.asarray(P01), **kw)
    exp = ref_bfce(Y01, P01, kw.get("apply_class_balancing", False), kw.get("alpha", 0.25),
                   kw.get("gamma", 2.0), smoothing=kw.get("label_smoothing", 0.0))
    np.testing.assert_allclose(val(got, backend), exp, rtol=1e-6, atol=1e-12)
    z = RNG.normal(size=(3, 4)) * 3
    got = losses.binary_focal_crossentropy(backend.asarray(Y01), backend.asarray(z),
                                           from_logits=True, **kw)
    exp = ref_bfce(Y01, z, kw.get("apply_class_balancing", False), kw.get("alpha", 0.25),
                   kw.get("gamma", 2.0), True, kw.get("label_smoothing", 0.0))
    np.testing.assert_allclose(val(got, backend), exp, rtol=1e-6)


def test_binary_focal_keras_example_and_fused_sigmoid(backend):
    out = losses.binary_focal_crossentropy(backend.asarray(np.array([[0.0, 1], [0, 0]])),
                                           backend.asarray(np.array([[0.6, 0.4], [0.4, 0.6]])))
    np.testing.assert_allclose(val(out, backend), [0.330, 0.206], atol=5e-4)  # Keras docs
    z = backend.asarray(RNG.normal(size=(3, 4)))
    fused = losses.binary_focal_crossentropy(backend.asarray(Y01), ops.sigmoid(z))
    np.testing.assert_allclose(val(fused, backend), ref_bfce(Y01, sigmoid(backend.to_numpy(z))),
                               rtol=1e-6)


@pytest.mark.parametrize("kw", [{}, {"alpha": [0.1, 0.2, 0.3, 0.4], "gamma": 1.0},
                                {"label_smoothing": 0.1, "gamma": 0.0}])
def test_categorical_focal_values(backend, kw):
    y = np.eye(4)[[1, 0, 3]]
    p = np.array([[0.0, 1.0, 0.0, 0.0], [0.2, 0.3, 0.4, 0.1], [0.5, 0.5, 0.0, 0.0]])
    got = losses.categorical_focal_crossentropy(backend.asarray(y), backend.asarray(p), **kw)
    ref_kw = {"alpha": kw.get("alpha", 0.25), "gamma": kw.get("gamma", 2.0),
              "smoothing": kw.get("label_smoothing", 0.0)}
    np.testing.assert_allclose(val(got, backend), ref_cfce(y, p, **ref_kw), rtol=1e-6)
    z = RNG.normal(size=(3, 4))
    got = losses.categorical_focal_crossentropy(backend.asarray(y), backend.asarray(z),
                                                from_logits=True, **kw)
    np.testing.assert_allclose(val(got, backend), ref_cfce(y, z, logits=True, **ref_kw),
                               rtol=1e-6)
    out = losses.categorical_focal_crossentropy(   # the Keras docstring example
        backend.asarray(np.array([[0.0, 1, 0], [0, 0, 1]])),
        backend.asarray(np.array([[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]])))
    np.testing.assert_allclose(val(out, backend), [2.63401289e-04, 6.75912094e-01], rtol=1e-5)


def test_dice_and_tversky_values(backend):
    yt = np.array([[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]])
    yp = np.array([[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]])
    a, b = backend.asarray(yt), backend.asarray(yp)
    ax = (1, 2, 3)
    np.testing.assert_allclose(val(losses.dice(a, b, axis=ax), backend), [0.5, 0.75757575],
                               rtol=1e-6)                                  # Keras docs
    assert float(losses.dice(a, b).data) == pytest.approx(0.6164384, rel=1e-6)
    np.testing.assert_allclose(val(losses.dice(a, b, axis=ax), backend), ref_dice(yt, yp, ax))
    for kw in ({}, {"alpha": 0.7, "beta": 0.2}):
        got = losses.tversky(a, b, axis=ax, **kw)
        np.testing.assert_allclose(val(got, backend), ref_tversky(yt, yp, axis=ax, **kw))
    np.testing.assert_allclose(val(losses.tversky(a, b, axis=-1), backend),
                               ref_tversky(yt, yp, axis=-1))
    # empty masks: the epsilon keeps 0/0 away (loss 1, not NaN)
    z = backend.asarray(np.zeros((1, 3)))
    assert float(losses.dice(z, z).data) == 1.0


def test_single_sample_and_zero_weights(backend):
    a = backend.asarray
    y, p = Y01[:1], P01[:1]
    for cls, ref in [(losses.BinaryFocalCrossentropy(), ref_bfce(y, p)),
                     (losses.Dice(axis=-1), ref_dice(y, p, -1)),
                     (losses.Tversky(axis=-1), ref_tversky(y, p, axis=-1))]:
        assert float(cls(a(y), a(p)).data) == pytest.approx(float(ref[0]), rel=1e-6)
    w = np.array([2.0, 0.0, 0.5])
    per = ref_bfce(Y01, P01)
    for red, exp in [("sum_over_batch_size", (per * w).sum() / 3), ("sum", (per * w).sum()),
                     ("none", per * w), ("mean_with_sample_weight", (per * w).sum() / 2.5)]:
        got = losses.BinaryFocalCrossentropy(reduction=red)(a(Y01), a(P01), sample_weight=w)
        np.testing.assert_allclose(val(got, backend), exp, rtol=1e-6)
    zero = losses.Tversky(axis=-1)(a(Y01), a(P01), sample_weight=np.zeros(3))
    assert float(zero.data) == 0.0
    zero = losses.CategoricalFocalCrossentropy(reduction="mean_with_sample_weight")(
        a(np.eye(4)[[0, 1, 2]]), a(P01 + 0.1), sample_weight=np.zeros(3))
    assert float(zero.data) == 0.0


# -- CTC ---------------------------------------------------------------------------------------
CTC_CASES = [   # (labels padded with 0, T, K)
    ([[1], [2]], 3, 3), ([[1, 2], [2, 0]], 4, 3), ([[1, 1], [1, 0]], 4, 2),
    ([[0, 0], [2, 1]], 2, 3), ([[1, 1, 0]], 3, 2), ([[2, 1, 2]], 4, 3), ([[0, 1, 2]], 4, 3),
]


@pytest.mark.parametrize("labels, t_len, k", CTC_CASES)
def test_ctc_matches_brute_force(backend, labels, t_len, k):
    lab = np.array(labels)
    z = RNG.normal(size=(len(lab), t_len, k))
    got = val(losses.ctc(backend.asarray(lab), backend.asarray(z)), backend)
    exp = [ref_ctc(lab[i], z[i]) for i in range(len(lab))]
    np.testing.assert_allclose(got, exp, rtol=1e-9)


def test_ctc_infeasible_and_softmax_input(backend):
    lab = backend.asarray(np.array([[1, 1], [1, 0]]))
    z = RNG.normal(size=(2, 2, 2))   # [1, 1] needs 3 steps (a blank between the repeats)
    zt = Tensor(backend.asarray(z), requires_grad=True)
    out = losses.ctc(lab, zt)
    got = val(out, backend)
    assert np.isinf(got[0]) and got[1] == pytest.approx(ref_ctc([1, 0], z[1]), rel=1e-9)
    out.backward(backend.asarray(np.ones(2)))
    g = backend.to_numpy(zt.grad)
    assert np.all(g[0] == 0) and np.all(np.isfinite(g))
    # softmax outputs: the remembered logits are used (probabilities in, true CTC out)
    z3 = RNG.normal(size=(2, 4, 3))
    lab3 = np.array([[1, 2], [2, 0]])
    soft = losses.ctc(backend.asarray(lab3), ops.softmax(backend.asarray(z3)))
    np.testing.assert_allclose(val(soft, backend), [ref_ctc(lab3[i], z3[i]) for i in range(2)],
                               rtol=1e-9)


def test_ctc_gradient_is_softmax_minus_occupancy(backend):
    lab = backend.asarray(np.array([[1, 2, 0], [1, 1, 0], [0, 0, 0]]))
    check_grad(lambda z: losses.ctc(lab, z), [RNG.normal(size=(3, 4, 3))], backend=backend)
    check_grad(lambda z: losses.CTC(reduction="sum")(lab, ops.softmax(z)),
               [RNG.normal(size=(3, 4, 3))], backend=backend)


def test_ctc_bad_shapes(backend):
    with pytest.raises(ValueError, match="y_pred"):
        losses.ctc(np.array([[1]]), backend.asarray(np.zeros((1, 3))))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        losses.ctc(np.array([[3]]), backend.asarray(np.zeros((1, 2, 3))))


# -- Circle ------------------------------------------------------------------------------------
def test_circle_values_and_mask(backend):
    lab = np.array([0, 0, 1, 1, 2, 3])
    e = unit_rows(6, 4)
    per = losses.circle(backend.asarray(lab), backend.asarray(e))
    exp = ref_circle(lab, e)
    np.testing.assert_allclose(val(per, backend), exp, rtol=1e-9)
    mean = losses.Circle()(backend.asarray(lab), backend.asarray(e))
    assert float(mean.data) == pytest.approx(exp[exp > 0].mean(), rel=1e-9)  # zeros masked
    kw = {"gamma": 10.0, "margin": 0.25, "remove_diagonal": False}
    got = losses.circle(backend.asarray(lab), backend.asarray(e), **kw)
    np.testing.assert_allclose(val(got, backend), ref_circle(lab, e, 10.0, 0.25, False),
                               rtol=1e-9)


# -- gradients (float64, central differences) -------------------------------------------------
GRAD_CASES = {
    "bfce": (lambda: Y01, lambda: np.clip(P01, 0.1, 0.9),
             lambda y, p: losses.binary_focal_crossentropy(y, p, apply_class_balancing=True)),
    "bfce_logits": (lambda: Y01, lambda: RNG.normal(size=(3, 4)),
                    lambda y, p: losses.binary_focal_crossentropy(
                        y, p, from_logits=True, gamma=1.5, label_smoothing=0.1)),
    "cfce": (lambda: np.eye(4)[[1, 0, 3]], lambda: RNG.uniform(0.1, 1, (3, 4)),
             lambda y, p: losses.categorical_focal_crossentropy(y, p)),
    "cfce_logits": (lambda: np.eye(4)[[1, 0, 3]], lambda: RNG.normal(size=(3, 4)),
                    lambda y, p: losses.categorical_focal_crossentropy(
                        y, p, from_logits=True, alpha=[0.1, 0.2, 0.3, 0.4])),
    "dice": (lambda: Y01, lambda: RNG.uniform(0, 1, (3, 4)),
             lambda y, p: losses.dice(y, p, axis=-1)),
    "tversky": (lambda: Y01, lambda: RNG.uniform(0, 1, (3, 4)),
                lambda y, p: losses.tversky(y, p, alpha=0.3, beta=0.7)),
}


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_gradients(backend, case):
    make_y, make_p, fn = GRAD_CASES[case]
    check_grad(fn, [make_y(), make_p()], backend=backend, wrt=[1])


def test_circle_gradient(backend):
    lab = backend.asarray(np.array([0, 0, 1, 1, 2]))
    check_grad(lambda e: losses.circle(lab, e, gamma=4.0), [unit_rows(5, 3)], backend=backend)


# Function subclass in gpunet.losses -> the test above that gradient-checks it
# (tests/ops/test_coverage.py scans gpunet.ops, where CTCLoss lives: it lists this file's
# test_ctc_gradient_is_softmax_minus_occupancy for it).
LOSS_FUNCTIONS: dict = {}


def test_every_loss_function_is_gradient_checked():
    found = set()
    for info in pkgutil.iter_modules(gpunet.losses.__path__):
        mod = importlib.import_module(f"gpunet.losses.{info.name}")
        found |= {n for n, o in vars(mod).items() if inspect.isclass(o)
                  and issubclass(o, Function) and o.__module__ == mod.__name__}
    assert found == set(LOSS_FUNCTIONS)


# -- configs, names, training ------------------------------------------------------------------
CLASSES = [
    (losses.BinaryFocalCrossentropy, {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.0,
                                      "from_logits": True, "label_smoothing": 0.1, "axis": -1}),
    (losses.CategoricalFocalCrossentropy, {"alpha": [0.5, 0.5], "gamma": 0.5}),
    (losses.Dice, {"axis": (1, 2)}),
    (losses.Tversky, {"alpha": 0.3, "beta": 0.7, "axis": None}),
    (losses.CTC, {}),
    (losses.Circle, {"gamma": 64.0, "margin": 0.25, "remove_diagonal": False}),
]


@pytest.mark.parametrize("cls, kw", CLASSES, ids=lambda v: getattr(v, "__name__", ""))
def test_config_round_trip_and_names(cls, kw):
    loss = cls(**kw, reduction="sum", name="mine")
    cfg = loss.get_config()
    assert cfg["reduction"] == "sum" and cfg["name"] == "mine"
    assert all(cfg[k] == v for k, v in kw.items())
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is cls and again.get_config() == cfg
    assert isinstance(losses.get(cls.__name__), cls)
    default = cls()
    fn = getattr(losses, default.name)
    assert losses.get(default.name) is fn


def test_keras_positional_order_and_bad_arguments():
    assert losses.Dice("sum", "d", (1, 2)).get_config()["axis"] == (1, 2)
    assert losses.Tversky(0.2, 0.8, "none").get_config()["beta"] == 0.8
    with pytest.raises(ValueError, match="gamma"):
        losses.BinaryFocalCrossentropy(gamma=-1.0)
    with pytest.raises(TypeError, match="axis"):
        losses.Dice(axis="all")
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.CategoricalFocalCrossentropy(label_smoothing=2.0)


def test_focal_and_ctc_train_through_compile(backend):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    m = Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=optimizers.Adam(0.05), loss="binary_focal_crossentropy")
    h = m.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]
    xs = rng.normal(size=(16, 4, 2)).astype("float32")
    ys = np.where(xs[:, :2, :1].sum(-1) > 0, 1, 2)
    m = Sequential([layers.Input((4, 2)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer=optimizers.Adam(0.05), loss="ctc")
    h = m.fit(xs, ys, epochs=5, batch_size=8, verbose=0)
    assert np.all(np.isfinite(h.history["loss"]))
    assert h.history["loss"][-1] < h.history["loss"][0]
