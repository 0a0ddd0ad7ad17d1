"""IoU family, R2Score, correlation metrics, operating-point metrics, MeanRelativeError and
MeanTensor against NumPy formulas written here, plus configs, names and a fit run."""

import warnings

import numpy as np
import pytest

from gpunet import Sequential, layers, metrics, optimizers, registry

EPS = 1e-7
RNG = np.random.default_rng(11)


def feed(m, backend, *batches):
    """update_state on each (y_true, y_pred[, w]) batch; the result as NumPy."""
    for b in batches:
        m.update_state(*(None if a is None else backend.asarray(np.asarray(a)) for a in b))
    r = m.result()
    return backend.to_numpy(r) if hasattr(r, "shape") else np.asarray(r)


# -- IoU ----------------------------------------------------------------------------------
def ref_cm(t, p, n, w=None, ignore=None):
    t, p = np.asarray(t).reshape(-1).astype(int), np.asarray(p).reshape(-1).astype(int)
    w = np.ones(len(t)) if w is None else np.broadcast_to(np.asarray(w, float).reshape(-1),
                                                          len(t))
    cm = np.zeros((n, n))
    for ti, pi, wi in zip(t, p, w):
        if ti == ignore or not (0 <= ti < n and 0 <= pi < n):
            continue
        cm[ti, pi] += wi
    return cm


def ref_iou(cm, ids):
    tp = np.diag(cm)
    den = cm.sum(0) + cm.sum(1) - tp
    tp, den = tp[ids], den[ids]
    return (tp / (den + EPS)).sum() / ((den > 1e-9).sum() + EPS)


def test_iou_keras_documented_values(backend):
    iou = metrics.IoU(num_classes=2, target_class_ids=[0])
    assert float(feed(iou, backend, ([0, 0, 1, 1], [0, 1, 0, 1]))) == pytest.approx(1 / 3, 1e-6)
    mean = metrics.MeanIoU(num_classes=2)
    got = feed(mean, backend, ([0, 0, 1, 1], [0, 1, 0, 1], [0.3, 0.3, 0.3, 0.1]))
    assert float(got) == pytest.approx(0.23809525, rel=1e-6)
    b = metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    assert float(feed(b, backend, ([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7]))) == pytest.approx(
        1 / 3, rel=1e-6)
    b.reset_state()
    got = feed(b, backend, ([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], [0.2, 0.3, 0.4, 0.1]))
    assert float(got) == pytest.approx(0.17361112, rel=1e-6)
    yt = np.eye(3)[[2, 0, 1, 0]]
    yp = np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
    sw = [0.1, 0.2, 0.3, 0.4]
    got = feed(metrics.OneHotIoU(3, [0, 2]), backend, (yt, yp, sw))
    assert float(got) == pytest.approx((0.1 / 0.7) / 2, rel=1e-5)
    got = feed(metrics.OneHotMeanIoU(3), backend, (yt, yp, sw))
    assert float(got) == pytest.approx((0.1 / 0.7) / 3, rel=1e-5)


def test_iou_over_batches_with_weights_and_ignore_class(backend):
    n = 4
    m = metrics.IoU(n, [0, 2, 3], ignore_class=255)
    mean = metrics.MeanIoU(n, ignore_class=255)
    ts, ps, ws = [], [], []
    for shape in ((6, 5), (3, 5)):                 # segmentation-like maps, void = 255
        t = RNG.integers(0, n, shape)
        t[RNG.random(shape) < 0.2] = 255
        p = RNG.integers(0, n, shape)
        w = RNG.choice([0.0, 0.5, 2.0], shape[0])
        full = w[:, None] * np.ones(shape)
        for metric, sw in ((m, w), (mean, full)):     # per-sample and per-pixel weights
            metric.update_state(backend.asarray(t), backend.asarray(p), backend.asarray(sw))
        ts.append(t.ravel()), ps.append(p.ravel()), ws.append(full.ravel())
    cm = ref_cm(np.concatenate(ts), np.concatenate(ps), n, np.concatenate(ws), ignore=255)
    np.testing.assert_allclose(backend.to_numpy(m.total_cm), cm)
    assert float(m.result()) == pytest.approx(ref_iou(cm, [0, 2, 3]), rel=1e-9)
    assert float(mean.result()) == pytest.approx(ref_iou(cm, list(range(n))), rel=1e-9)
    m.reset_state()
    assert float(m.result()) == 0.0
    assert float(feed(m, backend, ([0, 2, 3], [0, 2, 3]))) == pytest.approx(1.0, rel=1e-6)


def test_iou_dense_inputs_axis_and_unseen_classes(backend):
    scores_t = RNG.random((5, 3, 4))                # class axis 1
    scores_p = RNG.random((5, 3, 4))
    m = metrics.IoU(3, [0, 1, 2], sparse_y_true=False, sparse_y_pred=False, axis=1)
    got = feed(m, backend, (scores_t, scores_p))
    cm = ref_cm(scores_t.argmax(1), scores_p.argmax(1), 3)
    assert float(got) == pytest.approx(ref_iou(cm, [0, 1, 2]), rel=1e-9)
    # class 2 never appears: it is left out of the mean instead of counting as 0
    got = feed(metrics.MeanIoU(3), backend, ([0, 1, 1, 0], [0, 1, 0, 0]))
    assert float(got) == pytest.approx((2 / 3 + 1 / 2) / 2, rel=1e-6)
    oh = metrics.OneHotIoU(3, [1], ignore_class=0)   # ignores entries labelled class 0
    got = feed(oh, backend, (np.eye(3)[[0, 1, 1, 2]], np.eye(3)[[1, 1, 2, 2]]))
    assert float(got) == pytest.approx(1 / 2, rel=1e-6)


# -- R2Score ------------------------------------------------------------------------------
def ref_r2(t, p, w, aggregation, p_reg=0):
    w = np.broadcast_to(w[:, None] if w.ndim == 1 else w, t.shape)
    mean = (w * t).sum(0) / w.sum(0)
    ss_tot = (w * (t - mean) ** 2).sum(0)
    ss_res = (w * (t - p) ** 2).sum(0)
    raw = 1 - ss_res / ss_tot
    score = {"uniform_average": raw.mean(), None: raw,
             "variance_weighted_average": (ss_tot * raw).sum() / ss_tot.sum()}[aggregation]
    if p_reg:
        n = t.size
        score = 1 - (1 - score) * (n - 1) / (n - p_reg - 1)
    return score


@pytest.mark.parametrize("aggregation", ["uniform_average", "variance_weighted_average", None])
def test_r2_score_over_batches_with_weights(backend, aggregation):
    t = RNG.normal(size=(15, 3)) * [1.0, 3.0, 0.5]
    p = t + RNG.normal(size=(15, 3)) * 0.7
    w = RNG.choice([0.0, 1.0, 2.5], 15)
    m = metrics.R2Score(class_aggregation=aggregation)
    got = feed(m, backend, (t[:10], p[:10], w[:10]), (t[10:], p[10:], w[10:]))
    np.testing.assert_allclose(got, ref_r2(t, p, w, aggregation), rtol=1e-9)
    adj = metrics.R2Score(aggregation, num_regressors=4)
    got = feed(adj, backend, (t, p, w))
    np.testing.assert_allclose(got, ref_r2(t, p, w, aggregation, 4), rtol=1e-9)


def test_r2_score_keras_example_edge_cases_and_reset(backend):
    m = metrics.R2Score()
    assert float(m.result()) == 0.0
    got = feed(m, backend, (np.array([[1.0], [4.0], [3.0]]), np.array([[2.0], [4.0], [4.0]])))
    assert float(got) == pytest.approx(0.57142854, rel=1e-6)
    m.reset_state()
    const = feed(m, backend, (np.ones((4, 1)), np.zeros((4, 1))))
    assert float(const) == 0.0                     # SS_tot = 0: Keras's inf -> 0
    big = metrics.R2Score(num_regressors=5)
    with pytest.warns(UserWarning, match="More independent predictors"):
        got = feed(big, backend, (np.array([[1.0], [4.0], [3.0]]),
                                  np.array([[2.0], [4.0], [4.0]])))
    assert float(got) == pytest.approx(0.57142854, rel=1e-6)


# -- correlation --------------------------------------------------------------------------
def ref_pearson(t, p):
    a, b = t - t.mean(-1, keepdims=True), p - p.mean(-1, keepdims=True)
    a, b = a / (a.std(-1, keepdims=True) + EPS), b / (b.std(-1, keepdims=True) + EPS)
    return (a * b).mean(-1)


def ref_ccc(t, p):
    mt, mp = t.mean(-1, keepdims=True), p.mean(-1, keepdims=True)
    num = 2 * ((t - mt) * (p - mp)).mean(-1, keepdims=True)
    return (num / (t.var(-1, keepdims=True) + p.var(-1, keepdims=True) + (mt - mp) ** 2
                   + EPS))[..., 0]


@pytest.mark.parametrize("cls, ref", [(metrics.PearsonCorrelation, ref_pearson),
                                      (metrics.ConcordanceCorrelation, ref_ccc)])
def test_correlations_over_batches_with_weights(backend, cls, ref):
    t = RNG.normal(size=(9, 6))
    p = 0.8 * t + 0.3 + RNG.normal(size=(9, 6)) * 0.5
    w = RNG.choice([0.0, 1.0, 3.0], 9)
    got = feed(cls(), backend, (t[:5], p[:5], w[:5]), (t[5:], p[5:], w[5:]))
    per = ref(t, p)
    assert float(got) == pytest.approx((per * w).sum() / w.sum(), rel=1e-9)
    yt, yp = [[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]]
    assert float(feed(cls(), backend, (yt, yp))) == pytest.approx(
        ref(np.array(yt), np.array(yp)).mean(), rel=1e-9)


# -- operating-point metrics --------------------------------------------------------------
def rates(y, p, w, n):
    thr = np.array([0.5]) if n == 1 else np.r_[0.0, [(i + 1) / (n - 1) for i in range(n - 2)],
                                                1.0]
    p = np.clip(p, 0, 1) if n > 1 else p
    pos = p[None, :] > thr[:, None]
    y = y.astype(bool)
    tp, fp = (pos & y) @ w, (pos & ~y) @ w
    fn, tn = (~pos & y) @ w, (~pos & ~y) @ w

    def div(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b != 0)
    return {"recall": div(tp, tp + fn), "precision": div(tp, tp + fp),
            "specificity": div(tn, tn + fp)}


def best(r, constrained, dependent, value):
    ok = r[constrained] >= value
    return r[dependent][ok].max() if ok.any() else 0.0


AT = [(metrics.PrecisionAtRecall, "recall", "precision"),
      (metrics.RecallAtPrecision, "precision", "recall"),
      (metrics.SensitivityAtSpecificity, "specificity", "recall"),
      (metrics.SpecificityAtSensitivity, "recall", "specificity")]


@pytest.mark.parametrize("cls, constrained, dependent", AT)
@pytest.mark.parametrize("num_thresholds", [1, 9, 200])
def test_operating_point_metrics_over_batches(backend, cls, constrained, dependent,
                                              num_thresholds):
    y = RNG.integers(0, 2, (24, 3))
    p = np.clip(0.35 * y + RNG.random((24, 3)) * 0.7 - 0.05, -0.1, 1.1)  # some out of [0, 1]
    w = RNG.choice([0.0, 1.0, 2.0], 24)
    for value in (0.4, 0.8):
        m = cls(value, num_thresholds=num_thresholds, class_id=1)
        got = feed(m, backend, (y[:16], p[:16], w[:16]), (y[16:], p[16:], w[16:]))
        ref = best(rates(y[:, 1], p[:, 1], w, num_thresholds), constrained, dependent, value)
        assert float(got) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    flat = cls(0.6, num_thresholds=num_thresholds)
    got = feed(flat, backend, (y, p))
    ref = best(rates(y.ravel(), p.ravel(), np.ones(y.size), num_thresholds), constrained,
               dependent, 0.6)
    assert float(got) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    flat.reset_state()
    assert float(flat.result()) == 0.0


def test_operating_point_keras_documented_values(backend):
    y, p = [0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]
    assert float(feed(metrics.SensitivityAtSpecificity(0.5), backend, (y, p))) == 0.5
    got = feed(metrics.SensitivityAtSpecificity(0.5), backend, (y, p, [1, 1, 2, 2, 1]))
    assert float(got) == pytest.approx(1 / 3)
    assert float(feed(metrics.SpecificityAtSensitivity(0.5), backend, (y, p))) == \
        pytest.approx(2 / 3)
    assert float(feed(metrics.SpecificityAtSensitivity(0.5), backend,
                      (y, p, [1, 1, 2, 2, 2]))) == 0.5
    assert float(feed(metrics.PrecisionAtRecall(0.5), backend, (y, p))) == 0.5
    assert float(feed(metrics.PrecisionAtRecall(recall=0.5), backend,
                      (y, p, [2, 2, 2, 1, 1]))) == pytest.approx(1 / 3)
    y4, p4 = [0, 0, 1, 1], [0, 0.5, 0.3, 0.9]
    assert float(feed(metrics.RecallAtPrecision(0.8), backend, (y4, p4))) == 0.5
    assert float(feed(metrics.RecallAtPrecision(0.8), backend, (y4, p4, [1, 0, 0, 1]))) == 1.0
    # predictions are clipped to [0, 1]: 1.5 is not above the last threshold (1.0)
    assert float(feed(metrics.PrecisionAtRecall(0.5), backend, ([1, 0], [1.5, 1.0]))) == 0.5


# -- MeanRelativeError, MeanTensor --------------------------------------------------------
def test_mean_relative_error_and_mean_tensor(backend):
    norm = np.array([1.0, 3.0, 0.0, 3.0])
    m = metrics.MeanRelativeError(normalizer=norm)
    t, p = RNG.random((2, 5, 4))
    w = np.array([1.0, 0.0, 2.0, 1.0, 1.0])
    got = feed(m, backend, (t[:3], p[:3], w[:3]), (t[3:], p[3:], w[3:]))
    rel = np.divide(np.abs(t - p), norm, out=np.zeros_like(t), where=norm != 0).mean(-1)
    assert float(got) == pytest.approx((rel * w).sum() / w.sum(), rel=1e-9)
    mt = metrics.MeanTensor()
    v = RNG.random((3, 2, 2))
    wt = RNG.choice([0.0, 1.0, 0.5], (3, 2, 2))
    got = feed(mt, backend, *[(v[i], wt[i]) for i in range(3)])
    np.testing.assert_allclose(got, np.divide((v * wt).sum(0), wt.sum(0),
                                              out=np.zeros((2, 2)), where=wt.sum(0) != 0))
    with pytest.raises(ValueError, match="same shape"):
        mt.update_state(backend.asarray(np.ones(3)))
    mt.reset_state()
    np.testing.assert_array_equal(backend.to_numpy(mt.result()), np.zeros((2, 2)))


# -- focal cross-entropies (running means of the gpunet.losses functions) ------------------
def test_focal_crossentropy_metrics_over_batches(backend):
    y = RNG.integers(0, 2, (10, 3)).astype(float)
    p = RNG.uniform(0.02, 0.98, (10, 3))
    w = RNG.choice([0.0, 1.0, 2.0], 10)
    m = metrics.BinaryFocalCrossentropy(gamma=1.5, apply_class_balancing=True, alpha=0.3)
    got = feed(m, backend, (y[:6], p[:6], w[:6]), (y[6:], p[6:], w[6:]))
    c = np.clip(p, EPS, 1 - EPS)
    bce = -(y * np.log(c) + (1 - y) * np.log(1 - c))
    p_t = y * p + (1 - y) * (1 - p)
    per = ((1 - p_t) ** 1.5 * bce * (0.3 * y + 0.7 * (1 - y))).mean(-1)
    assert float(got) == pytest.approx((per * w).sum() / w.sum(), rel=1e-6)
    onehot = np.eye(3)[RNG.integers(0, 3, 10)]
    cat = metrics.CategoricalFocalCrossentropy(alpha=0.5, gamma=2.0)
    got = feed(cat, backend, (onehot[:4], p[:4], w[:4]), (onehot[4:], p[4:], w[4:]))
    q = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    per = (0.5 * (1 - q) ** 2 * -onehot * np.log(q)).sum(-1)
    assert float(got) == pytest.approx((per * w).sum() / w.sum(), rel=1e-6)
    assert metrics.get("binary_focal_crossentropy").name == "binary_focal_crossentropy"


# -- configs, names, errors ---------------------------------------------------------------
CONFIGS = {
    "IoU": {"num_classes": 4, "target_class_ids": [1, 3], "ignore_class": 255,
            "sparse_y_true": False, "sparse_y_pred": True, "axis": 1},
    "MeanIoU": {"num_classes": 3, "ignore_class": -1, "sparse_y_pred": False},
    "BinaryIoU": {"target_class_ids": [1], "threshold": 0.3},
    "OneHotIoU": {"num_classes": 3, "target_class_ids": [0], "sparse_y_pred": True},
    "OneHotMeanIoU": {"num_classes": 5, "ignore_class": 0, "axis": -1},
    "R2Score": {"class_aggregation": None, "num_regressors": 2},
    "PearsonCorrelation": {"axis": 0}, "ConcordanceCorrelation": {"axis": -1},
    "PrecisionAtRecall": {"recall": 0.7, "num_thresholds": 50, "class_id": 2},
    "RecallAtPrecision": {"precision": 0.9, "num_thresholds": 10},
    "SensitivityAtSpecificity": {"specificity": 0.4, "class_id": 0},
    "SpecificityAtSensitivity": {"sensitivity": 0.2, "num_thresholds": 1},
    "MeanRelativeError": {"normalizer": [1.0, 2.0]}, "MeanTensor": {"shape": [2, 3]},
    "BinaryFocalCrossentropy": {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.0,
                                "from_logits": True, "label_smoothing": 0.1, "axis": -1},
    "CategoricalFocalCrossentropy": {"alpha": [0.2, 0.8], "gamma": 3.0},
}


@pytest.mark.parametrize("cls_name", sorted(CONFIGS))
def test_config_round_trip(cls_name):
    cls = getattr(metrics, cls_name)
    obj = cls(**CONFIGS[cls_name], name="m1")
    cfg = obj.get_config()
    assert cfg["name"] == "m1"
    for k, v in CONFIGS[cls_name].items():
        assert cfg[k] == v
    again = cls.from_config(cfg)
    assert type(again) is cls and again.get_config() == cfg
    ser = metrics.serialize(obj)
    assert registry.deserialize("metric", ser).get_config() == cfg


@pytest.mark.parametrize("name, cls", [
    ("binary_io_u", metrics.BinaryIoU), ("BinaryIoU", metrics.BinaryIoU),
    ("r2_score", metrics.R2Score), ("PearsonCorrelation", metrics.PearsonCorrelation),
    ("pearson_correlation", metrics.MeanMetricWrapper),
    ("concordance_correlation", metrics.MeanMetricWrapper),
    ("ConcordanceCorrelation", metrics.ConcordanceCorrelation),
    ("mean_relative_error", None), ("mean_io_u", None), ("precision_at_recall", None),
])
def test_keras_string_names(name, cls):
    if cls is None:                                 # needs arguments, as in Keras
        with pytest.raises(TypeError):
            metrics.get(name)
        assert isinstance(registry.lookup("metric", name), type)
        return
    m = metrics.get(name)
    assert isinstance(m, cls) and m.name == name


def test_default_names_and_invalid_arguments():
    assert metrics.MeanIoU(2).name == "mean_io_u" and metrics.IoU(2, [0]).name == "io_u"
    assert metrics.BinaryIoU().name == "binary_io_u"
    assert metrics.OneHotMeanIoU(2).name == "one_hot_mean_io_u"
    assert metrics.RecallAtPrecision(0.5).name == "recall_at_precision"
    assert metrics.R2Score().name == "r2_score"
    with pytest.raises(ValueError, match="`target_class_ids`"):
        metrics.IoU(2, [2])
    with pytest.raises(ValueError, match="`num_classes`"):
        metrics.MeanIoU(0)
    with pytest.raises(ValueError, match="`class_aggregation`"):
        metrics.R2Score(class_aggregation="mean")
    with pytest.raises(ValueError, match="`num_regressors`"):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match="`recall`"):
        metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match="`num_thresholds`"):
        metrics.SpecificityAtSensitivity(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match=r"R2Score expects 2D.*\(3,\)"):
        metrics.R2Score().update_state(np.ones(3), np.ones(3))


# -- in fit / evaluate --------------------------------------------------------------------
def test_new_metrics_logged_by_fit_and_evaluate(backend):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = (x[:, :1] - 0.5 * x[:, 1:2] > 0).astype("float32")
    m = Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=optimizers.SGD(0.1), loss="binary_crossentropy",
              metrics=["binary_io_u", metrics.PrecisionAtRecall(0.5),
                       metrics.MeanIoU(2), "r2_score", "pearson_correlation"])
    h = m.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    assert list(h.history) == sorted(["loss", "binary_io_u", "precision_at_recall", "mean_io_u",
                                      "r2_score", "pearson_correlation"])  # as Keras 3
    assert all(np.isfinite(v).all() for v in h.history.values())
    res = m.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    p = m.predict(x, verbose=0).astype(float)
    assert res["binary_io_u"] == pytest.approx(
        ref_iou(ref_cm(y, p >= 0.5, 2), [0, 1]), rel=1e-5)
    r = rates(y.ravel(), p.ravel(), np.ones(48), 200)
    assert res["precision_at_recall"] == pytest.approx(best(r, "recall", "precision", 0.5),
                                                       rel=1e-5)
    assert res["r2_score"] == pytest.approx(ref_r2(y, p, np.ones(48), "uniform_average"),
                                            rel=1e-4)
    assert res["pearson_correlation"] == 0.0       # one value per sample: no spread
    # MeanIoU on probabilities: the ids are truncated (all 0), as Keras casts them to int
    assert res["mean_io_u"] == pytest.approx(ref_iou(ref_cm(y, p, 2), [0, 1]), rel=1e-6)


def test_iou_of_a_softmax_segmentation_head_in_evaluate(backend):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20, 6, 3)).astype("float32")
    lab = rng.integers(0, 3, (20, 6))
    m = Sequential([layers.Input((6, 3)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
              metrics=[metrics.MeanIoU(3, sparse_y_pred=False),
                       metrics.IoU(3, [2], sparse_y_pred=False, name="iou_2")])
    res = m.evaluate(x, lab, batch_size=8, verbose=0, return_dict=True)
    cm = ref_cm(lab, m.predict(x, verbose=0).argmax(-1), 3)
    assert res["mean_io_u"] == pytest.approx(ref_iou(cm, [0, 1, 2]), rel=1e-6)
    assert res["iou_2"] == pytest.approx(ref_iou(cm, [2]), rel=1e-6)


def test_no_warnings_from_empty_or_constant_columns(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.R2Score().result()
        metrics.MeanIoU(3).result()
        metrics.PrecisionAtRecall(0.5).result()
