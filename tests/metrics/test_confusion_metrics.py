"""Confusion-matrix metrics against brute-force NumPy counts and Keras's worked examples."""

import math

import numpy as np
import pytest

from gpunet import metrics

EPS = 1e-7
RNG = np.random.default_rng(5)


def counts(y, p, thr, w=None):
    """(tp, fp, tn, fn) per threshold by brute force: positive iff p > t."""
    y, p = y.reshape(-1).astype(bool), p.reshape(-1)
    w = np.ones(len(y)) if w is None else np.broadcast_to(w, len(y))
    pos = p[None, :] > np.asarray(thr)[:, None]
    tp = (pos & y).astype(float) @ w
    fp = (pos & ~y).astype(float) @ w
    fn = (~pos & y).astype(float) @ w
    tn = (~pos & ~y).astype(float) @ w
    return tp, fp, tn, fn


def auc_thresholds(n):
    return np.array([-EPS] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + EPS])


def ref_auc(y, p, w, n, curve="ROC", method="interpolation"):
    tp, fp, tn, fn = counts(y, p, auc_thresholds(n), w)
    total = 0.0
    for i in range(n - 1):                                 # one interval at a time
        if curve == "PR" and method == "interpolation":
            pa, pb = tp[i] + fp[i], tp[i + 1] + fp[i + 1]
            dtp = tp[i] - tp[i + 1]
            slope = dtp / (pa - pb) if pa - pb > 0 else 0.0
            intercept = tp[i + 1] - slope * pb
            ratio = pa / pb if pa > 0 and pb > 0 else 1.0
            pos = tp[i + 1] + fn[i + 1]
            total += slope * (dtp + intercept * math.log(ratio)) / pos if pos > 0 else 0.0
            continue

        def rate(a, b):
            return a / (a + b) if a + b > 0 else 0.0
        if curve == "ROC":
            x0, x1 = rate(fp[i], tn[i]), rate(fp[i + 1], tn[i + 1])
            h0, h1 = rate(tp[i], fn[i]), rate(tp[i + 1], fn[i + 1])
        else:
            x0, x1 = rate(tp[i], fn[i]), rate(tp[i + 1], fn[i + 1])
            h0, h1 = rate(tp[i], fp[i]), rate(tp[i + 1], fp[i + 1])
        h = {"interpolation": (h0 + h1) / 2, "minoring": min(h0, h1),
             "majoring": max(h0, h1)}[method]
        total += (x0 - x1) * h
    return total


def update(m, backend, y, p, w=None):
    m.update_state(backend.asarray(y), backend.asarray(p),
                   None if w is None else backend.asarray(w))
    return backend.to_numpy(m.result()) if hasattr(m.result(), "shape") else m.result()


# -- counts, precision, recall ----------------------------------------------------------------
@pytest.mark.parametrize("cls, idx", [(metrics.TruePositives, 0), (metrics.FalsePositives, 1),
                                      (metrics.TrueNegatives, 2), (metrics.FalseNegatives, 3)])
def test_condition_counts_with_unsorted_thresholds(backend, cls, idx):
    y = RNG.integers(0, 2, (6, 5))
    p = RNG.random((6, 5)).astype("float32")
    w = RNG.choice([0.0, 1.0, 1.5], (6, 1))
    thr = [0.85, 0.15, 0.5]
    got = update(cls(thresholds=thr), backend, y, p, w)
    expected = counts(y, p.astype(float), thr, np.broadcast_to(w, (6, 5)).reshape(-1))[idx]
    np.testing.assert_allclose(got, expected)
    single = update(cls(), backend, y, p)
    assert np.shape(single) == () and float(single) == counts(y, p.astype(float), [0.5])[idx][0]


def test_keras_documented_counts_and_precision(backend):
    assert float(update(metrics.FalsePositives(), backend, np.array([0, 1, 0, 0]),
                        np.array([0, 0, 1, 1.0]))) == 2
    assert float(update(metrics.TruePositives(), backend, np.array([0, 1, 1, 1]),
                        np.array([1, 0, 1, 1.0]), np.array([0, 0, 1, 0.0]))) == 1
    assert float(update(metrics.Precision(), backend, np.array([0, 1, 1, 1]),
                        np.array([1, 0, 1, 1.0]))) == pytest.approx(2 / 3)
    assert float(update(metrics.Recall(), backend, np.array([0, 1, 1, 1]),
                        np.array([1, 0, 1, 1.0]))) == pytest.approx(2 / 3)
    top2 = update(metrics.Precision(top_k=2), backend, np.array([[0, 0, 1, 1]]),
                  np.array([[1, 1, 1, 1.0]]))
    assert float(top2) == 0.0                      # ties broken by position: first two kept
    top4 = update(metrics.Precision(top_k=4), backend, np.array([[0, 0, 1, 1]]),
                  np.array([[1, 1, 1, 1.0]]))
    assert float(top4) == 0.5


def test_precision_recall_against_numpy_over_batches(backend):
    thr = [0.3, 0.7]
    prec, rec = metrics.Precision(thresholds=thr), metrics.Recall(thresholds=thr)
    ys, ps, ws = [], [], []
    for n in (9, 1):
        y, p, w = RNG.integers(0, 2, n), RNG.random(n), RNG.choice([0.0, 2.0, 1.0], n)
        for m in (prec, rec):
            update(m, backend, y, p, w)
        ys.append(y), ps.append(p), ws.append(w)
    tp, fp, _, fn = counts(np.concatenate(ys), np.concatenate(ps), thr, np.concatenate(ws))
    np.testing.assert_allclose(backend.to_numpy(prec.result()), tp / (tp + fp))
    np.testing.assert_allclose(backend.to_numpy(rec.result()), tp / (tp + fn))


def test_precision_recall_top_k_and_class_id(backend):
    y = np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 1, 1]])
    p = np.array([[0.1, 0.6, 0.2, 0.9], [0.8, 0.3, 0.4, 0.1], [0.2, 0.7, 0.6, 0.5]])
    # class 2: predicted > 0.5 only in row 2 (label 1) -> precision 1; labels in rows 0, 2
    assert float(update(metrics.Precision(class_id=2), backend, y, p)) == 1.0
    assert float(update(metrics.Recall(class_id=2), backend, y, p)) == 0.5
    # top 2 per row: row0 {3, 1}, row1 {0, 2}, row2 {1, 2}: tp = 1 + 1 + 1, fp = 3
    assert float(update(metrics.Precision(top_k=2), backend, y, p)) == 0.5
    assert float(update(metrics.Recall(top_k=2), backend, y, p)) == pytest.approx(3 / 5)
    # top 1 restricted to class 3: only row 0 has class 3 on top, and its label is 0
    assert float(update(metrics.Precision(top_k=1, class_id=3), backend, y, p)) == 0.0
    assert float(update(metrics.Recall(top_k=1, class_id=3), backend, y, p)) == 0.0


def test_edge_cases_give_zero_not_nan(backend):
    assert float(metrics.Precision().result()) == 0.0
    r = update(metrics.Recall(), backend, np.zeros(4), np.array([0.0, 1.0, 1.0, 0.2]))
    assert float(r) == 0.0                         # no positive labels
    p = update(metrics.Precision(), backend, np.ones(3), np.array([0.0, 0.5, 0.1]))
    assert float(p) == 0.0                         # nothing above 0.5 (0.5 is not > 0.5)


# -- AUC --------------------------------------------------------------------------------------
def test_auc_keras_worked_examples(backend):
    y, p, w = np.array([0, 0, 1, 1]), np.array([0, 0.5, 0.3, 0.9]), np.array([1, 2, 3, 4.0])
    assert float(update(metrics.AUC(num_thresholds=3), backend, y, p)) == pytest.approx(0.75)
    assert float(update(metrics.AUC(num_thresholds=3), backend, y, p, np.array([1, 0, 0, 1.0]))) \
        == pytest.approx(1.0)
    # tp = [7, 4, 0], fp = [3, 0, 0], fn = [0, 3, 7]; P = [10, 4, 0]; slopes [0.5, 1]
    # intercepts [2, 0]; ratio [2.5, 1] -> (0.5 (3 + 2 log 2.5) + 4) / 7
    pr = update(metrics.AUC(num_thresholds=3, curve="PR"), backend, y, p, w)
    assert float(pr) == pytest.approx((0.5 * (3 + 2 * math.log(2.5)) + 4) / 7, rel=1e-6)
    # precision [0.7, 1, 0], recall [1, 4/7, 0]
    mino = update(metrics.AUC(num_thresholds=3, curve="PR", summation_method="minoring"),
                  backend, y, p, w)
    assert float(mino) == pytest.approx(0.7 * 3 / 7, rel=1e-6)
    majo = update(metrics.AUC(num_thresholds=3, curve="PR", summation_method="majoring"),
                  backend, y, p, w)
    assert float(majo) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("method", ["interpolation", "minoring", "majoring"])
def test_auc_against_brute_force(backend, curve, method):
    m = metrics.AUC(num_thresholds=7, curve=curve, summation_method=method)
    ys, ps, ws = [], [], []
    for n in (20, 1):
        y, p = RNG.integers(0, 2, n), RNG.random(n).astype("float32")
        w = RNG.choice([0.0, 1.0, 3.0], n)
        update(m, backend, y, p, w)
        ys.append(y), ps.append(p.astype(float)), ws.append(w)
    ref = ref_auc(np.concatenate(ys), np.concatenate(ps), np.concatenate(ws), 7, curve, method)
    assert float(m.result()) == pytest.approx(ref, rel=1e-6, abs=1e-9)


def test_auc_with_many_thresholds_approaches_exact_roc_auc(backend):
    y = RNG.integers(0, 2, 400)
    p = np.clip(0.3 * y + RNG.random(400) * 0.7, 0, 1)
    got = float(update(metrics.AUC(num_thresholds=2000), backend, y, p))
    pos, neg = p[y == 1], p[y == 0]
    exact = ((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
    assert got == pytest.approx(exact, abs=2e-3)


def test_auc_predictions_exactly_zero_and_one(backend):
    y, p = np.array([0, 1, 0, 1]), np.array([0.0, 1.0, 0.0, 1.0])
    assert float(update(metrics.AUC(), backend, y, p)) == pytest.approx(1.0)
    assert float(update(metrics.AUC(curve="PR"), backend, y, p)) == pytest.approx(1.0)
    assert float(update(metrics.AUC(), backend, 1 - y, p)) == pytest.approx(0.0)


def test_auc_explicit_thresholds_logits_and_multilabel(backend):
    y = RNG.integers(0, 2, (12, 3))
    p = RNG.random((12, 3))
    m = metrics.AUC(thresholds=[0.5, 0.25, 0.75])
    assert m.num_thresholds == 5 and m.thresholds[1:-1] == [0.25, 0.5, 0.75]
    got = float(update(m, backend, y, p))
    thr = np.array([-EPS, 0.25, 0.5, 0.75, 1 + EPS])
    tp, fp, tn, fn = counts(y, p, thr)
    tpr, fpr = tp / (tp + fn), fp / (fp + tn)
    assert got == pytest.approx(((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2).sum())
    z = np.log(p / (1 - p))
    lg = float(update(metrics.AUC(num_thresholds=9, from_logits=True), backend, y, z))
    assert lg == pytest.approx(ref_auc(y, p, None, 9), rel=1e-6)
    multi = metrics.AUC(num_thresholds=9, multi_label=True)
    per = [ref_auc(y[:, j], p[:, j], None, 9) for j in range(3)]
    assert float(update(multi, backend, y, p)) == pytest.approx(np.mean(per), rel=1e-6)
    lw = metrics.AUC(num_thresholds=9, multi_label=True, num_labels=3, label_weights=[1, 0, 3])
    assert float(update(lw, backend, y, p)) == pytest.approx((per[0] + 3 * per[2]) / 4, rel=1e-6)


def test_auc_reset_and_accumulation(backend):
    m = metrics.AUC(num_thresholds=5)
    assert float(m.result()) == 0.0
    y, p = np.array([1, 0, 1]), np.array([0.9, 0.2, 0.4])
    update(m, backend, y, p)
    update(m, backend, 1 - y, p)
    assert float(m.result()) == pytest.approx(ref_auc(np.r_[y, 1 - y], np.r_[p, p], None, 5))
    m.reset_state()
    assert float(m.result()) == 0.0
    assert float(update(m, backend, y, p)) == pytest.approx(ref_auc(y, p, None, 5))


def test_state_stays_on_the_device(backend):
    for m in (metrics.AUC(), metrics.Precision(thresholds=[0.2, 0.4]), metrics.Recall()):
        update(m, backend, np.array([1, 0]), np.array([0.7, 0.1]))
        for v in m._acc.values():
            assert isinstance(v, backend.xp.ndarray)
        r = m.result()       # NumPy reductions give NumPy scalars; CuPy keeps 0-d arrays
        assert isinstance(r, backend.xp.ndarray) or (backend.name == "numpy"
                                                     and isinstance(r, np.generic))
