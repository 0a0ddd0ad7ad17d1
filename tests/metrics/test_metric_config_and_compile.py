"""Metric configs, look-ups by name, and metrics inside compile/fit/evaluate."""

import numpy as np
import pytest

from gpunet import Sequential, layers, metrics, ops, optimizers, registry

CONFIGS = {
    "Accuracy": {}, "BinaryAccuracy": {"threshold": 0.3}, "CategoricalAccuracy": {},
    "SparseCategoricalAccuracy": {}, "TopKCategoricalAccuracy": {"k": 2},
    "SparseTopKCategoricalAccuracy": {"k": 3}, "MeanSquaredError": {},
    "RootMeanSquaredError": {}, "MeanAbsoluteError": {}, "MeanAbsolutePercentageError": {},
    "MeanSquaredLogarithmicError": {}, "CosineSimilarity": {"axis": 0}, "LogCoshError": {},
    "BinaryCrossentropy": {"from_logits": True, "label_smoothing": 0.1},
    "CategoricalCrossentropy": {"from_logits": True, "label_smoothing": 0.2, "axis": -1},
    "SparseCategoricalCrossentropy": {"from_logits": True}, "KLDivergence": {}, "Poisson": {},
    "Hinge": {}, "SquaredHinge": {}, "CategoricalHinge": {}, "Mean": {}, "Sum": {},
    "Precision": {"thresholds": [0.2, 0.8], "top_k": 2, "class_id": 1},
    "Recall": {"thresholds": 0.3},
    "TruePositives": {"thresholds": [0.1, 0.9]}, "FalsePositives": {}, "TrueNegatives": {},
    "FalseNegatives": {"thresholds": 0.4},
    "AUC": {"num_thresholds": 50, "curve": "PR", "summation_method": "minoring",
            "multi_label": True, "num_labels": 3, "label_weights": [1.0, 2.0, 0.0],
            "from_logits": True},
    "F1Score": {"average": "macro", "threshold": 0.4},
    "FBetaScore": {"average": "weighted", "beta": 2.0},
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
    assert ser["class_name"] == cls_name
    assert registry.deserialize("metric", ser).get_config() == cfg
    assert metrics.get(ser).get_config() == cfg


def test_default_names_follow_keras():
    assert metrics.MeanSquaredError().name == "mean_squared_error"
    assert metrics.LogCoshError().name == "logcosh"
    assert metrics.AUC().name == "auc" and metrics.Precision().name == "precision"
    assert metrics.F1Score().name == "f1_score" and metrics.FBetaScore().name == "fbeta_score"
    assert metrics.RootMeanSquaredError().name == "root_mean_squared_error"
    assert metrics.TopKCategoricalAccuracy().fn_kwargs == {"k": 5}


def test_auc_explicit_thresholds_round_trip():
    a = metrics.AUC(thresholds=[0.1, 0.6, 0.3])
    b = metrics.AUC.from_config(a.get_config())
    assert b.thresholds == a.thresholds and b.num_thresholds == 5


def test_generic_wrapper_round_trip(backend):
    w = metrics.MeanMetricWrapper(metrics.binary_accuracy, name="ba", threshold=0.2)
    cfg = w.get_config()
    assert cfg["fn"] == "binary_accuracy" and cfg["threshold"] == 0.2
    again = metrics.MeanMetricWrapper.from_config(cfg)
    again.update_state(backend.asarray(np.array([[1.0], [0.0]])),
                       backend.asarray(np.array([[0.3], [0.3]])))
    assert float(again.result()) == 0.5


@pytest.mark.parametrize("name, cls", [
    ("mse", metrics.MeanMetricWrapper), ("MSE", metrics.MeanMetricWrapper),
    ("AUC", metrics.AUC), ("auc", metrics.AUC), ("precision", metrics.Precision),
    ("Recall", metrics.Recall), ("f1_score", metrics.F1Score),
    ("top_k_categorical_accuracy", metrics.MeanMetricWrapper),
    ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ("kullback_leibler_divergence", metrics.MeanMetricWrapper),
])
def test_get_by_name_keeps_the_string_as_log_key(name, cls):
    m = metrics.get(name)
    assert isinstance(m, cls) and m.name == name


def test_get_resolves_crossentropy_from_shapes():
    assert isinstance(metrics.get("crossentropy", (4, 1), (4, 1)), metrics.BinaryCrossentropy)
    assert isinstance(metrics.get("ce", (4,), (4, 3)), metrics.SparseCategoricalCrossentropy)
    ce = metrics.get("ce", (4, 3), (4, 3))
    assert isinstance(ce, metrics.CategoricalCrossentropy) and ce.name == "ce"


def test_unknown_metric_suggests_close_matches():
    with pytest.raises(ValueError, match=r"Unknown metric: 'mean_squared_eror'.*Did you mean "
                                         r"'mean_squared_error'"):
        metrics.get("mean_squared_eror")


def test_invalid_metric_arguments():
    with pytest.raises(ValueError, match="`thresholds`"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="`top_k`"):
        metrics.Recall(top_k=0)
    with pytest.raises(ValueError, match="`num_thresholds`"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="`curve`"):
        metrics.AUC(curve="ROCK")
    with pytest.raises(ValueError, match="`summation_method`"):
        metrics.AUC(summation_method="trapezoid")
    with pytest.raises(ValueError, match="`k`"):
        metrics.TopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match="`label_smoothing`"):
        metrics.BinaryCrossentropy(label_smoothing=2.0)
    with pytest.raises(ValueError, match=r"Metric 'precision'.*\(3,\).*\(3, 2\)"):
        metrics.Precision().update_state(np.ones(3), np.ones((3, 2)))


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, :1] + 0.5 * x[:, 1:2] > 0).astype("float32")
    return x, y


def test_string_metrics_in_compile_log_under_the_given_names(backend):
    x, y = data()
    m = Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid",
                                                     kernel_initializer="ones")])
    m.compile(optimizer=optimizers.SGD(0.1), loss="binary_crossentropy",
              metrics=["acc", "mse", "mae", "AUC", metrics.Precision(),
                       metrics.F1Score(average="micro", threshold=0.5)])
    h = m.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    # Keras 3 sorts the log keys
    assert list(h.history) == ["AUC", "acc", "f1_score", "loss", "mae", "mse", "precision"]
    res = m.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    p = m.predict(x, verbose=0)
    assert res["acc"] == pytest.approx(np.mean((p > 0.5) == y))
    assert res["mse"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-5)
    assert res["mae"] == pytest.approx(np.mean(np.abs(p - y)), rel=1e-5)
    pos = (p > 0.5)
    assert res["precision"] == pytest.approx((pos & (y == 1)).sum() / pos.sum(), rel=1e-6)
    prec, rec = (pos & (y == 1)).sum() / pos.sum(), (pos & (y == 1)).sum() / (y == 1).sum()
    assert res["f1_score"] == pytest.approx(2 * prec * rec / (prec + rec), rel=1e-4)
    eps = 1e-7
    thr = np.array([-eps] + [(i + 1) / 199 for i in range(198)] + [1 + eps], "float32")
    above = p.reshape(-1)[None, :] > thr[:, None]
    yy = y.reshape(-1) == 1
    tpr = (above & yy).sum(1) / yy.sum()
    fpr = (above & ~yy).sum(1) / (~yy).sum()
    auc = ((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2).sum()
    assert res["AUC"] == pytest.approx(auc, rel=1e-6)


def test_weighted_metrics_and_custom_metric_function(backend):
    x, y = data()
    w = np.where(np.arange(40) < 20, 1.0, 0.0).astype("float32")

    def mean_pred(y_true, y_pred):
        return ops.mean(y_pred, axis=-1)

    m = Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=optimizers.SGD(0.0), loss="binary_crossentropy",
              metrics=["mse", mean_pred], weighted_metrics=["mse"])
    res = m.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    p = m.predict(x, verbose=0)
    assert res["mse"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-5)
    assert res["weighted_mse"] == pytest.approx(np.mean((p[:20] - y[:20]) ** 2), rel=1e-5)
    assert res["mean_pred"] == pytest.approx(p.mean(), rel=1e-5)


def test_categorical_model_with_top_k_and_crossentropy_metrics(backend):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(30, 4)).astype("float32")
    lab = rng.integers(0, 5, 30)
    m = Sequential([layers.Input((4,)), layers.Dense(5, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
              metrics=["sparse_top_k_categorical_accuracy", "ce",
                       metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    res = m.evaluate(x, lab, batch_size=7, verbose=0, return_dict=True)
    p = m.predict(x, verbose=0)
    rank = (p > p[np.arange(30), lab][:, None]).sum(1)
    assert res["sparse_top_k_categorical_accuracy"] == pytest.approx(np.mean(rank < 5))
    assert res["top2"] == pytest.approx(np.mean(rank < 2))
    assert res["ce"] == pytest.approx(res["loss"], rel=1e-5)
