"""Bad arguments and data of fit / evaluate / predict / generators get errors naming them."""

import numpy as np
import pytest

import gpunet
from gpunet import layers


def _model():
    m = gpunet.Sequential([layers.Input((3,)), layers.Dense(4, activation="softmax")])
    m.compile("sgd", "sparse_categorical_crossentropy")
    return m


X = np.ones((8, 3), "float32")
Y = np.array([0, 1, 2, 3, 1, 1, 0, 0])


@pytest.mark.parametrize("kw", [
    {"batch_size": 0}, {"batch_size": -5}, {"batch_size": 2.5}, {"batch_size": True},
    {"steps_per_epoch": 0}, {"steps_per_epoch": -1}, {"validation_steps": 0},
    {"validation_batch_size": 0},
])
def test_fit_rejects_non_positive_counts(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=rf"fit\(\): `{name}` must be a positive integer"):
        _model().fit(X, Y, verbose=0, validation_split=0.25, **kw)


@pytest.mark.parametrize("kw", [{"epochs": -1}, {"initial_epoch": -2}, {"epochs": 1.5}])
def test_fit_rejects_bad_epochs(kw):
    with pytest.raises(ValueError, match=f"`{next(iter(kw))}` must be a non-negative"):
        _model().fit(X, Y, verbose=0, **kw)


@pytest.mark.parametrize("method,kw", [
    ("evaluate", {"batch_size": 0}), ("evaluate", {"steps": 0}),
    ("predict", {"batch_size": -1}), ("predict", {"steps": 0}),
])
def test_evaluate_and_predict_reject_non_positive_counts(method, kw):
    args = (X, Y) if method == "evaluate" else (X,)
    with pytest.raises(ValueError, match=rf"{method}\(\): `{next(iter(kw))}` must be a pos"):
        getattr(_model(), method)(*args, verbose=0, **kw)


def test_generator_steps_per_epoch_zero():
    def gen():
        while True:
            yield X, Y

    with pytest.raises(ValueError, match="`steps_per_epoch` must be a positive integer"):
        _model().fit(gen(), steps_per_epoch=0, verbose=0)


@pytest.mark.parametrize("label", [1.5, 0.25, np.nan])
def test_non_integer_sparse_label(label):
    y = Y.astype("float32")
    y[3] = label
    for call in (lambda m: m.fit(X, y, verbose=0), lambda m: m.evaluate(X, y, verbose=0),
                 lambda m: m.train_on_batch(X, y)):
        with pytest.raises(ValueError, match="expects integer class indices"):
            call(_model())


def test_non_integer_sparse_label_from_a_generator():
    def gen():
        while True:
            y = Y[:4].astype("float32")
            y[1] = 1.5
            yield X[:4], y

    with pytest.raises(ValueError, match="Batch 0 from the generator.*label value of 1.5"):
        _model().fit(gen(), steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="label value of 1.5"):
        _model().evaluate(gen(), steps=2, verbose=0)


def test_integral_float_labels_are_accepted():
    h = _model().fit(X, Y.astype("float32"), verbose=0)
    assert np.isfinite(h.history["loss"][0])


@pytest.mark.parametrize("where", ["x", "y", "sample_weight"])
def test_complex_data_is_refused(where):
    data = {"x": X, "y": Y.astype("float32"), "sample_weight": np.ones(8)}
    data[where] = data[where].astype(np.complex64)
    with pytest.raises(TypeError, match=f"`{where}` must hold numbers.*complex"):
        _model().fit(data["x"], data["y"], sample_weight=data["sample_weight"], verbose=0)


def test_complex_weights_are_refused(backend):
    m = _model()
    with pytest.raises(TypeError, match="complex value to variable 'dense.*/kernel'"):
        m.set_weights([w.astype(complex) for w in m.get_weights()])
    with pytest.raises(TypeError, match="imaginary part would be dropped"):
        m.weights[1].assign(np.ones(4, np.complex128))
    np.testing.assert_array_equal(m.weights[1].numpy(), 0.0)  # nothing written
