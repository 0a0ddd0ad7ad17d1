"""ReduceLROnPlateau and LearningRateScheduler: learning-rate sequences in real ``fit`` runs."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet.callbacks import CallbackList, LearningRateScheduler, ReduceLROnPlateau


def test_reduce_lr_sequence_with_patience_cooldown_and_min_lr(make_model, data, script):
    # Hand trace (lr 0.1, factor 0.5, patience 2, cooldown 1, min_lr 0.02, min_delta 0):
    # e0 best=1 | e1 wait1 | e2 wait2 -> 0.05, cd=1 | e3 cd->0, wait1 | e4 wait2 -> 0.025
    # e5 cd->0, wait1 | e6 wait2 -> max(0.0125, 0.02)=0.02 | e7 0.5 improves | e8 wait1
    # e9 wait2 but lr == min_lr: no change. The logged rate is the one used in the epoch.
    seq = [1.0] * 7 + [0.5, 0.6, 0.6]
    m = make_model(lr=0.1)
    cb = ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, cooldown=1, min_lr=0.02,
                           min_delta=0.0)
    h = m.fit(*data, batch_size=4, epochs=10, verbose=0, callbacks=[script(score=seq), cb])
    assert h.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02])
    assert m.optimizer.learning_rate == pytest.approx(0.02)


def test_reduce_lr_max_mode_and_min_delta(make_model, data, script):
    # e0 best 0.5 | e1 0.5 is not > 0.5 + 0.05: wait 1 >= patience 1 -> 0.01 | e2 0.6 improves
    m = make_model(lr=0.1)
    cb = ReduceLROnPlateau(monitor="score", mode="max", factor=0.1, patience=1, min_delta=0.05)
    h = m.fit(*data, batch_size=4, epochs=3, verbose=0,
              callbacks=[script(score=[0.5, 0.5, 0.6]), cb])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.01])
    assert cb.best == 0.6 and cb.wait == 0


def test_reduce_lr_verbose_and_missing_monitor(make_model, data, script, capsys):
    m = make_model(lr=0.1)
    cb = ReduceLROnPlateau(monitor="score", factor=0.5, patience=1, verbose=1)
    m.fit(*data, batch_size=4, epochs=2, verbose=0, callbacks=[script(score=[1.0, 1.0]), cb])
    # Keras 3 reads the rate from its float32 variable (0.1 -> 0.10000000149011612) and prints
    # float32(0.1) * 0.5 unrounded
    assert ("Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05000000074505806."
            in capsys.readouterr().out)
    with pytest.warns(UserWarning, match="val_loss"):
        h = m.fit(*data, epochs=1, verbose=0, callbacks=[ReduceLROnPlateau()])
    assert h.history["learning_rate"] == [float(np.float32(0.05))]  # as Keras logs it


def test_reduce_lr_bad_arguments():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="patience"):
        ReduceLROnPlateau(patience=-1)
    with pytest.raises(TypeError, match="patiance"):
        ReduceLROnPlateau(patiance=3)
    with pytest.warns(DeprecationWarning, match="epsilon"):
        assert ReduceLROnPlateau(epsilon=0.5).min_delta == 0.5


def test_scheduler_two_argument_schedule(make_model, data):
    m = make_model(lr=0.1)
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5 if epoch > 0 else lr

    h = m.fit(*data, batch_size=4, epochs=3, verbose=0,
              callbacks=[LearningRateScheduler(schedule)])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    assert seen == [(0, pytest.approx(0.1)), (1, pytest.approx(0.1)), (2, pytest.approx(0.05))]
    assert m.optimizer.learning_rate == pytest.approx(0.025)


def test_scheduler_one_argument_schedule_and_numpy_float(make_model, data, capsys):
    m = make_model(lr=0.1)
    cb = LearningRateScheduler(lambda epoch: np.float32(0.5) / (epoch + 1), verbose=1)
    h = m.fit(*data, batch_size=4, epochs=3, verbose=0, callbacks=[cb])
    assert h.history["learning_rate"] == pytest.approx([0.5, 0.25, 0.5 / 3])
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.25." in \
        capsys.readouterr().out


def test_scheduler_rate_is_used_by_the_optimizer(make_model, data, script):
    # lr 0 on odd epochs: SGD (no momentum) leaves the weights unchanged in those epochs
    rec = script()
    m = make_model(lr=0.1)
    cb = LearningRateScheduler(lambda epoch, lr: 0.0 if epoch % 2 else 0.05)
    m.fit(*data, batch_size=4, epochs=3, verbose=0, callbacks=[cb, rec])
    for a, b in zip(rec.weights[0], rec.weights[1]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(rec.weights[1][0], rec.weights[2][0])


def test_scheduler_rejects_non_float_and_non_callable(make_model, data):
    m = make_model()
    with pytest.raises(ValueError, match="should be a float"):
        m.fit(*data, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: 1)])
    with pytest.raises(ValueError, match="schedule"):
        LearningRateScheduler(0.1)


def test_lr_callbacks_need_no_batch_logs(make_model):
    m = make_model()
    cbs = CallbackList([ReduceLROnPlateau(), LearningRateScheduler(lambda e, lr: lr)], model=m)
    assert not cbs.wants_train_batch_end and not cbs.wants_train_batch_begin
