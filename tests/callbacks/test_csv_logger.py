"""CSVLogger: exact file contents after real ``fit`` runs with scripted logs."""

from __future__ import annotations

import csv

import pytest

from gpunet.callbacks import CSVLogger


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return f.read()


def test_header_sorted_keys_val_columns_pre_added_and_na(tmp_path, make_model, data, script):
    path = tmp_path / "log.csv"
    m = make_model()
    m.fit(*data, batch_size=4, epochs=2, verbose=0,
          callbacks=[script(loss=[0.5, 0.25], acc=[0.75, 1.0]), CSVLogger(str(path))])
    # csv "excel" dialect, as Keras: CRLF line ends
    assert read(path) == ("epoch,acc,loss,val_acc,val_loss\r\n"
                          "0,0.75,0.5,NA,NA\r\n"
                          "1,1.0,0.25,NA,NA\r\n")


def test_validation_keys_appearing_later_and_missing_values(tmp_path, make_model, data,
                                                            script):
    path = tmp_path / "log.csv"
    m = make_model()
    s = script(loss=[0.5, 0.25, 0.125], val_loss=[None, 0.75, None], extra=[None, 1.0, 2.0])
    m.fit(*data, batch_size=4, epochs=3, verbose=0, callbacks=[s, CSVLogger(str(path))])
    # columns are fixed by the first epoch: "extra" (first seen in epoch 1) is not written
    assert read(path) == "epoch,loss,val_loss\r\n0,0.5,NA\r\n1,0.25,0.75\r\n2,0.125,NA\r\n"


def test_real_validation_freq(tmp_path, make_model, data):
    path = tmp_path / "log.csv"
    m = make_model()
    x, y = data
    h = m.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x, y),
              validation_freq=2, callbacks=[CSVLogger(str(path))])
    rows = list(csv.reader(read(path).splitlines()))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert rows[1] == ["0", repr(h.history["loss"][0]), "NA"]
    assert rows[2] == ["1", repr(h.history["loss"][1]), repr(h.history["val_loss"][0])]


def test_separator_append_and_overwrite(tmp_path, make_model, data, script):
    path = tmp_path / "log.csv"
    m = make_model()
    m.fit(*data, epochs=1, verbose=0,
          callbacks=[script(loss=[1.5]), CSVLogger(str(path), separator=";")])
    m.fit(*data, epochs=2, verbose=0,
          callbacks=[script(loss=[2.5, 3.5]), CSVLogger(str(path), separator=";", append=True)])
    assert read(path) == ("epoch;loss;val_loss\r\n0;1.5;NA\r\n"
                          "0;2.5;NA\r\n1;3.5;NA\r\n")
    m.fit(*data, epochs=1, verbose=0, callbacks=[script(loss=[4.5]), CSVLogger(str(path))])
    assert read(path) == "epoch,loss,val_loss\r\n0,4.5,NA\r\n"


def test_append_to_empty_file_writes_header(tmp_path, make_model, data, script):
    path = tmp_path / "log.csv"
    path.write_text("")
    make_model().fit(*data, epochs=1, verbose=0,
                     callbacks=[script(loss=[0.5]), CSVLogger(str(path), append=True)])
    assert read(path) == "epoch,loss,val_loss\r\n0,0.5,NA\r\n"


def test_flushed_after_each_epoch(tmp_path, make_model, data, script):
    path = tmp_path / "log.csv"
    lines = []

    class Peek(script):
        def on_epoch_end(self, epoch, logs=None):
            lines.append(read(path).count("\r\n"))

    make_model().fit(*data, epochs=2, verbose=0,
                     callbacks=[script(loss=[0.5, 0.25]), CSVLogger(str(path)), Peek()])
    assert lines == [2, 3]  # header + one row per finished epoch, readable during training


def test_bad_arguments():
    with pytest.raises(ValueError, match="separator"):
        CSVLogger("a.csv", separator=", ")
    with pytest.raises(ValueError, match="filename"):
        CSVLogger("")
