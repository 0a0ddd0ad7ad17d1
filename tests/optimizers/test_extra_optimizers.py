"""Adafactor, Lamb and LossScaleOptimizer against Keras 3's rules written out in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet import optimizers


def _rms(x):
    return np.sqrt(np.mean(x * x))


def ref_adafactor(ws, grads, lr, decay=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0):
    """Three (or more) steps of Keras 3's Adafactor, in float64."""
    ws = [np.array(w, np.float64) for w in ws]
    state = [{"r": np.zeros(w.shape[:-1]), "c": np.zeros(w.shape[:-2] + w.shape[-1:]),
              "v": np.zeros(w.shape)} for w in ws]
    out = []
    for step, gs in enumerate(grads):
        t = step + 1
        rho = min(lr, 1 / np.sqrt(t))
        beta = 1 - t ** decay
        for w, g, s in zip(ws, gs, state):
            alpha = max(eps2, _rms(w)) * rho
            sq = g * g + eps1
            if w.ndim >= 2:
                s["r"] = beta * s["r"] + (1 - beta) * sq.mean(-1)
                s["c"] = beta * s["c"] + (1 - beta) * sq.mean(-2)
                s["v"] = (s["r"] / s["r"].mean(-1, keepdims=True))[..., None] * \
                    s["c"][..., None, :]
            else:
                s["v"] = beta * s["v"] + (1 - beta) * sq
            u = g / np.sqrt(s["v"])
            u = u / max(1.0, _rms(u) / clip)
            w -= alpha * u
        out.append([w.copy() for w in ws])
    return out


def ref_lamb(ws, grads, lr, b1=0.9, b2=0.999, eps=1e-7):
    ws = [np.array(w, np.float64) for w in ws]
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    out = []
    for step, gs in enumerate(grads):
        t = step + 1
        for i, (w, g) in enumerate(zip(ws, gs)):
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            u = (ms[i] / (1 - b1 ** t)) / (np.sqrt(vs[i] / (1 - b2 ** t)) + eps)
            wn, un = np.linalg.norm(w), np.linalg.norm(u)
            w -= (wn / un if wn > 0 and un > 0 else 1.0) * lr * u
        out.append([w.copy() for w in ws])
    return out


def _variables(backend, dtype="float32", rank3=True):
    from gpunet.autograd.variable import Variable

    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,)] + ([(2, 3, 5)] if rank3 else [])
    arrays = [rng.normal(size=s).astype(dtype) for s in shapes]
    return [Variable(backend.asarray(a), name=f"v{i}", path=f"layer/v{i}")
            for i, a in enumerate(arrays)]


def _grads(variables, steps=3, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=v.shape) * (0.5 + s) for v in variables] for s in range(steps)]


def _run(opt, variables, grads, dtype="float32"):
    out = []
    for gs in grads:
        opt.apply_gradients(zip([np.asarray(g, dtype) for g in gs], variables))
        out.append([np.array(v.data.get() if hasattr(v.data, "get") else v.data)
                    for v in variables])
    return out


def _close(got, want, rtol, atol):
    for step, (gw, ww) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(gw, ww)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol,
                                       err_msg=f"step {step + 1}, variable {i}")


ADAFACTOR_CASES = [({"learning_rate": 0.1}, {"lr": 0.1}),
                   ({"learning_rate": 0.7, "beta_2_decay": -0.5, "epsilon_2": 0.5,
                     "clip_threshold": 0.3},
                    {"lr": 0.7, "decay": -0.5, "eps2": 0.5, "clip": 0.3})]


@pytest.mark.parametrize("case", ADAFACTOR_CASES, ids=["defaults", "custom"])
def test_adafactor_three_steps(case, backend):
    kwargs, rkw = case
    vs = _variables(backend)
    init = [np.array(backend.to_numpy(v.data)) for v in vs]
    gs = _grads(vs)
    opt = optimizers.Adafactor(**kwargs)
    _close(_run(opt, vs, gs), ref_adafactor(init, gs, **rkw), 2e-5, 2e-6)
    assert opt.iterations == 3


def test_adafactor_float64_tight():
    from gpunet.backend import numpy_backend

    vs = _variables(numpy_backend(), "float64")
    init = [v.data.copy() for v in vs]
    gs = _grads(vs)
    got = _run(optimizers.Adafactor(0.05), vs, gs, "float64")
    _close(got, ref_adafactor(init, gs, 0.05), 1e-10, 1e-12)


def test_adafactor_factored_state_and_slots():
    from gpunet.backend import numpy_backend

    vs = _variables(numpy_backend())
    opt = optimizers.Adafactor()
    _run(opt, vs, _grads(vs, 2))
    names = [n for n, _ in opt.get_slot_arrays()]
    assert names == [f"adafactor/layer_v{i}_{s}" for i in range(3) for s in ("r", "c", "velocity")]
    shapes = [a.shape for _, a in opt.get_slot_arrays()]
    assert shapes[:3] == [(4,), (3,), (4, 3)] and shapes[3:5] == [(), ()]
    assert shapes[6:] == [(2, 3), (2, 5), (2, 3, 5)]
    state = [a for _, a in opt.get_slot_arrays()]
    opt2 = optimizers.Adafactor()
    opt2.build(vs)
    opt2.set_slot_arrays(state)
    for (_, a), b in zip(opt2.get_slot_arrays(), state):
        np.testing.assert_array_equal(a, b)


def test_adafactor_variable_without_gradient_is_untouched():
    from gpunet.backend import numpy_backend

    vs = _variables(numpy_backend())
    opt = optimizers.Adafactor(0.1)
    _run(opt, vs, _grads(vs, 1))
    before = [(f[0].copy(), f[1].copy()) if f is not None else None for f in opt._factors]
    w0 = vs[0].data.copy()
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(None, vs[0]), (np.ones(3, "float32"), vs[1]),
                             (np.ones((2, 3, 5), "float32"), vs[2])])
    np.testing.assert_array_equal(vs[0].data, w0)
    np.testing.assert_array_equal(opt._factors[0][0], before[0][0])
    np.testing.assert_array_equal(opt._factors[0][1], before[0][1])
    assert not np.array_equal(opt._factors[2][0], before[2][0])


LAMB_CASES = [({"learning_rate": 0.01}, {"lr": 0.01}),
              ({"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.8, "epsilon": 1e-3},
               {"lr": 0.05, "b1": 0.5, "b2": 0.8, "eps": 1e-3})]


@pytest.mark.parametrize("case", LAMB_CASES, ids=["defaults", "custom"])
def test_lamb_three_steps(case, backend):
    kwargs, rkw = case
    vs = _variables(backend)
    init = [np.array(backend.to_numpy(v.data)) for v in vs]
    gs = _grads(vs)
    opt = optimizers.Lamb(**kwargs)
    _close(_run(opt, vs, gs), ref_lamb(init, gs, **rkw), 2e-5, 2e-6)


def test_lamb_zero_weight_uses_ratio_one(backend):
    from gpunet.autograd.variable import Variable

    v = Variable(backend.asarray(np.zeros(3, "float32")), name="b", path="b")
    g = np.array([1.0, -2.0, 0.5], "float32")
    optimizers.Lamb(0.1).apply_gradients([(g, v)])
    # t = 1: m̂ = g, v̂ = g², u = g / (|g| + ε) ≈ sign(g); ratio 1 since ‖w‖ = 0
    np.testing.assert_allclose(backend.to_numpy(v.data), -0.1 * g / (np.abs(g) + 1e-7),
                               rtol=1e-6)


@pytest.mark.parametrize("name,cls", [("adafactor", "Adafactor"), ("Lamb", "Lamb")])
def test_string_names_and_config_round_trip(name, cls):
    opt = optimizers.get(name)
    assert type(opt).__name__ == cls
    custom = (optimizers.Adafactor(0.02, beta_2_decay=-0.6, epsilon_2=1e-2, clip_threshold=2.0,
                                   relative_step=False, clipnorm=1.0) if cls == "Adafactor"
              else optimizers.Lamb(0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-6, clipnorm=1.0))
    cfg = custom.get_config()
    again = optimizers.deserialize(optimizers.serialize(custom))
    assert type(again) is type(custom) and again.get_config() == cfg
    assert cfg["clipnorm"] == 1.0 and cfg["name"] == name.lower()


# -- LossScaleOptimizer ------------------------------------------------------------------------


def test_loss_scale_unscales_and_matches_inner(backend):
    vs, vs2 = _variables(backend, rank3=False), _variables(backend, rank3=False)
    gs = _grads(vs)
    lso = optimizers.LossScaleOptimizer(optimizers.SGD(0.1), initial_scale=8.0)
    plain = optimizers.SGD(0.1)
    for g in gs:
        lso.apply_gradients(zip([np.asarray(x * 8.0, "float32") for x in g], vs))
        plain.apply_gradients(zip([np.asarray(x, "float32") for x in g], vs2))
    for a, b in zip(vs, vs2):
        np.testing.assert_allclose(backend.to_numpy(a.data), backend.to_numpy(b.data),
                                   rtol=1e-6)
    assert lso.iterations == 3 and lso.step_counter == 3 and lso.dynamic_scale == 8.0


def test_loss_scale_skips_halves_and_grows(backend):
    vs = _variables(backend, rank3=False)
    before = [np.array(backend.to_numpy(v.data)) for v in vs]
    lso = optimizers.LossScaleOptimizer(optimizers.Adam(0.1), initial_scale=16.0,
                                        dynamic_growth_steps=2)
    assert lso.scale_loss(3.0) == 48.0
    bad = [np.full((4, 3), np.inf, "float32"), np.zeros(3, "float32")]
    lso.apply_gradients(zip(bad, vs))
    for v, b in zip(vs, before):
        np.testing.assert_array_equal(backend.to_numpy(v.data), b)
    assert (lso.iterations, lso.dynamic_scale, lso.step_counter) == (0, 8.0, 0)
    good = [np.ones((4, 3), "float32"), np.ones(3, "float32")]
    lso.apply_gradients(zip(good, vs))
    assert (lso.iterations, lso.dynamic_scale, lso.step_counter) == (1, 8.0, 1)
    lso.apply_gradients(zip(good, vs))  # second good step: 2 = dynamic_growth_steps → double
    assert (lso.iterations, lso.dynamic_scale, lso.step_counter) == (2, 16.0, 0)
    bad[1][0] = np.nan
    lso.apply_gradients(zip(bad, vs))
    assert (lso.iterations, lso.dynamic_scale, lso.step_counter) == (2, 8.0, 0)


def test_loss_scale_config_round_trip_and_arguments():
    lso = optimizers.LossScaleOptimizer(optimizers.Adam(0.01, loss_scale_factor=4.0),
                                        initial_scale=64.0, dynamic_growth_steps=10)
    assert lso.inner_optimizer.loss_scale_factor is None
    again = optimizers.deserialize(optimizers.serialize(lso))
    assert isinstance(again, optimizers.LossScaleOptimizer)
    assert again.get_config() == lso.get_config()
    assert isinstance(again.inner_optimizer, optimizers.Adam)
    assert again.learning_rate == 0.01 and again.initial_scale == 64.0
    with pytest.raises(ValueError, match="clipnorm"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic_growth_steps"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), dynamic_growth_steps=0)
    lso.learning_rate = 0.5
    assert lso.inner_optimizer.learning_rate == 0.5


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_loss_scale_through_fit():
    """A float32 model with a scale of 2**140 (= inf in float32): the first steps overflow, are
    skipped and halve the scale, until the scaled gradients are finite and training proceeds."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")
    model = gpunet.Sequential([gpunet.layers.Input((4,)), gpunet.layers.Dense(1)])
    lso = optimizers.LossScaleOptimizer(optimizers.SGD(0.05), initial_scale=2.0 ** 140,
                                        dynamic_growth_steps=1000)
    model.compile(optimizer=lso, loss="mse")
    w0 = [w.copy() for w in model.get_weights()]
    hist = model.fit(x, y, batch_size=8, epochs=10, verbose=0)
    skipped = 40 - lso.iterations
    assert skipped > 0 and lso.dynamic_scale == 2.0 ** (140 - skipped)
    assert lso.dynamic_scale < 2.0 ** 128
    assert not np.allclose(model.get_weights()[0], w0[0])
    assert hist.history["loss"][-1] < hist.history["loss"][0]
