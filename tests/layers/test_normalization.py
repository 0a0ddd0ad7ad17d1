"""Normalization layers (Batch, Layer, Group, Unit) and their fused ``Normalize`` op: values
against NumPy formulas, float64 gradient checks, the moving statistics, weights, saving."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Sequential, layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.ops import normalization_ops as norm


def _r(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _t(backend, a, dtype="float32"):
    return Tensor(backend.asarray(np.asarray(a, dtype)))


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _bn_ref(x, axis, gamma, beta, mean=None, var=None, eps=1e-3):
    """NumPy batch normalization; batch statistics (biased variance) unless given."""
    red = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    if mean is None:
        mean, var = x.mean(axis=red), x.var(axis=red)
    m, v = mean.reshape(shape), var.reshape(shape)
    return gamma.reshape(shape) * (x - m) / np.sqrt(v + eps) + beta.reshape(shape), mean, var


# -- the fused op: float64 gradient checks -------------------------------------------------------
GRAD_CASES = {
    "bn_last_axis": (lambda x, g, b: norm.batch_normalization(x, g, b, axis=-1)[0],
                     [(4, 3, 5), (5,), (5,)]),
    "bn_channels_first_4d": (lambda x, g, b: norm.batch_normalization(x, g, b, axis=1)[0],
                             [(3, 2, 3, 2), (2,), (2,)]),
    "bn_fixed_stats": (lambda x, g, b: norm.batch_normalization(
        x, g, b, axis=-1, mean=np.array([0.3, -0.2, 0.1]),
        variance=np.array([0.5, 2.0, 1.5]))[0], [(4, 3), (3,), (3,)]),
    "bn_masked": (lambda x, g, b: norm.batch_normalization(
        x, g, b, axis=-1, mask=np.array([[1, 1, 0], [1, 0, 0]], bool))[0],
        [(2, 3, 4), (4,), (4,)]),
    "bn_no_affine": (lambda x: norm.batch_normalization(x, axis=-1)[0], [(5, 3)]),
    "ln_last_axis": (lambda x, g, b: norm.layer_normalization(x, g, b), [(3, 4, 5), (5,), (5,)]),
    "ln_two_axes": (lambda x, g, b: norm.layer_normalization(x, g, b, axis=(1, 2)),
                    [(2, 3, 4), (3, 4), (3, 4)]),
    "ln_rms": (lambda x, g: norm.layer_normalization(x, g, rms_scaling=True), [(3, 6), (6,)]),
    "ln_scale_only": (lambda x, g: norm.layer_normalization(x, g), [(3, 4), (4,)]),
    "gn_last_axis": (lambda x, g, b: norm.group_normalization(x, g, b, groups=2),
                     [(2, 3, 6), (6,), (6,)]),
    "gn_channels_first": (lambda x, g, b: norm.group_normalization(x, g, b, groups=2, axis=1),
                          [(2, 4, 3), (4,), (4,)]),
}


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_normalize_gradients(backend, case):
    fn, shapes = GRAD_CASES[case]
    inputs = [_r(i, *s) + (1.0 if i == 1 else 0.0) for i, s in enumerate(shapes)]
    check_grad(fn, inputs, backend=backend)
    check_grad(fn, inputs, backend=backend, wrt=[1] if len(inputs) > 1 else [0])


# -- BatchNormalization ----------------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", [((6, 4), -1), ((3, 5, 4), -1), ((2, 3, 4, 4), 1),
                                        ((2, 4, 4, 3), -1), ((2, 4, 4, 3), 3)], ids=str)
def test_batch_norm_training_and_inference_values(backend, shape, axis):
    x = _r(0, *shape).astype("float32") * 2 + 1
    c = shape[axis]
    layer = layers.BatchNormalization(axis=axis, gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    y = _np(backend, layer(_t(backend, x), training=True))
    gamma, beta, mm, mv = layer.get_weights()
    assert gamma.shape == (c,) and beta.shape == (c,)
    ref, mean, var = _bn_ref(x.astype("float64"), axis, gamma, beta)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mm, 0.01 * mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mv, 0.99 + 0.01 * var, rtol=1e-5)
    for training in (False, None):  # inference: the moving statistics
        y = _np(backend, layer(_t(backend, x), training=training))
        ref, _, _ = _bn_ref(x.astype("float64"), axis, gamma, beta, mm, mv)
        np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(layer.get_weights()[2], mm)  # inference updates nothing


def test_moving_statistics_trajectory_by_hand(backend):
    layer = layers.BatchNormalization(momentum=0.5)
    steps = [[[1.0], [3.0]], [[0.0], [4.0]], [[5.0], [5.0]]]  # batch mean/var: 2/1, 2/4, 5/0
    # moving = moving * 0.5 + batch * 0.5, from mean 0 and variance 1
    want = [(1.0, 1.0), (1.5, 2.5), (3.25, 1.25)]
    for xb, (m, v) in zip(steps, want):
        layer(_t(backend, xb), training=True)
        np.testing.assert_allclose(layer.get_weights()[2:], [[m], [v]], rtol=1e-6)


def test_moving_statistics_in_fit_live_in_the_state_buffer(backend):
    model = Sequential([layers.Input((1,)), layers.BatchNormalization()])
    model.compile(optimizer="sgd", loss="mse")
    steps = [[[1.0], [3.0]], [[0.0], [4.0]], [[5.0], [5.0]]]
    # momentum 0.99: m <- 0.99 m + 0.01 mean_B, v <- 0.99 v + 0.01 var_B (biased)
    want = [(0.02, 1.0), (0.0398, 1.03), (0.089402, 1.0197)]
    bn = model.layers[0]
    for xb, (m, v) in zip(steps, want):
        model.train_on_batch(np.array(xb, "float32"), np.zeros((2, 1), "float32"))
        np.testing.assert_allclose(model.get_weights()[2:], [[m], [v]], rtol=1e-5)
    (state,) = model._state_groups
    np.testing.assert_allclose(_np(backend, state.data), [0.089402, 1.0197], rtol=1e-5)
    assert bn.moving_mean.data.base is not None  # still a view into the flat buffer


def test_inference_after_fit_uses_the_moving_statistics(backend):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((64, 3)) * [1.0, 3.0, 0.5] + [2.0, -1.0, 0.0]).astype("float32")
    model = Sequential([layers.Input((3,)), layers.BatchNormalization(momentum=0.9)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x * 0.5, epochs=3, batch_size=16, shuffle=False, verbose=0)
    gamma, beta, mm, mv = model.get_weights()
    assert not np.allclose(gamma, 1) and not np.allclose(mm, 0)  # both trained / updated
    ref = gamma * (x - mm) / np.sqrt(mv + 1e-3) + beta
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(backend, model(x)), ref, rtol=1e-5, atol=1e-5)


def test_weights_in_keras_order_with_names(backend):
    layer = layers.BatchNormalization()
    layer(_t(backend, np.ones((2, 3, 5))))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean",
                                               "moving_variance"]
    assert [w.path for w in layer.weights][0] == "batch_normalization/gamma"
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert [tuple(w.shape) for w in layer.weights] == [(5,)] * 4
    gamma, beta, mm, mv = layer.get_weights()
    assert (gamma == 1).all() and (beta == 0).all() and (mm == 0).all() and (mv == 1).all()
    assert layer.count_params() == 20
    plain = layers.BatchNormalization(center=False, scale=False)
    plain(_t(backend, np.ones((2, 5))))
    assert [w.name for w in plain.weights] == ["moving_mean", "moving_variance"]
    m = Sequential([layers.Input((4,)), layers.Dense(2), layers.BatchNormalization()])
    assert [w.path for w in m.weights][2:] == [
        "batch_normalization_2/gamma", "batch_normalization_2/beta",
        "batch_normalization_2/moving_mean", "batch_normalization_2/moving_variance"]


def test_frozen_layer_runs_in_inference_mode(backend):
    x = _r(2, 8, 3).astype("float32") + 3
    layer = layers.BatchNormalization(trainable=False)
    xt = Tensor(backend.asarray(x), requires_grad=True)
    y = layer(xt, training=True)
    np.testing.assert_allclose(_np(backend, y), x / np.sqrt(1 + 1e-3), rtol=1e-6)
    y.sum().backward()  # gradients still reach the input, not the frozen weights
    np.testing.assert_allclose(_np(backend, xt.grad), np.full_like(x, 1 / np.sqrt(1.001)),
                               rtol=1e-6)
    assert layer.gamma.grad is None and layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 4
    np.testing.assert_array_equal(layer.get_weights()[2:], [np.zeros(3), np.ones(3)])


def test_integer_inputs_are_normalized_in_the_layer_dtype(backend):
    x = np.array([[0, 10], [4, 30]], "uint8")
    for layer in (layers.BatchNormalization(momentum=0.0), layers.LayerNormalization(),
                  layers.GroupNormalization(groups=1), layers.UnitNormalization()):
        y = layer(Tensor(backend.asarray(x)), training=True)
        assert y.dtype == np.float32, type(layer).__name__
    y = layers.BatchNormalization()(Tensor(backend.asarray(x)), training=True)
    np.testing.assert_allclose(_np(backend, y), [[-1, -1], [1, 1]], atol=1e-3)


def test_masked_batch_statistics(backend):
    x = _r(3, 2, 4, 3).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    layer = layers.BatchNormalization(momentum=0.0)
    y = _np(backend, layer(_t(backend, x), training=True, mask=backend.asarray(mask)))
    sel = x[mask]  # the 5 unmasked time steps
    mean, var = sel.mean(0), sel.var(0)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[2:], [mean, var], rtol=1e-5, atol=1e-6)


def test_bn_round_trip_keeps_moving_statistics(tmp_path, backend):
    x = _r(4, 32, 4).astype("float32") * 3 + 1
    model = Sequential([layers.Input((4,)), layers.Dense(3), layers.BatchNormalization()])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x[:, :3], epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "bn.h5")
    with h5py.File(tmp_path / "bn.h5", "r") as f:
        names = list(f["model_weights/batch_normalization"].attrs["weight_names"])
    assert [n.split("/")[-1] for n in names] == ["gamma:0", "beta:0", "moving_mean:0",
                                                  "moving_variance:0"]
    loaded = gpunet.models.load_model(tmp_path / "bn.h5")
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(loaded.layers[1].get_weights()[2], 0)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_loads_a_keras2_file_with_batch_normalization(tmp_path, backend):
    """A tf.keras 2 style ``.h5`` (config with ``axis: [1]``, Keras 2 names and keys)."""
    import json

    rng = np.random.default_rng(14)
    w = {"dense": [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=4).astype(
        "float32")], "batch_normalization": [rng.normal(size=4).astype("float32") for _ in
                                             range(3)] + [rng.random(4).astype("float32") + 0.5]}
    init = {"class_name": "Zeros", "config": {}}
    bn_cfg = {"name": "batch_normalization", "trainable": True, "dtype": "float32", "axis": [1],
              "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
              "beta_initializer": init, "gamma_initializer": init,
              "moving_mean_initializer": init, "moving_variance_initializer": init,
              "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
              "gamma_constraint": None, "fused": None, "renorm": False}
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3],
                                                "dtype": "float32", "name": "dense_input"}},
        {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "units": 4,
                                           "activation": "linear", "use_bias": True}},
        {"class_name": "BatchNormalization", "config": bn_cfg},
        {"class_name": "LeakyReLU", "config": {"name": "leaky_re_lu", "trainable": True,
                                               "dtype": "float32", "alpha": 0.1}}]}}
    names = {"dense": ["kernel", "bias"],
             "batch_normalization": ["gamma", "beta", "moving_mean", "moving_variance"]}
    with h5py.File(tmp_path / "k2.h5", "w") as f:
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"dense", b"batch_normalization", b"leaky_re_lu"]
        for layer in ("dense", "batch_normalization", "leaky_re_lu"):
            lg = g.create_group(layer)
            wn = [f"{layer}/{v}:0" for v in names.get(layer, [])]
            lg.attrs["weight_names"] = [n.encode() for n in wn] if wn else np.array(
                [], np.float64)
            for n, a in zip(wn, w.get(layer, [])):
                lg.create_dataset(n, data=a)
    with pytest.warns(UserWarning, match="No training configuration"):
        model = gpunet.models.load_model(tmp_path / "k2.h5")
    x = rng.normal(size=(5, 3)).astype("float32")
    gamma, beta, mm, mv = w["batch_normalization"]
    h = gamma * (x @ w["dense"][0] + w["dense"][1] - mm) / np.sqrt(mv + 1e-3) + beta
    np.testing.assert_allclose(model.predict(x, verbose=0), np.where(h >= 0, h, 0.1 * h),
                               rtol=1e-5, atol=1e-5)


def test_round_trip_with_batch_and_layer_normalization(tmp_path, backend, round_trip):
    x = _r(5, 16, 6).astype("float32")
    y = _r(6, 16, 2).astype("float32")
    model = Sequential([layers.Input((6,)), layers.Dense(8), layers.BatchNormalization(),
                        layers.ReLU(), layers.Dense(4), layers.LayerNormalization(),
                        layers.Dense(2)])
    loaded = round_trip(model, x, y, tmp_path)
    assert isinstance(loaded.layers[1], layers.BatchNormalization)
    np.testing.assert_array_equal(loaded.layers[1].get_weights()[2],
                                  model.layers[1].get_weights()[2])


def test_channels_first_4d_batch_norm_in_a_model(tmp_path, backend, round_trip):
    x = _r(12, 8, 2, 3, 3).astype("float32") * 2 + 1
    y = _r(13, 8, 2).astype("float32")
    model = Sequential([layers.Input((2, 3, 3)), layers.BatchNormalization(axis=1),
                        layers.Flatten(), layers.Dense(2)])
    assert model.layers[0].gamma.shape == (2,)
    loaded = round_trip(model, x, y, tmp_path)
    mm = loaded.layers[0].get_weights()[2]
    assert mm.shape == (2,) and not np.allclose(mm, 0)  # two training steps moved it


def test_mlp_with_batch_norm_learns_digits():
    (x, y), (xt, yt) = gpunet.datasets.digits.load_data()
    x = x.reshape(len(x), -1).astype("float32") / 16
    xt = xt.reshape(len(xt), -1).astype("float32") / 16
    gpunet.utils.set_random_seed(0)
    model = Sequential([layers.Input((64,)), layers.Dense(64), layers.BatchNormalization(),
                        layers.ReLU(), layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    _, acc = model.evaluate(xt, yt, verbose=0)
    assert acc > 0.9


def test_batch_norm_config_and_keras2_keys():
    layer = layers.BatchNormalization(axis=[1, 3], momentum=0.9, epsilon=1e-5, center=False,
                                      gamma_regularizer="l2", synchronized=True)
    cfg = layer.get_config()
    assert cfg["axis"] == [1, 3] and cfg["momentum"] == 0.9 and cfg["synchronized"] is True
    assert cfg["moving_variance_initializer"] == {"class_name": "Ones", "config": {}}
    assert layers.BatchNormalization.from_config(cfg).get_config() == cfg
    k2 = {"name": "bn", "axis": [3], "momentum": 0.99, "epsilon": 0.001, "fused": None,
          "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99,
          "virtual_batch_size": None, "adjustment": None, "trainable": True}
    assert layers.BatchNormalization.from_config(k2).axis == [3]
    with pytest.raises(ValueError, match="renorm"):
        layers.BatchNormalization(renorm=True)


def test_batch_norm_multiple_axes(backend):
    x = _r(7, 2, 3, 4).astype("float32")
    layer = layers.BatchNormalization(axis=[1, 2])
    y = _np(backend, layer(_t(backend, x), training=True))
    assert layer.gamma.shape == (1, 3, 4)  # Keras 2 layout for several axes
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-4,
                               atol=1e-5)


def test_batch_norm_errors_name_layer_expected_and_received(backend):
    with pytest.raises(ValueError, match=r"momentum.*Received: momentum=1.5"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match=r"epsilon.*Received: epsilon=0"):
        layers.BatchNormalization(epsilon=0)
    with pytest.raises(TypeError, match=r"axis.*Received: axis='channels'"):
        layers.BatchNormalization(axis="channels")
    layer = layers.BatchNormalization(name="bn")
    layer(_t(backend, np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"'bn'.*expected axis 1 of input shape to have "
                                         r"value 4.*\(None, 5\)"):
        layer(_t(backend, np.ones((2, 5))))
    with pytest.raises(ValueError, match=r"'bn'.*ndim=2, found ndim=3"):
        layer(_t(backend, np.ones((2, 3, 4))))
    with pytest.raises(ValueError, match=r"'bn3'.*axis 3 is out of range.*\(None, 4\)"):
        layers.BatchNormalization(axis=3, name="bn3")(_t(backend, np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"defined dimension.*\(None, None\)"):
        layers.BatchNormalization().build((None, None))


# -- LayerNormalization, GroupNormalization, UnitNormalization --------------------------------
def test_layer_norm_values(backend):
    x = _r(8, 3, 4, 5).astype("float32") * 2 + 1
    layer = layers.LayerNormalization(gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    y = _np(backend, layer(_t(backend, x)))
    gamma, beta = layer.get_weights()
    assert [w.name for w in layer.weights] == ["gamma", "beta"]
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(y, gamma * (x - mean) / np.sqrt(var + 1e-3) + beta, rtol=1e-4,
                               atol=1e-5)
    both = layers.LayerNormalization(axis=[1, 2], epsilon=1e-5)
    y = _np(backend, both(_t(backend, x)))
    assert both.gamma.shape == (4, 5)
    mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)


def test_layer_norm_rms_scaling(backend):
    x = _r(9, 4, 6).astype("float32") + 0.5
    layer = layers.LayerNormalization(rms_scaling=True, gamma_initializer="random_normal")
    y = _np(backend, layer(_t(backend, x)))
    assert [w.name for w in layer.weights] == ["gamma"]
    (gamma,) = layer.get_weights()
    ref = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-3) * gamma
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_layer_norm_errors_and_config(backend):
    layer = layers.LayerNormalization(name="ln")
    layer(_t(backend, np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"'ln'.*expected axis 1 of input shape to have "
                                         r"value 4.*\(None, 6\)"):
        layer(_t(backend, np.ones((2, 6))))
    with pytest.raises(ValueError, match=r"duplicate axis"):
        layers.LayerNormalization(axis=[1, -1])(_t(backend, np.ones((2, 4))))
    cfg = layers.LayerNormalization(axis=[1, 2], rms_scaling=True, center=False).get_config()
    assert cfg["axis"] == [1, 2] and cfg["rms_scaling"] is True and cfg["epsilon"] == 1e-3
    assert layers.LayerNormalization.from_config(cfg).get_config() == cfg


@pytest.mark.parametrize("axis", [-1, 1])
def test_group_norm_values(backend, axis):
    x = _r(10, 2, 6, 5).astype("float32") if axis == 1 else _r(10, 2, 5, 6).astype("float32")
    layer = layers.GroupNormalization(groups=3, axis=axis, gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    y = _np(backend, layer(_t(backend, x)))
    gamma, beta = layer.get_weights()
    assert gamma.shape == (6,)
    xc = np.moveaxis(x, axis, -1)  # (2, 5, 6): channels last, groups of 2 channels
    g = xc.reshape(2, 5, 3, 2)
    mean, var = g.mean((1, 3), keepdims=True), g.var((1, 3), keepdims=True)
    ref = ((g - mean) / np.sqrt(var + 1e-3)).reshape(2, 5, 6) * gamma + beta
    np.testing.assert_allclose(y, np.moveaxis(ref, -1, axis), rtol=1e-4, atol=1e-5)


def test_group_norm_errors(backend):
    with pytest.raises(ValueError, match=r"'gn'.*groups \(4\).*channels \(3\)"):
        layers.GroupNormalization(groups=4, name="gn")(_t(backend, np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"'gn'.*channels \(6\).*multiple.*groups \(4\)"):
        layers.GroupNormalization(groups=4, name="gn")(_t(backend, np.ones((2, 6))))
    with pytest.raises(ValueError, match="groups=0"):
        layers.GroupNormalization(groups=0)
    inst = layers.GroupNormalization(groups=-1)  # one group per channel
    inst(_t(backend, np.ones((2, 3, 4))))
    assert inst._groups == 4 and inst.get_config()["groups"] == -1


def test_unit_normalization(backend):
    x = np.array([[3.0, 4.0], [0.0, 0.0]], "float32")
    y = _np(backend, layers.UnitNormalization()(_t(backend, x)))
    np.testing.assert_allclose(y, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    x3 = _r(11, 2, 3, 4)
    layer = layers.UnitNormalization(axis=[1, 2], dtype="float64")
    y = _np(backend, layer(Tensor(backend.asarray(x3))))
    np.testing.assert_allclose(y, x3 / np.sqrt((x3 ** 2).sum((1, 2), keepdims=True)))
    check_grad(lambda t: layer(t), [x3], backend=backend)
    assert layer.get_config()["axis"] == [1, 2]
