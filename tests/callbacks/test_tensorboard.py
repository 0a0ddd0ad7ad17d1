"""TensorBoard: event files written during ``fit``, read back with ``read_events`` (and with
TensorBoard's own EventAccumulator when it is installed)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gpunet.callbacks import CallbackList, LambdaCallback, TensorBoard
from gpunet.callbacks.tfevents import event_files, read_events


def events_of(run_dir):
    files = event_files(str(run_dir))
    assert len(files) == 1, files
    events = read_events(files[0])
    assert events[0]["file_version"] == "brain.Event:2"
    return events[1:]


def scalars(events):
    """tag -> [(step, value)] in file order."""
    out = {}
    for ev in events:
        for v in ev.get("summary", []):
            if "simple_value" in v:
                out.setdefault(v["tag"], []).append((ev["step"], v["simple_value"]))
    return out


def histograms(events):
    out = {}
    for ev in events:
        for v in ev.get("summary", []):
            if "histo" in v:
                out.setdefault(v["tag"], []).append((ev["step"], v["histo"]))
    return out


def f32(v):
    return float(np.float32(v))


def test_epoch_scalars_validation_run_and_histograms(tmp_path, make_model, data, script):
    x, y = data
    m = make_model(lr=0.1)
    rec = script()
    tb = TensorBoard(log_dir=str(tmp_path / "logs"), histogram_freq=2)
    h = m.fit(x, y, batch_size=2, epochs=3, verbose=0, shuffle=False,
              validation_data=(x[:4], y[:4]), callbacks=[rec, tb])
    assert sorted(os.listdir(tmp_path / "logs")) == ["train", "validation"]

    train = events_of(tmp_path / "logs" / "train")
    s = scalars(train)
    assert sorted(s) == ["epoch_learning_rate", "epoch_loss"]  # no batch_* with "epoch"
    assert s["epoch_loss"] == [(e, f32(h.history["loss"][e])) for e in range(3)]
    assert s["epoch_learning_rate"] == [(e, f32(0.1)) for e in range(3)]

    hist = histograms(train)
    assert sorted(hist) == ["dense/bias/histogram", "dense/kernel/histogram"]
    assert [step for step, _ in hist["dense/kernel/histogram"]] == [0, 2]  # every 2 epochs
    for (step, hk), (_, hb) in zip(hist["dense/kernel/histogram"],
                                   hist["dense/bias/histogram"]):
        kernel, bias = rec.weights[step]
        assert hk["num"] == 4 and hb["num"] == 1
        assert hk["min"] == pytest.approx(kernel.min()) and hk["max"] == pytest.approx(
            kernel.max())
        assert hk["sum"] == pytest.approx(kernel.sum(), rel=1e-5)
        assert hk["sum_squares"] == pytest.approx((kernel.astype(float) ** 2).sum(), rel=1e-5)
        assert sum(hk["bucket"]) == 4

    val = scalars(events_of(tmp_path / "logs" / "validation"))
    assert sorted(val) == ["epoch_loss", "evaluation_loss_vs_iterations"]
    assert val["epoch_loss"] == [(e, f32(h.history["val_loss"][e])) for e in range(3)]
    # 4 batches per epoch: evaluated after 4, 8 and 12 optimizer iterations
    assert val["evaluation_loss_vs_iterations"] == [
        (4 * (e + 1), f32(h.history["val_loss"][e])) for e in range(3)]


def test_batch_scalars_every_n_batches_on_a_global_counter(tmp_path, make_model, data):
    # 8 samples, batch 2: 4 batches per epoch; 2 epochs -> global batches 1..8; n=3 -> 3, 6
    running = []
    collect = LambdaCallback(on_batch_end=lambda b, logs: running.append(logs["loss"]))
    tb = TensorBoard(log_dir=str(tmp_path), update_freq=3)
    make_model().fit(*data, batch_size=2, epochs=2, verbose=0, callbacks=[collect, tb])
    s = scalars(events_of(tmp_path / "train"))
    assert s["batch_loss"] == [(3, f32(running[2])), (6, f32(running[5]))]
    assert not os.path.exists(tmp_path / "validation")


def test_update_freq_batch_and_steps_per_second(tmp_path, make_model, data):
    tb = TensorBoard(log_dir=str(tmp_path), update_freq="batch", write_steps_per_second=True)
    make_model().fit(*data, batch_size=4, epochs=2, verbose=0, callbacks=[tb])
    s = scalars(events_of(tmp_path / "train"))
    assert [step for step, _ in s["batch_loss"]] == [1, 2, 3, 4]
    assert [step for step, _ in s["batch_steps_per_second"]] == [1, 2, 3, 4]
    assert [step for step, _ in s["epoch_steps_per_second"]] == [0, 1]
    assert all(v > 0 for _, v in s["epoch_steps_per_second"] + s["batch_steps_per_second"])


def test_standalone_evaluate_logs_evaluation_scalars(tmp_path, make_model, data):
    m = make_model()
    m.fit(*data, batch_size=4, epochs=1, verbose=0)  # 2 iterations
    tb = TensorBoard(log_dir=str(tmp_path))
    loss = m.evaluate(*data, verbose=0, callbacks=[tb])
    s = scalars(events_of(tmp_path / "validation"))
    assert s == {"evaluation_loss_vs_iterations": [(2, f32(loss))]}


def test_tensorboard_event_accumulator_reads_our_files(tmp_path, make_model, data):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = data
    m = make_model()
    h = m.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x, y),
              callbacks=[TensorBoard(str(tmp_path), histogram_freq=1)])
    acc = EventAccumulator(str(tmp_path / "train"), size_guidance={"histograms": 0}).Reload()
    assert {"epoch_loss", "epoch_learning_rate"} <= set(acc.Tags()["scalars"])
    assert [(e.step, e.value) for e in acc.Scalars("epoch_loss")] == [
        (0, f32(h.history["loss"][0])), (1, f32(h.history["loss"][1]))]
    assert "dense/kernel/histogram" in acc.Tags()["histograms"]
    assert acc.Histograms("dense/kernel/histogram")[1].histogram_value.num == 4
    val = EventAccumulator(str(tmp_path / "validation")).Reload()
    assert [e.value for e in val.Scalars("epoch_loss")] == [f32(v)
                                                           for v in h.history["val_loss"]]


def test_batch_hooks_only_when_needed_and_bad_arguments(tmp_path, make_model):
    m = make_model()
    assert not CallbackList([TensorBoard(str(tmp_path))], model=m).wants_train_batch_end
    cbs = CallbackList([TensorBoard(str(tmp_path), update_freq=5)], model=m)
    assert cbs.wants_train_batch_end and not cbs.wants_train_batch_begin
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq="sometimes")
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq=0)
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard(histogram_freq=-1)
    with pytest.warns(UserWarning, match="write_images"):
        TensorBoard(write_images=True)
