"""Tests for gpunet.callbacks.tfevents (TensorBoard event-file writer/reader)."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from gpunet.callbacks import tfevents
from gpunet.callbacks.tfevents import (
    EventFileWriter,
    crc32c,
    encode_varint,
    event_files,
    masked_crc32c,
    read_events,
)

CRC_VECTORS = [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),  # standard CRC catalogue check value
    (bytes(32), 0x8A9136AA),  # RFC 3720 B.4: 32 bytes of zeros
    (b"\xff" * 32, 0x62A8AB43),  # RFC 3720 B.4: 32 bytes of 0xFF
    (bytes(range(32)), 0x46DD794E),  # RFC 3720 B.4: incrementing
    (bytes(range(31, -1, -1)), 0x113FDB5C),  # RFC 3720 B.4: decrementing
]


@pytest.mark.parametrize("data,expected", CRC_VECTORS)
def test_crc32c_pure_python_vectors(data, expected):
    assert tfevents._crc32c_py(data) == expected


@pytest.mark.parametrize("data,expected", CRC_VECTORS)
def test_crc32c_public_vectors(data, expected):
    assert crc32c(data) == expected


def test_masked_crc32c_formula():
    c = 0xE3069283
    assert masked_crc32c(b"123456789") == ((((c >> 15) | (c << 17)) & 0xFFFFFFFF)
                                           + 0xA282EAD8) & 0xFFFFFFFF
    assert masked_crc32c(b"") == 0xA282EAD8


@pytest.mark.parametrize("n,expected", [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (150, b"\x96\x01"),
    (300, b"\xac\x02"), (16384, b"\x80\x80\x01"), (2**63 - 1, b"\xff" * 8 + b"\x7f"),
    (-1, b"\xff" * 9 + b"\x01"),
])
def test_encode_varint(n, expected):
    assert encode_varint(n) == expected
    assert tfevents._read_varint(expected, 0) == (n & (2**64 - 1), len(expected))


def _records(raw: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(raw):
        (n,) = struct.unpack("<Q", raw[pos:pos + 8])
        out.append(raw[pos:pos + 16 + n])
        pos += 16 + n
    return out


def test_hand_assembled_scalar_event(tmp_path):
    with EventFileWriter(str(tmp_path)) as w:
        w.add_scalar("loss", 0.5, step=3, wall_time=1.5)
        path = w.path
    value = b"\x0a\x04loss" + b"\x15" + struct.pack("<f", 0.5)  # tag=1, simple_value=2
    summary = b"\x0a" + bytes([len(value)]) + value  # Summary.value=1
    payload = (b"\x09" + struct.pack("<d", 1.5)  # wall_time=1 (fixed64)
               + b"\x10\x03"  # step=2 (varint)
               + b"\x2a" + bytes([len(summary)]) + summary)  # summary=5
    assert len(payload) == 26
    header = struct.pack("<Q", len(payload))
    record = (header + struct.pack("<I", masked_crc32c(header)) + payload
              + struct.pack("<I", masked_crc32c(payload)))
    with open(path, "rb") as f:
        recs = _records(f.read())
    assert len(recs) == 2
    assert recs[1] == record
    # first record: file_version="brain.Event:2" (field 3, wire type 2)
    assert b"\x1a\x0dbrain.Event:2" in recs[0]


def test_file_name_and_first_record(tmp_path):
    logdir = tmp_path / "new" / "train"
    w = EventFileWriter(str(logdir), filename_suffix=".gpunet")
    w.close()
    w.close()  # idempotent
    name = os.path.basename(w.path)
    assert os.path.isdir(logdir)
    assert name.startswith("events.out.tfevents.") and name.endswith(".v2.gpunet")
    assert f".{os.getpid()}." in name
    assert event_files(str(logdir)) == [w.path]
    events = read_events(w.path)
    assert len(events) == 1 and events[0]["file_version"] == "brain.Event:2"
    with pytest.raises(ValueError, match="closed"):
        w.add_scalar("x", 1.0, step=0)


def test_two_writers_get_distinct_files(tmp_path):
    with EventFileWriter(str(tmp_path)) as a, EventFileWriter(str(tmp_path)) as b:
        assert a.path != b.path
    assert len(event_files(str(tmp_path))) == 2


def test_scalars_and_histogram_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    w_values = rng.normal(size=(20, 10)).astype(np.float32)
    with EventFileWriter(str(tmp_path)) as w:
        for step, loss in enumerate([1.0, 0.5, 0.25]):
            w.add_scalar("epoch_loss", loss, step=step)
        w.add_scalar("neg_step", np.float32(1.0 / 3.0), step=-2, wall_time=123.25)
        w.add_scalar("special", np.array(1e40), step=0)
        w.add_scalar("special", float("nan"), step=1)
        w.add_histogram("dense/kernel/histogram", w_values, step=7, bins=10)
        path = w.path
    events = read_events(path)
    assert events[0]["file_version"] == "brain.Event:2" and "summary" not in events[0]
    scalars = [(e["step"], e["summary"][0]["simple_value"]) for e in events[1:4]]
    assert scalars == [(0, 1.0), (1, 0.5), (2, 0.25)]
    neg = events[4]
    assert neg["step"] == -2 and neg["wall_time"] == 123.25
    assert neg["summary"][0]["simple_value"] == pytest.approx(1 / 3, rel=1e-7)
    assert events[5]["summary"][0]["simple_value"] == float("inf")
    assert np.isnan(events[6]["summary"][0]["simple_value"])
    (val,) = events[7]["summary"]
    assert val["tag"] == "dense/kernel/histogram" and events[7]["step"] == 7
    h, x = val["histo"], w_values.astype(np.float64).ravel()
    assert h["min"] == x.min() and h["max"] == x.max() and h["num"] == 200
    assert h["sum"] == pytest.approx(x.sum()) and h["sum_squares"] == pytest.approx(x @ x)
    counts, edges = np.histogram(x, bins=10)
    assert h["bucket"] == counts.astype(float).tolist()
    assert h["bucket_limit"][:-1] == edges[1:-1].tolist()
    assert h["bucket_limit"][-1] == sys.float_info.max
    assert sum(h["bucket"]) == 200


def test_histogram_edge_cases(tmp_path):
    with EventFileWriter(str(tmp_path)) as w:
        w.add_histogram("const", np.full(5, 2.0), step=0)
        w.add_histogram("empty", [], step=1)
        w.add_histogram("nonfinite", [1.0, np.nan, np.inf, 3.0], step=2, bins=2)
        path = w.path
    const, empty, nonfinite = (e["summary"][0]["histo"] for e in read_events(path)[1:])
    assert const["min"] == const["max"] == 2.0 and const["num"] == 5 and sum(const["bucket"]) == 5
    assert len(const["bucket"]) == 30
    assert empty["num"] == 0 and empty["bucket"] == [0.0]
    assert nonfinite["num"] == 2 and nonfinite["bucket"] == [1.0, 1.0]


def test_reader_skips_unknown_fields(tmp_path):
    payload = (tfevents._event(5.0, 1, [b"\x0a\x01a\x15" + struct.pack("<f", 2.0)
                                        + b"\x38\x07"])  # unknown Value field 7 varint
               + b"\x22\x03abc" + b"\x65" + struct.pack("<f", 1.0))  # Event fields 4 and 12
    path = tmp_path / "events.out.tfevents.manual"
    header = struct.pack("<Q", len(payload))
    path.write_bytes(header + struct.pack("<I", masked_crc32c(header)) + payload
                     + struct.pack("<I", masked_crc32c(payload)))
    (ev,) = read_events(str(path))
    assert ev == {"wall_time": 5.0, "step": 1, "summary": [{"tag": "a", "simple_value": 2.0}]}


@pytest.mark.parametrize("where", ["header", "payload", "footer"])
def test_corrupted_byte_raises_crc_error(tmp_path, where):
    with EventFileWriter(str(tmp_path)) as w:
        w.add_scalar("loss", 0.5, step=1)
        path = w.path
    raw = bytearray(Path(path).read_bytes())
    first_len = 16 + struct.unpack("<Q", raw[:8])[0]
    second_len = 16 + struct.unpack("<Q", raw[first_len:first_len + 8])[0]
    offset = {"header": first_len + 1, "payload": first_len + 14,
              "footer": first_len + second_len - 1}[where]
    raw[offset] ^= 0x01
    Path(path).write_bytes(raw)
    with pytest.raises(ValueError, match=rf"CRC mismatch in record at offset {first_len}") as ei:
        read_events(path)
    assert os.path.basename(path) in str(ei.value)


def test_truncated_file_raises(tmp_path):
    with EventFileWriter(str(tmp_path)) as w:
        w.add_scalar("loss", 0.5, step=1)
        path = w.path
    Path(path).write_bytes(Path(path).read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_events(path)


def test_tensorboard_reads_files(tmp_path):
    pytest.importorskip("tensorboard")
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    rng = np.random.default_rng(1)
    values = rng.uniform(-1, 1, size=500)
    with EventFileWriter(str(tmp_path / "train")) as w:
        for step, loss in enumerate([0.9, 0.6, 0.3]):
            w.add_scalar("epoch_loss", loss, step=step)
        w.add_histogram("dense/kernel/histogram", values, step=2, bins=20)
    acc = ea_mod.EventAccumulator(str(tmp_path / "train"),
                                  size_guidance={ea_mod.SCALARS: 0, ea_mod.HISTOGRAMS: 0})
    acc.Reload()
    assert acc.file_version == 2.0
    tags = acc.Tags()
    assert "epoch_loss" in tags["scalars"] and "dense/kernel/histogram" in tags["histograms"]
    got = [(e.step, e.value) for e in acc.Scalars("epoch_loss")]
    assert [s for s, _ in got] == [0, 1, 2]
    assert [v for _, v in got] == pytest.approx([0.9, 0.6, 0.3], rel=1e-6)
    (hev,) = acc.Histograms("dense/kernel/histogram")
    hv = hev.histogram_value
    assert hev.step == 2 and hv.num == 500
    assert hv.min == values.min() and hv.max == values.max()
    assert hv.sum == pytest.approx(values.sum())
    assert hv.sum_squares == pytest.approx(values @ values)
    assert list(hv.bucket) == np.histogram(values, bins=20)[0].astype(float).tolist()
    assert hv.bucket_limit[-1] == sys.float_info.max


def test_matches_tensorboard_protobuf_serialization(tmp_path):
    pytest.importorskip("tensorboard")
    pb = pytest.importorskip("tensorboard.compat.proto.event_pb2")
    with EventFileWriter(str(tmp_path)) as w:
        w.add_scalar("acc", 0.75, step=4, wall_time=1700000000.5)
        w.add_histogram("h", [0.0, 1.0, 1.0, 3.0], step=5, bins=3, wall_time=1700000001.0)
        path = w.path
    with open(path, "rb") as f:
        recs = _records(f.read())
    parsed = []
    for rec in recs:
        ev = pb.Event()
        ev.ParseFromString(rec[12:-4])
        assert ev.SerializeToString() == rec[12:-4]  # byte-identical to canonical protobuf
        parsed.append(ev)
    assert parsed[0].file_version == "brain.Event:2"
    (scalar,) = parsed[1].summary.value
    assert scalar.tag == "acc" and scalar.simple_value == 0.75 and parsed[1].step == 4
    h = parsed[2].summary.value[0].histo
    assert (h.min, h.max, h.num, h.sum, h.sum_squares) == (0.0, 3.0, 4.0, 5.0, 11.0)
    assert list(h.bucket) == [1.0, 2.0, 1.0]
    assert list(h.bucket_limit) == [1.0, 2.0, sys.float_info.max]
    # TensorBoard's histogram dashboard converts the legacy proto to (left, right, count) rows
    data_compat = pytest.importorskip("tensorboard.data_compat")
    tensor_util = pytest.importorskip("tensorboard.util.tensor_util")
    migrated = data_compat.migrate_value(parsed[2].summary.value[0])
    assert migrated.metadata.plugin_data.plugin_name == "histograms"
    rows = tensor_util.make_ndarray(migrated.tensor).tolist()
    assert rows == [[0.0, 1.0, 1.0], [1.0, 2.0, 2.0], [2.0, 3.0, 1.0]]
