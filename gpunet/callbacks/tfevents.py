"""TensorFlow-free writer and reader of TensorBoard event files (``*.tfevents.*``).

An event file is a sequence of records, each framed as ``uint64 length (LE)``,
``uint32 masked_crc32c(length bytes)``, ``payload``, ``uint32 masked_crc32c(payload)``, where the
payload is a serialized ``tensorflow.Event`` protobuf. The protobuf wire format is encoded by hand
for the few messages needed (field numbers as in TensorFlow's ``event.proto``/``summary.proto``)::

    Event          {wall_time=1 double, step=2 int64, file_version=3 string, summary=5 Summary}
    Summary        {value=1 repeated Value}
    Summary.Value  {tag=1 string, simple_value=2 float, histo=5 HistogramProto}
    HistogramProto {min=1, max=2, num=3, sum=4, sum_squares=5 double,
                    bucket_limit=6 packed double, bucket=7 packed double}

Example:
    >>> with EventFileWriter("logs/train") as w:          # doctest: +SKIP
    ...     w.add_scalar("epoch_loss", 0.25, step=0)
    ...     w.add_histogram("dense/kernel/histogram", kernel, step=0)
"""

from __future__ import annotations

import glob
import itertools
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpunet.backend import to_numpy

__all__ = ["EventFileWriter", "crc32c", "masked_crc32c", "encode_varint", "read_events",
           "event_files"]

_DBL_MAX = sys.float_info.max
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_U64 = (1 << 64) - 1


# ---------------------------------------------------------------- CRC-32C (Castagnoli)
def _table_entry(c: int) -> int:
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # reflected polynomial 0x1EDC6F41
    return c


_TABLE = [_table_entry(n) for n in range(256)]


def _crc32c_py(data: bytes) -> int:
    """Pure-Python table-driven CRC-32C of ``data`` (reference implementation)."""
    crc, table = _U32, _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ _U32


def _find_accelerated() -> Callable[[bytes], int] | None:
    """Return an optional C implementation (google_crc32c / crc32c) if it passes the check."""
    for mod_name, attr in (("google_crc32c", "value"), ("crc32c", "crc32c")):
        try:  # pragma: no cover - optional dependencies
            fn = getattr(__import__(mod_name), attr)
            if int(fn(b"123456789")) == 0xE3069283:
                return fn
        except Exception:  # pragma: no cover
            continue
    return None


_ACCEL = _find_accelerated()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) checksum, as used by TFRecord / event files.

    Args:
        data: Bytes to checksum.

    Returns:
        The unsigned 32-bit checksum. Uses ``google_crc32c``/``crc32c`` when importable,
        else a pure-Python 256-entry table.

    Example:
        >>> hex(crc32c(b"123456789"))
        '0xe3069283'
    """
    return int(_ACCEL(bytes(data))) if _ACCEL is not None else _crc32c_py(bytes(data))


def masked_crc32c(data: bytes) -> int:
    """Masked CRC-32C: ``((c >> 15) | (c << 17)) + 0xA282EAD8 (mod 2**32)``.

    Args:
        data: Bytes to checksum.

    Returns:
        The masked unsigned 32-bit checksum stored in record framing.

    Example:
        >>> hex(masked_crc32c(b""))
        '0xa282ead8'
    """
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & _U32) + _MASK_DELTA) & _U32


# ---------------------------------------------------------------- protobuf encoding
def encode_varint(value: int) -> bytes:
    """Protobuf base-128 varint; negative numbers as 64-bit two's complement (10 bytes).

    Args:
        value: Integer in ``[-2**63, 2**64)``.

    Returns:
        The encoded bytes.

    Example:
        >>> encode_varint(300)
        b'\\xac\\x02'
    """
    value &= _U64
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return encode_varint((field << 3) | wire)


def _double(field: int, v: float) -> bytes:
    return _key(field, 1) + struct.pack("<d", v)


def _bytes(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + encode_varint(len(payload)) + payload


def _event(wall_time: float, step: int, summary_values: Sequence[bytes] = (),
           file_version: str | None = None) -> bytes:
    out = _double(1, float(wall_time))
    if step:  # proto3: default values are not serialized
        out += _key(2, 0) + encode_varint(int(step))
    if file_version is not None:
        out += _bytes(3, file_version.encode("utf-8"))
    if summary_values:
        out += _bytes(5, b"".join(_bytes(1, v) for v in summary_values))
    return out


def _histogram_proto(values: Any, bins: int | Sequence[float]) -> bytes:
    x = np.asarray(to_numpy(values), dtype=np.float64).ravel()
    x = x[np.isfinite(x)]  # NaN / inf cannot be bucketed; they are ignored
    if x.size:
        counts, edges = np.histogram(x, bins=bins)
        limits = [float(e) for e in edges[1:]]
        limits[-1] = _DBL_MAX
        stats = (float(x.min()), float(x.max()), float(x.size), float(x.sum()),
                 float(np.dot(x, x)))
    else:
        counts, limits, stats = np.zeros(1), [_DBL_MAX], (0.0, 0.0, 0.0, 0.0, 0.0)
    out = b"".join(_double(i + 1, v) for i, v in enumerate(stats) if v != 0.0)
    out += _bytes(6, struct.pack(f"<{len(limits)}d", *limits))
    out += _bytes(7, struct.pack(f"<{len(counts)}d", *(float(c) for c in counts)))
    return out


# ---------------------------------------------------------------- writer
_FILE_COUNTER = itertools.count()


class EventFileWriter:
    """Writes scalar and histogram summaries to a TensorBoard event file.

    Args:
        logdir: Directory for the file (created if missing), e.g. ``"logs/train"``.
        filename_suffix: Appended to the file name.

    Attributes:
        path: Full path of the event file
            (``events.out.tfevents.<secs>.<host>.<pid>.<n>.v2<suffix>``).

    Example:
        >>> w = EventFileWriter("/tmp/logs/train")                     # doctest: +SKIP
        >>> w.add_scalar("epoch_loss", 0.5, step=0); w.close()        # doctest: +SKIP
    """

    def __init__(self, logdir: str, filename_suffix: str = "") -> None:
        self.logdir = os.fspath(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        name = (f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_FILE_COUNTER)}.v2{filename_suffix}")
        self.path = os.path.join(self.logdir, name)
        self._lock = threading.Lock()
        self._file = open(self.path, "wb")
        self._write(_event(time.time(), 0, file_version="brain.Event:2"))
        self.flush()

    def _write(self, payload: bytes) -> None:
        with self._lock:
            if self._file is None:
                raise ValueError(f"EventFileWriter for {self.path!r} is closed")
            header = struct.pack("<Q", len(payload))
            self._file.write(header + struct.pack("<I", masked_crc32c(header)) + payload
                             + struct.pack("<I", masked_crc32c(payload)))

    def add_scalar(self, tag: str, value: float, step: int,
                   wall_time: float | None = None) -> None:
        """Write one scalar (``simple_value``, stored as float32).

        Args:
            tag: Series name, e.g. ``"epoch_loss"``.
            value: Python/NumPy number (0-d arrays accepted).
            step: Global step (x axis).
            wall_time: Seconds since the epoch; defaults to now.

        Example:
            >>> writer.add_scalar("epoch_accuracy", 0.91, step=3)   # doctest: +SKIP
        """
        with np.errstate(over="ignore"):  # |value| > FLT_MAX becomes +-inf, as in TensorFlow
            f32 = np.asarray(float(value), dtype="<f4").tobytes()
        val = _bytes(1, tag.encode("utf-8")) + _key(2, 5) + f32
        self._write(_event(time.time() if wall_time is None else wall_time, step, [val]))

    def add_histogram(self, tag: str, values: Any, step: int, bins: int | Sequence[float] = 30,
                      wall_time: float | None = None) -> None:
        """Write a histogram (``HistogramProto``) of ``values``.

        Args:
            tag: Series name, e.g. ``"dense/kernel/histogram"``.
            values: Any array-like (NumPy, CuPy, lists); flattened, non-finite entries ignored.
            step: Global step.
            bins: Number of equal-width buckets, or explicit edges (as ``np.histogram``).
            wall_time: Seconds since the epoch; defaults to now.

        Example:
            >>> writer.add_histogram("w/histogram", np.random.randn(100), step=0)  # doctest: +SKIP
        """
        val = _bytes(1, tag.encode("utf-8")) + _bytes(5, _histogram_proto(values, bins))
        self._write(_event(time.time() if wall_time is None else wall_time, step, [val]))

    def flush(self) -> None:
        """Flush buffered records to disk (call once per epoch; no-op once closed)."""
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Flush and close the file; further writes raise ``ValueError``. Idempotent."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> EventFileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- reader
def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Split a message into ``(field, wire_type, raw)``: int for varint, bytes otherwise."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            raw, pos = _read_varint(buf, pos)
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            raw, pos = buf[pos:pos + n], pos + n
        elif wire == 2:
            n, pos = _read_varint(buf, pos)
            raw, pos = buf[pos:pos + n], pos + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf message")
        out.append((field, wire, raw))
    return out


def _decode_histo(buf: bytes) -> dict[str, Any]:
    names = {1: "min", 2: "max", 3: "num", 4: "sum", 5: "sum_squares"}
    h: dict[str, Any] = {**dict.fromkeys(names.values(), 0.0), "bucket_limit": [], "bucket": []}
    for field, wire, raw in _fields(buf):
        if field in names and wire == 1:
            h[names[field]] = struct.unpack("<d", raw)[0]
        elif field in (6, 7) and wire in (1, 2):  # packed or unpacked repeated double
            h["bucket_limit" if field == 6 else "bucket"].extend(
                struct.unpack(f"<{len(raw) // 8}d", raw))
    return h


def _decode_value(buf: bytes) -> dict[str, Any]:
    v: dict[str, Any] = {"tag": ""}
    for field, wire, raw in _fields(buf):
        if field == 1 and wire == 2:
            v["tag"] = raw.decode("utf-8")
        elif field == 2 and wire == 5:
            v["simple_value"] = struct.unpack("<f", raw)[0]
        elif field == 5 and wire == 2:
            v["histo"] = _decode_histo(raw)
    return v


def _decode_event(buf: bytes) -> dict[str, Any]:
    ev: dict[str, Any] = {"wall_time": 0.0, "step": 0}
    for field, wire, raw in _fields(buf):
        if field == 1 and wire == 1:
            ev["wall_time"] = struct.unpack("<d", raw)[0]
        elif field == 2 and wire == 0:
            ev["step"] = raw - (1 << 64) if raw >= 1 << 63 else raw
        elif field == 3 and wire == 2:
            ev["file_version"] = raw.decode("utf-8")
        elif field == 5 and wire == 2:
            ev["summary"] = [_decode_value(r) for f, w, r in _fields(raw) if f == 1 and w == 2]
    return ev


def read_events(path: str) -> list[dict[str, Any]]:
    """Read and decode every record of an event file, verifying both CRCs of each record.

    Args:
        path: Path of an event file.

    Returns:
        One dict per record, e.g. ``{"wall_time": 1.7e9, "step": 3, "summary": [{"tag":
        "epoch_loss", "simple_value": 0.25}]}``; the first has ``"file_version"``. Histogram
        values carry ``"histo": {"min", "max", "num", "sum", "sum_squares", "bucket_limit",
        "bucket"}``. Unknown protobuf fields are skipped.

    Raises:
        ValueError: On a CRC mismatch or truncated record (message names file and offset).

    Example:
        >>> [e["summary"][0]["simple_value"] for e in read_events(p)[1:]]  # doctest: +SKIP
    """
    with open(path, "rb") as f:
        data = f.read()
    events, pos = [], 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError(f"{path}: truncated record header at offset {pos}")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if hcrc != masked_crc32c(header):
            raise ValueError(f"{path}: length CRC mismatch in record at offset {pos}")
        end = pos + 12 + length
        if end + 4 > len(data):
            raise ValueError(f"{path}: truncated record at offset {pos}")
        payload = data[pos + 12:end]
        if struct.unpack("<I", data[end:end + 4])[0] != masked_crc32c(payload):
            raise ValueError(f"{path}: payload CRC mismatch in record at offset {pos}")
        try:
            events.append(_decode_event(payload))
        except (ValueError, struct.error, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: bad Event protobuf in record at offset {pos}: {e}") from e
        pos = end + 4
    return events


def event_files(logdir: str) -> list[str]:
    """Sorted paths of the event files (names containing ``tfevents``) directly in ``logdir``.

    Args:
        logdir: Directory to list.

    Returns:
        Sorted list of paths (empty if none).

    Example:
        >>> read_events(event_files("logs/train")[-1])  # doctest: +SKIP
    """
    return sorted(glob.glob(os.path.join(glob.escape(os.fspath(logdir)), "*tfevents*")))
