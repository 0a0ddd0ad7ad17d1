"""The progress bar prints what Keras 3's prints (fixture: Keras 3.15's ``Progbar`` output
for the same updates on the same fake clock, ``tests/fixtures/make_keras_progbar.py``)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import pathlib

import pytest

from gpunet.callbacks import progbar as progbar_mod

HERE = pathlib.Path(__file__).parent.parent / "fixtures"
_spec = importlib.util.spec_from_file_location("progbar_cases", HERE / "progbar_cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)
EXPECTED = json.loads((HERE / "progbar.json").read_text())


def _replay(case: dict, monkeypatch) -> str:
    clock = [0.0]
    monkeypatch.setattr(progbar_mod.time, "time", lambda: clock[0])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bar = progbar_mod.Progbar(**{k: v for k, v in case.items() if k != "updates"})
        for t, current, values, finalize in case["updates"]:
            clock[0] = t
            bar.update(current, values, finalize=finalize)
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_progbar_equals_keras_output(name, monkeypatch):
    assert _replay(cases.CASES[name], monkeypatch) == EXPECTED[name]


def test_both_metric_kinds_refused():
    with pytest.raises(ValueError, match="Only one of"):
        progbar_mod.Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


def test_logger_prints_epochs_and_finalizes_unknown_steps(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progbar_mod.time, "time", lambda: clock[0])
    logger = progbar_mod.ProgbarLogger()
    logger.set_params({"verbose": 2, "epochs": 2, "steps": None})
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        logger.on_train_begin()
        for epoch in range(2):
            logger.on_epoch_begin(epoch)
            for i in range(3):
                clock[0] += 1.0
                logger.on_train_batch_end(i, {"loss": 1.0})
            logger.on_epoch_end(epoch, {"loss": 0.5, "val_loss": 0.25})
            logger.on_test_begin()  # validation inside fit stays silent
            logger.on_test_batch_end(0, {"loss": 9.0})
            logger.on_test_end({"loss": 9.0})
    assert buf.getvalue() == ("Epoch 1/2\n3/3 - 3s - 1s/step - loss: 0.5000 - val_loss: 0.2500\n"
                              "Epoch 2/2\n3/3 - 3s - 1s/step - loss: 0.5000 - val_loss: 0.2500\n")
