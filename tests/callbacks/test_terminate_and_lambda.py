"""TerminateOnNaN and LambdaCallback in real ``fit`` runs."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet.callbacks import CallbackList, LambdaCallback, TerminateOnNaN


# -- TerminateOnNaN ----------------------------------------------------------------------------
def test_hook_message_and_stop(make_model, capsys):
    m = make_model()
    cb = TerminateOnNaN()
    cb.set_model(m)
    cb.on_train_batch_end(3, {"loss": 0.5})
    assert not m.stop_training and capsys.readouterr().out == ""
    cb.on_train_batch_end(3, {"loss": float("nan")})
    assert m.stop_training
    assert capsys.readouterr().out == "Batch 3: Invalid loss, terminating training\n"
    m.stop_training = False
    cb.on_train_batch_end(7, {"loss": np.float32("-inf")})
    assert m.stop_training
    assert capsys.readouterr().out == "Batch 7: Invalid loss, terminating training\n"
    cb.on_train_batch_end(0, {})  # no loss: nothing to check


def test_raise_error(make_model):
    # Keras 3.15's message
    cb = TerminateOnNaN(raise_error=True)
    cb.set_model(make_model())
    with pytest.raises(RuntimeError, match=r"^NaN or Inf loss encountered at batch 2\. Loss "
                                           r"value: inf\. Terminating training immediately\.$"):
        cb.on_train_batch_end(2, {"loss": float("inf")})
    cb.on_train_batch_end(2, {"loss": 1e30})
    assert not cb.model.stop_training


def nan_batch_fit(make_model, data, cb):
    """fit on data whose batch 2 (rows 4..5, shuffle off) is NaN, recording the hooks."""
    x, y = data
    x = x.copy()
    x[4:6] = np.nan
    events = []
    rec = LambdaCallback(on_batch_end=lambda b, logs: events.append(("batch", b)),
                         on_train_end=lambda logs: events.append("train_end"))
    m = make_model()
    try:
        h = m.fit(x, y, batch_size=2, epochs=3, verbose=0, shuffle=False, callbacks=[cb, rec])
    except RuntimeError as e:
        return m, None, events, e
    return m, h, events, None


def test_fit_raises_on_nan_loss_with_raise_error(make_model, data):
    # Keras 3: the error leaves fit at once, before the other callbacks' on_train_end
    m, h, events, error = nan_batch_fit(make_model, data, TerminateOnNaN(raise_error=True))
    assert error is not None, "fit did not raise"
    assert str(error).startswith("NaN or Inf loss encountered at batch 2.")
    assert events == [("batch", 0), ("batch", 1)]


def test_fit_stops_gracefully_on_nan_loss(make_model, data, capsys):
    m, h, events, error = nan_batch_fit(make_model, data, TerminateOnNaN())
    assert error is None and h.epoch == [0] and m.stop_training
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out
    assert events[-2:] == [("batch", 2), "train_end"]


def test_callback_message_in_fit_when_running_loss_overflows(capsys):
    # Each batch loss (1.44e38) is finite, so fit applies it, but the running (float32)
    # epoch total overflows at batch 1: logs["loss"] is inf and the callback stops training.
    m = gpunet.Sequential([gpunet.Input((4,)),
                           gpunet.layers.Dense(1, kernel_initializer="zeros")])
    m.compile(optimizer=gpunet.optimizers.SGD(0.0), loss="mse")
    x = np.ones((8, 4), "float32")
    y = np.full((8, 1), 1.2e19, "float32")
    batches = []
    with np.errstate(over="ignore"):
        h = m.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False,
                  callbacks=[TerminateOnNaN(),
                             LambdaCallback(on_batch_end=lambda b, logs: batches.append(b))])
    if np.isfinite(h.history["loss"][0]):
        pytest.skip("the loss tracker accumulates in float64: no overflow to provoke")
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    assert batches == [0, 1] and h.epoch == [0]


# -- LambdaCallback ----------------------------------------------------------------------------
def test_lambda_hook_order(make_model, data):
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda e, logs: events.append(("epoch_begin", e)),
        on_batch_begin=lambda b, logs: events.append(("batch_begin", b)),
        on_batch_end=lambda b, logs: events.append(("batch_end", b, sorted(logs))),
        on_epoch_end=lambda e, logs: events.append(("epoch_end", e, sorted(logs))),
        on_train_end=lambda logs: events.append("train_end"))
    x, y = data
    make_model().fit(x[:4], y[:4], batch_size=2, epochs=2, verbose=0, callbacks=[cb])
    expected = ["train_begin"]
    for e in range(2):
        expected.append(("epoch_begin", e))
        for b in range(2):
            expected += [("batch_begin", b), ("batch_end", b, ["loss"])]
        expected.append(("epoch_end", e, ["loss"]))
    assert events == expected + ["train_end"]


def test_lambda_other_hooks_by_keyword(make_model, data):
    events = []
    cb = LambdaCallback(on_train_batch_end=lambda b, logs: events.append(("tb_end", b)),
                        on_test_begin=lambda logs: events.append("test_begin"),
                        on_test_end=lambda logs: events.append(("test_end", sorted(logs))),
                        on_predict_batch_end=lambda b, logs: events.append(("pb_end", b)))
    m = make_model()
    x, y = data
    m.fit(x[:4], y[:4], batch_size=4, epochs=1, verbose=0, callbacks=[cb])
    m.evaluate(x, y, verbose=0, callbacks=[cb])
    m.predict(x, batch_size=4, verbose=0, callbacks=[cb])
    assert events == [("tb_end", 0), "test_begin", ("test_end", ["loss"]), ("pb_end", 0),
                      ("pb_end", 1)]


def test_lambda_installs_only_given_hooks(make_model):
    m = make_model()
    only_epoch = LambdaCallback(on_epoch_end=lambda e, logs: None)
    assert isinstance(only_epoch, LambdaCallback)
    assert not CallbackList([only_epoch], model=m).wants_train_batch_end
    assert CallbackList([LambdaCallback(on_batch_end=lambda b, logs: None)],
                        model=m).wants_train_batch_end


def test_lambda_bad_arguments():
    with pytest.raises(TypeError, match="on_epoch_ends"):
        LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match="on_epoch_end"):
        LambdaCallback(on_epoch_end=3)
