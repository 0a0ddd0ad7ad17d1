"""Loss configs (get_config → from_config), registry look-ups and bad-input errors."""

import math

import numpy as np
import pytest

from gpunet import losses, registry

CLASSES = {
    "CategoricalCrossentropy": ({"from_logits": True, "label_smoothing": 0.2, "axis": -1},
                                "categorical_crossentropy"),
    "SparseCategoricalCrossentropy": ({"from_logits": True, "ignore_class": 255},
                                      "sparse_categorical_crossentropy"),
    "BinaryCrossentropy": ({"label_smoothing": 0.1}, "binary_crossentropy"),
    "MeanSquaredError": ({}, "mean_squared_error"),
    "MeanAbsoluteError": ({}, "mean_absolute_error"),
    "MeanAbsolutePercentageError": ({}, "mean_absolute_percentage_error"),
    "MeanSquaredLogarithmicError": ({}, "mean_squared_logarithmic_error"),
    "Hinge": ({}, "hinge"),
    "SquaredHinge": ({}, "squared_hinge"),
    "CategoricalHinge": ({}, "categorical_hinge"),
    "KLDivergence": ({}, "kl_divergence"),
    "Poisson": ({}, "poisson"),
    "Huber": ({"delta": 0.25}, "huber_loss"),
    "LogCosh": ({}, "log_cosh"),
    "CosineSimilarity": ({"axis": 0}, "cosine_similarity"),
}


@pytest.mark.parametrize("cls_name", sorted(CLASSES))
def test_config_round_trip(cls_name):
    kwargs, default_name = CLASSES[cls_name]
    cls = getattr(losses, cls_name)
    assert cls().name == default_name
    obj = cls(**kwargs, reduction="sum", name="my_loss")
    cfg = obj.get_config()
    assert cfg["name"] == "my_loss" and cfg["reduction"] == "sum"
    for k, v in kwargs.items():
        assert cfg[k] == v
    again = cls.from_config(cfg)
    assert type(again) is cls and again.get_config() == cfg
    ser = losses.serialize(obj)
    assert ser["class_name"] == cls_name
    back = registry.deserialize("loss", ser)
    assert back.get_config() == cfg
    assert losses.get(ser).get_config() == cfg


def test_positional_arguments_follow_keras_order():
    h = losses.Huber(2.0, "sum", "h")
    assert (h.fn_kwargs["delta"], h.reduction, h.name) == (2.0, "sum", "h")
    m = losses.MeanSquaredError("none")
    assert m.reduction == "none"
    c = losses.CategoricalCrossentropy(True, 0.1)
    assert c.fn_kwargs["from_logits"] and c.fn_kwargs["label_smoothing"] == 0.1


def test_wrapper_of_a_custom_function_round_trips(backend):
    @registry.register_serializable()
    def twice_mae(y_true, y_pred, factor=2.0):
        return losses.mean_absolute_error(y_true, y_pred) * factor

    w = losses.LossFunctionWrapper(twice_mae, reduction="sum", factor=3.0)
    cfg = w.get_config()
    assert cfg["fn"] == "twice_mae" and cfg["factor"] == 3.0
    again = losses.LossFunctionWrapper.from_config(cfg)
    y, p = backend.asarray(np.zeros((2, 1))), backend.asarray(np.ones((2, 1)))
    assert float(again(y, p).data) == pytest.approx(6.0)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"Unknown loss: 'mean_sqared_error'.*Did you mean "
                                         r"'mean_squared_error'"):
        losses.get("mean_sqared_error")
    with pytest.raises(ValueError, match="Did you mean 'categorical_crossentropy'"):
        losses.get("categorical_crossentropi")


def test_invalid_reduction():
    with pytest.raises(ValueError, match="reduction.*'average'"):
        losses.MeanSquaredError(reduction="average")


@pytest.mark.parametrize("make, arg", [
    (lambda: losses.Huber(delta=-1.0), "delta"),
    (lambda: losses.Huber(delta=math.inf), "delta"),
    (lambda: losses.Huber(delta=math.nan), "delta"),
    (lambda: losses.Huber(delta=0.0), "delta"),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=1.5), "label_smoothing"),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=-0.1), "label_smoothing"),
    (lambda: losses.BinaryCrossentropy(label_smoothing=math.nan), "label_smoothing"),
])
def test_bad_hyper_parameters_are_refused_at_construction(make, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        make()


def test_bad_argument_types():
    with pytest.raises(TypeError, match="`from_logits`"):
        losses.BinaryCrossentropy(from_logits="yes")
    with pytest.raises(TypeError, match="`ignore_class`"):
        losses.SparseCategoricalCrossentropy(ignore_class=1.5)
    with pytest.raises(TypeError, match="unexpected keyword.*'delta'"):
        losses.MeanSquaredError(delta=1.0)
    with pytest.raises(ValueError, match="`label_smoothing`"):
        losses.categorical_crossentropy(np.ones((1, 2)), np.ones((1, 2)), label_smoothing=2)


def test_one_hot_targets_with_the_sparse_loss(backend):
    y = backend.asarray(np.eye(3)[[0, 2]])
    p = backend.asarray(np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*\(2,\).*\(2, 3\)"
                                         r".*one-hot.*use 'categorical_crossentropy'"):
        losses.SparseCategoricalCrossentropy()(y, p)


def test_integer_targets_with_the_categorical_loss(backend):
    p = backend.asarray(np.full((2, 3), 1 / 3))
    for y in (np.array([0, 2]), np.array([[0], [2]])):
        with pytest.raises(ValueError, match=r"categorical_crossentropy.*\(2, 3\).*integer-like"
                                             r".*\(2.*Use .sparse_categorical_crossentropy."):
            losses.CategoricalCrossentropy()(backend.asarray(y), p)


def test_shape_mismatch_names_loss_shapes_and_suggestion(backend):
    p = backend.asarray(np.full((4, 10), 0.1))
    with pytest.raises(ValueError, match=r"Loss 'mean_squared_error'.*y_true.shape=\(4, 3\)"
                                         r".*y_pred.shape=\(4, 10\)"):
        losses.mean_squared_error(backend.asarray(np.ones((4, 3))), p)
    with pytest.raises(ValueError, match=r"binary_crossentropy.*\(4,\).*\(4, 10\).*integer "
                                         r"class labels.*'sparse_categorical_crossentropy'"):
        losses.binary_crossentropy(backend.asarray(np.arange(4.0)), p)
    with pytest.raises(ValueError, match=r"one-hot encoded \(10 classes\).*softmax.*"
                                         r"'categorical_crossentropy'"):
        losses.binary_crossentropy(p, backend.asarray(np.full((4, 1), 0.5)))


def test_sparse_label_out_of_range():
    with pytest.raises(ValueError, match=r"label value of 3.*\[0, 2\]"):
        losses.sparse_categorical_crossentropy(np.array([0, 3]), np.full((2, 3), 1 / 3))


def test_crossentropy_resolved_from_shapes(backend):
    ce = losses.get("crossentropy")
    assert isinstance(ce, losses.Loss)
    p = backend.asarray(np.array([[0.2, 0.8], [0.6, 0.4]]))
    out = ce(backend.asarray(np.array([1, 0])), p)
    assert float(out.data) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert float(losses.get("ce")(backend.asarray(np.array([[1.0], [0.0]])),
                                  backend.asarray(np.array([[0.9], [0.2]]))).data) == pytest.approx(
        -(math.log(0.9) + math.log(0.8)) / 2)
