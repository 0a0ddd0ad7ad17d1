"""Accuracy metrics against NumPy references and Keras's documented values."""

import numpy as np
import pytest

from gpunet import metrics

RNG = np.random.default_rng(3)


def run(metric, backend, *batches):
    for b in batches:
        y, p = b[0], b[1]
        w = b[2] if len(b) > 2 else None
        metric.update_state(backend.asarray(y), backend.asarray(p),
                            None if w is None else backend.asarray(w))
    return float(metric.result())


def wmean(v, w=None):
    w = np.ones(len(v)) if w is None else w
    return float((v * w).sum() / w.sum())


def test_documented_examples(backend):
    assert run(metrics.Accuracy(), backend,
               (np.array([[1], [2], [3], [4]]), np.array([[0], [2], [3], [4]]),
                np.array([1.0, 1, 0, 0]))) == pytest.approx(0.5)
    assert run(metrics.BinaryAccuracy(), backend,
               (np.array([[1], [1], [0], [0]]), np.array([[0.98], [1], [0], [0.6]]))) == 0.75
    y, p = np.array([[0, 0, 1], [0, 1, 0]]), np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert run(metrics.CategoricalAccuracy(), backend, (y, p, np.array([0.7, 0.3]))) == \
        pytest.approx(0.3)
    assert run(metrics.SparseCategoricalAccuracy(), backend,
               (np.array([[2], [1]]), np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0]]),
                np.array([0.7, 0.3]))) == pytest.approx(0.3)
    assert run(metrics.TopKCategoricalAccuracy(k=1), backend, (y, p)) == 0.5
    assert run(metrics.SparseTopKCategoricalAccuracy(k=1), backend,
               (np.array([2, 1]), p, np.array([0.7, 0.3]))) == pytest.approx(0.3)


def test_against_numpy_over_two_batches_with_zero_weights(backend):
    k = 5
    batches = []
    for n in (7, 1):                          # the second batch is a single sample
        lab = RNG.integers(0, k, n)
        p = RNG.random((n, k))
        w = RNG.choice([0.0, 0.5, 2.0], n)
        batches.append((lab, p, w))
    lab = np.concatenate([b[0] for b in batches])
    p = np.concatenate([b[1] for b in batches])
    w = np.concatenate([b[2] for b in batches])
    hit = (p.argmax(1) == lab).astype(float)
    assert run(metrics.SparseCategoricalAccuracy(), backend, *batches) == pytest.approx(
        wmean(hit, w))
    onehot = [(np.eye(k)[b[0]], b[1], b[2]) for b in batches]
    assert run(metrics.CategoricalAccuracy(), backend, *onehot) == pytest.approx(wmean(hit, w))
    rank = (p > p[np.arange(len(lab)), lab][:, None]).sum(1)
    for kk in (1, 2, 5):
        ref = wmean((rank < kk).astype(float), w)
        assert run(metrics.SparseTopKCategoricalAccuracy(k=kk), backend, *batches) == \
            pytest.approx(ref)
        assert run(metrics.TopKCategoricalAccuracy(k=kk), backend, *onehot) == \
            pytest.approx(ref)


def test_top_k_ties_count_as_in(backend):
    p = np.array([[0.3, 0.3, 0.3, 0.1]])
    assert run(metrics.SparseTopKCategoricalAccuracy(k=1), backend, (np.array([2]), p)) == 1.0
    assert run(metrics.SparseTopKCategoricalAccuracy(k=1), backend, (np.array([3]), p)) == 0.0


def test_binary_accuracy_threshold_and_multi_column(backend):
    y = np.array([[1, 0, 1], [0, 0, 1]], "float32")
    p = np.array([[0.0, 0.7, 1.0], [0.2, 0.4, 0.5]], "float32")
    ref = ((p > 0.5) == y).mean(1)
    assert run(metrics.BinaryAccuracy(), backend, (y, p)) == pytest.approx(ref.mean())
    ref = ((p > 0.3) == y).mean(1)
    assert run(metrics.BinaryAccuracy(threshold=0.3), backend, (y, p, np.array([1.0, 0.0]))) \
        == pytest.approx(ref[0])
    z = np.array([[-2.0], [0.5], [3.0]])
    assert run(metrics.BinaryAccuracy(threshold=0.0), backend,
               (np.array([0.0, 0.0, 1.0]), z)) == pytest.approx(2 / 3)


def test_accuracy_resolution_from_shapes():
    assert isinstance(metrics.get("accuracy", (8, 1), (8, 1)), metrics.BinaryAccuracy)
    assert isinstance(metrics.get("acc", (8,), (8, 4)), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("acc", (8, 1), (8, 4)), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("accuracy", (8, 4), (8, 4)), metrics.CategoricalAccuracy)
    assert metrics.get("acc", (8,), (8, 4)).name == "acc"


def test_unresolved_accuracy_decides_per_batch(backend):
    m = metrics.get("accuracy")
    assert run(m, backend, (np.array([1, 0]), np.array([[0.2, 0.8], [0.3, 0.7]]))) == 0.5
