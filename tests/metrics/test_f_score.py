"""F1Score / FBetaScore against NumPy formulas and Keras's documented values."""

import numpy as np
import pytest

from gpunet import metrics

EPS = 1e-7
Y = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], "int32")
P = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], "float32")


def ref_fbeta(y, p, beta=1.0, threshold=None, average=None, w=None):
    if threshold is None:
        pb = (p >= p.max(1, keepdims=True)) & (np.abs(p) > 1e-9)
    else:
        pb = p > threshold
    pb, y = pb.astype(float), y.astype(float)
    w = np.ones((len(y), 1)) if w is None else w.reshape(-1, 1)
    axis = None if average == "micro" else 0
    tp = (pb * y * w).sum(axis)
    fp = (pb * (1 - y) * w).sum(axis)
    fn = ((1 - pb) * y * w).sum(axis)
    support = (y * w).sum(axis)
    prec, rec = tp / (tp + fp + EPS), tp / (tp + fn + EPS)
    f = (1 + beta ** 2) * prec * rec / (beta ** 2 * prec + rec + EPS)
    if average == "weighted":
        return (f * support / (support.sum() + EPS)).sum()
    return f.mean() if average else f


def result(m, backend, *batches):
    for b in batches:
        m.update_state(*(backend.asarray(a) if a is not None else None for a in b))
    return backend.to_numpy(m.result())


def test_keras_documented_values(backend):
    np.testing.assert_allclose(result(metrics.F1Score(threshold=0.5), backend, (Y, P)),
                               [0.5, 0.8, 0.6666667], rtol=1e-6)
    np.testing.assert_allclose(result(metrics.FBetaScore(beta=2.0, threshold=0.5), backend,
                                      (Y, P)), [0.3846154, 0.90909094, 0.8333334], rtol=1e-6)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("threshold", [None, 0.5])
def test_averages_and_thresholds_over_batches(backend, average, threshold):
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, (9, 4))
    p = rng.random((9, 4))
    p[0] = 0.0                                     # an all-zero row predicts nothing
    w = rng.choice([0.0, 1.0, 2.0], 9)
    m = metrics.FBetaScore(average=average, beta=0.5, threshold=threshold)
    got = result(m, backend, (y[:8], p[:8], w[:8]), (y[8:], p[8:], w[8:]))
    np.testing.assert_allclose(got, ref_fbeta(y, p, 0.5, threshold, average, w), rtol=1e-6)


def test_reset_and_empty_micro(backend):
    m = metrics.F1Score(average="micro")
    assert float(m.result()) == 0.0
    result(m, backend, (Y, P))
    m.reset_state()
    assert float(m.result()) == 0.0


def test_invalid_arguments():
    with pytest.raises(ValueError, match="`average`"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="`beta`"):
        metrics.FBetaScore(beta=0.0)
    with pytest.raises(ValueError, match="`threshold`"):
        metrics.F1Score(threshold=1.5)
    with pytest.raises(ValueError, match=r"2D inputs.*\(3,\)"):
        metrics.F1Score().update_state(np.ones(3), np.ones(3))
