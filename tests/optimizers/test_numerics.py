"""Every optimizer against the Keras 3 update rule written out in plain NumPy (float64)."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import optimizers

# (class name, constructor kwargs); the reference gets the same kwargs minus the common ones.
CASES = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True, "rho": 0.8}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.7}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-3}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.5, "epsilon": 1e-4}),
    ("Adam", {"learning_rate": 0.1}),
    ("Adam", {"learning_rate": 0.1, "beta_2": 0.5, "amsgrad": True}),
    ("AdamW", {"learning_rate": 0.1}),
    ("AdamW", {"learning_rate": 0.1, "weight_decay": 0.1, "amsgrad": True, "beta_2": 0.5}),
    ("Adamax", {"learning_rate": 0.1}),
    ("Adamax", {"learning_rate": 0.1, "beta_1": 0.5, "beta_2": 0.8}),
    ("Nadam", {"learning_rate": 0.1}),
    ("Nadam", {"learning_rate": 0.1, "beta_1": 0.5, "beta_2": 0.9}),
    ("Ftrl", {"learning_rate": 0.1}),
    ("Ftrl", {"learning_rate": 0.5, "learning_rate_power": -0.7,
              "initial_accumulator_value": 0.2, "l1_regularization_strength": 0.05,
              "l2_regularization_strength": 0.02, "l2_shrinkage_regularization_strength": 0.03,
              "beta": 0.1}),
    ("Ftrl", {"learning_rate": 0.1, "learning_rate_power": 0.0}),
    ("Lion", {"learning_rate": 0.01}),
    ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.7}),
]
def _id(case):
    name, kw = case
    extra = ",".join(f"{k}={v}" for k, v in kw.items() if k != "learning_rate")
    return f"{name}({extra})"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_three_steps_match_keras_rule(case, ref, backend):
    name, kwargs = case
    vs = ref.make_variables(backend=backend)
    init = [ref.host(v.data) for v in vs]
    gs = ref.make_grads(3)
    opt = getattr(optimizers, name)(**kwargs)
    got = ref.run(opt, vs, gs)
    assert opt.iterations == 3
    ref.assert_close(got, ref.reference_trajectory(name, kwargs, init, gs))


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_float64_variables_match_tightly(case, ref):
    """In float64 the only difference to the reference is rounding order."""
    name, kwargs = case
    vs = ref.make_variables(dtype="float64")
    init = [v.data.copy() for v in vs]
    gs = ref.make_grads(3)
    opt = getattr(optimizers, name)(**kwargs)
    got = []
    for g in gs:
        opt.apply_gradients(zip(g, vs))
        got.append([v.data.copy() for v in vs])
    ref.assert_close(got, ref.reference_trajectory(name, kwargs, init, gs), rtol=1e-10,
                     atol=1e-12)


def test_dense_layer_through_autograd(ref):
    """A Dense(3) built on 4 inputs, loss = sum(c * y²) with y = xK + b, so dL/dy = 2cy,
    dL/dK = xᵀ(2cy) and dL/db = Σ 2cy, recomputed from the reference weights at every step."""
    import gpunet
    from gpunet import ops
    from gpunet.autograd import Tensor

    layer = gpunet.layers.Dense(3)
    layer.build((None, 4))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4)).astype("float32")
    c = rng.normal(size=(5, 3)).astype("float32")
    k, b = layer.kernel.data.astype(np.float64), layer.bias.data.astype(np.float64)
    opt = optimizers.Adam(0.05)
    states = [{}, {}]
    for t in range(1, 4):
        y = layer(Tensor(x))
        loss = ops.sum(ops.multiply(ops.multiply(y, y), Tensor(c)))
        for v in (layer.kernel, layer.bias):
            v.grad = None
        loss.backward()
        opt.apply_gradients([(layer.kernel.grad, layer.kernel), (layer.bias.grad, layer.bias)])
        dy = 2 * c * (x @ k + b)
        k, b = (ref.REFS["Adam"](w, g, s, t, 0.05) for w, g, s in zip((k, b), (x.T @ dy,
                                                                           dy.sum(0)), states))
        ref.assert_close([[layer.kernel.data, layer.bias.data]], [[k, b]], rtol=1e-4, atol=1e-5)
