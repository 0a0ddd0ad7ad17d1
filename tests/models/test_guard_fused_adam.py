"""``fit``'s NaN guard with Adam's fused update on NumPy (Numba): the update writes the
weights' backups and flags non-finite new weights in its own pass. Every case must end with
the same bits as the guard's own copy-and-check path (``supports_weight_backup`` off)."""

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.backend.kernels import numba_optim
from gpunet.optimizers import Adam

pytestmark = pytest.mark.skipif(numba_optim.adam_backup_step("float32") is None,
                                reason="needs Numba (the fused kernel)")


def _model(optimizer, norm=False):
    stack = [layers.Input((2,))] + ([layers.BatchNormalization()] if norm else [])
    m = gpunet.Sequential(stack + [layers.Dense(1)])
    m.compile(optimizer=optimizer, loss="mse")
    return m


def _overflow_case():
    # x = [0, 1], kernel = [0, -3e38], bias = 3e38: the output is exactly 0, the loss
    # (0 - 1e9)^2 is finite and so are the gradients; Adam's first step moves each weight by
    # about lr = 1e38 against its gradient, so the bias becomes 4e38 = +Inf in float32.
    x = np.tile(np.array([[0.0, 1.0]], "float32"), (4, 1))
    y = np.full((4, 1), 1e9, "float32")
    w = [np.array([[0.0], [-3e38]], "float32"), np.full(1, 3e38, "float32")]
    return x, y, w


def _run(fused: bool, monkeypatch, opt, x, y, w, norm=False, **fit):
    if not fused:
        monkeypatch.setattr(Adam, "supports_weight_backup", lambda self: False)
    m = _model(opt, norm)
    m.set_weights(w if not norm else m.get_weights()[:4] + w)
    seen = []
    real = Adam.update_group

    def spy(self, group, slots, scratch, lr, t):
        seen.append(self.guard_backups is not None)
        real(self, group, slots, scratch, lr, t)

    monkeypatch.setattr(Adam, "update_group", spy)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="training step"):
        m.fit(x, y, shuffle=False, verbose=2, **fit)
    monkeypatch.undo()
    slots = [a.copy() for _, a in m.optimizer.get_slot_arrays()]
    return m.get_weights(), slots, m.optimizer.iterations, seen


def test_overflowing_update_is_undone_the_same_way(monkeypatch):
    x, y, w = _overflow_case()
    got = _run(True, monkeypatch, Adam(1e38), x, y, w, batch_size=2, epochs=1)
    ref = _run(False, monkeypatch, Adam(1e38), x, y, w, batch_size=2, epochs=1)
    assert got[3] and all(got[3]) and not any(ref[3])  # the fused path did run
    np.testing.assert_array_equal(got[0][0], w[0])  # both steps undone: weights as before
    np.testing.assert_array_equal(got[0][1], w[1])
    for a, b in zip(got[0] + got[1], ref[0] + ref[1]):
        np.testing.assert_array_equal(a, b)
    assert got[1][0].any()  # the slots keep the (finite-gradient) update, as documented
    assert got[2] == ref[2] == 2


def test_nan_batch_and_batchnorm_statistics_match(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 2)).astype("float32")
    x[5, 1] = np.nan  # batch 2 of 4: skipped before the update
    y = rng.normal(size=(8, 1)).astype("float32")
    w = [rng.normal(size=(2, 1)).astype("float32"), np.zeros(1, "float32")]
    got = _run(True, monkeypatch, Adam(0.05), x, y, w, norm=True, batch_size=2, epochs=2)
    ref = _run(False, monkeypatch, Adam(0.05), x, y, w, norm=True, batch_size=2, epochs=2)
    assert any(got[3]) and not any(ref[3])
    for a, b in zip(got[0] + got[1], ref[0] + ref[1]):
        np.testing.assert_array_equal(a, b)  # moving mean / variance included
    assert all(np.isfinite(a).all() for a in got[0])


@pytest.mark.parametrize("make", [lambda: Adam(0.01, amsgrad=True),
                                  lambda: Adam(0.01, weight_decay=0.1),
                                  lambda: Adam(0.01, use_ema=True),
                                  lambda: gpunet.optimizers.AdamW(0.01)])
def test_not_fused_where_the_update_is_not_the_last_change(make):
    m = _model(make())
    m.train_on_batch(np.ones((2, 2), "float32"), np.ones((2, 1), "float32"))
    assert not m.optimizer.supports_weight_backup()
    plain = _model(Adam(0.01))
    plain.train_on_batch(np.ones((2, 2), "float32"), np.ones((2, 1), "float32"))
    assert plain.optimizer.supports_weight_backup()


def test_kernel_equals_the_plain_update_and_flags_every_non_finite_kind():
    rng = np.random.default_rng(0)
    for dt in ("float32", "float64"):
        w = rng.normal(size=1000).astype(dt)
        g = rng.normal(size=1000).astype(dt)
        m, v = rng.normal(size=1000).astype(dt), rng.random(1000).astype(dt)
        t = np.dtype(dt).type
        a = (t(1e-3), t(0.1), t(0.001), t(1e-7))
        w1, m1, v1 = w.copy(), m.copy(), v.copy()
        numba_optim.adam_step(dt)(w1, g, m1, v1, *a)
        w2, m2, v2, back = w.copy(), m.copy(), v.copy(), np.empty_like(w)
        assert not numba_optim.adam_backup_step(dt)(w2, g, m2, v2, back, *a)
        for p, q in ((w1, w2), (m1, m2), (v1, v2), (back, w)):
            np.testing.assert_array_equal(p, q)
        for bad in (np.nan, np.inf, -np.inf):
            for i in (0, 517, 999):
                w3 = w.copy()
                w3[i] = bad
                assert numba_optim.adam_backup_step(dt)(w3, g, m.copy(), v.copy(),
                                                        np.empty_like(w), *a)
