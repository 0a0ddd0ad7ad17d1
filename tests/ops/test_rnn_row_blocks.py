"""The recurrent time loops on several row blocks at once (``gpunet.backend.cpu_threads``)
give what one block gives, on every path (Numba steps, NumPy arrays, masks, dropout masks,
``go_backwards``, states), and pass float64 gradient checks; the block split itself."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gpunet import ops
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad
from gpunet.backend import cpu_threads

N, T, F, U = 7, 5, 3, 4
_RNG = np.random.default_rng(11)
MASK = _RNG.random((N, T)) > 0.3
CASES = {
    "last": {},
    "sequences_states": {"return_sequences": True, "return_state": True},
    "masked": {"return_sequences": True, "return_state": True, "mask": MASK},
    "masked_backwards": {"mask": MASK, "go_backwards": True, "return_state": True},
    "zero_output": {"return_sequences": True, "mask": MASK, "zero_output_for_mask": True},
}


@pytest.fixture
def blocks(monkeypatch):
    """Sets how many row blocks the loops use (one row per block at least)."""
    monkeypatch.setattr(cpu_threads, "MIN_ROWS", 1)

    def set_blocks(k: int) -> None:
        monkeypatch.setenv("GPUNET_CPU_THREADS", str(k))

    return set_blocks


def _keep(seed, *shape, rate=0.4):
    keep = np.random.default_rng(seed).random(shape) >= rate
    return keep / (1 - rate)


def _run(kind, dtype, kw):
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_v1": 3}[kind]
    rng = np.random.default_rng(12)
    bshape = (2, gates * U) if kind == "gru" else (gates * U,)
    shapes = [(N, T, F), (F, gates * U), (U, gates * U), bshape, (N, U), (N, U)]
    ts = [Tensor((rng.standard_normal(s) * 0.7).astype(dtype), requires_grad=True)
          for s in shapes]
    kw = {k: (v.astype(dtype) if k.endswith("dropout_mask") else v) for k, v in kw.items()}
    if kind == "lstm":
        out = ops.rnn.lstm(ts[0], ts[1], ts[2], ts[3], [ts[4], ts[5]], **kw)
    elif kind == "simple_rnn":
        out = ops.rnn.simple_rnn(*ts[:5], **kw)
    else:
        out = ops.rnn.gru(*ts[:5], reset_after=kind == "gru", **kw)
    outs = out if isinstance(out, tuple) else (out,)
    total = sum((o * (k + 1.5)).sum() for k, o in enumerate(outs))
    total.backward()
    used = ts if kind == "lstm" else ts[:5]
    return [o.data for o in outs] + [t.grad for t in used]


def _compare(kind, dtype, kw, blocks, monkeypatch, numba_flag="1"):
    monkeypatch.setenv("GPUNET_NUMBA", numba_flag)
    results = []
    for k in (1, 3):  # 7 rows: one block, then blocks of 2, 2 and 3 rows
        blocks(k)
        results.append(_run(kind, dtype, kw))
    tol = 1e-12 if dtype == "float64" else 2e-6
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("numba_flag", ["0", "1"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_v1", "simple_rnn"])
def test_row_blocks_equal_one_block(kind, case, numba_flag, blocks, monkeypatch):
    _compare(kind, "float64", CASES[case], blocks, monkeypatch, numba_flag)


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_v1", "simple_rnn"])
def test_row_blocks_equal_one_block_float32_dropout(kind, blocks, monkeypatch):
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_v1": 3}[kind]
    kw = {"dropout_mask": _keep(1, gates, N, F), "recurrent_dropout_mask": _keep(2, gates, N, U),
          "mask": MASK, "return_sequences": True}
    _compare(kind, "float32", kw, blocks, monkeypatch)
    _compare(kind, "float32", {"dropout_mask": _keep(3, N, F)}, blocks, monkeypatch)


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_v1"])
def test_row_blocks_gradients_float64(kind, blocks):
    blocks(3)

    def f(x, w, u, b, h0):
        kw = {"return_sequences": True, "mask": MASK}
        if kind == "lstm":
            return ops.rnn.lstm(x, w, u, b, [h0, h0 * 0.5], **kw)
        return ops.rnn.gru(x, w, u, b, h0, reset_after=kind == "gru", **kw)

    gates = 4 if kind == "lstm" else 3
    rng = np.random.default_rng(13)
    bshape = (2, gates * U) if kind == "gru" else (gates * U,)
    inputs = [rng.standard_normal(s) * 0.7
              for s in ((N, T, F), (F, gates * U), (U, gates * U), bshape, (N, U))]
    check_grad(f, inputs)


def test_row_blocks_split_evenly(monkeypatch):
    monkeypatch.setattr(cpu_threads, "MIN_ROWS", 16)
    monkeypatch.setenv("GPUNET_CPU_THREADS", "2")
    assert cpu_threads.row_blocks(128) == [slice(0, 64), slice(64, 128)]
    assert cpu_threads.row_blocks(31) == [slice(0, 31)]  # two blocks would be under 16 rows
    monkeypatch.setenv("GPUNET_CPU_THREADS", "3")
    assert cpu_threads.row_blocks(50) == [slice(0, 16), slice(16, 33), slice(33, 50)]
    monkeypatch.setenv("GPUNET_CPU_THREADS", "1")
    assert cpu_threads.row_blocks(128) == [slice(0, 128)]


def test_bad_thread_count_is_named(monkeypatch):
    monkeypatch.setenv("GPUNET_CPU_THREADS", "two")
    with pytest.raises(ValueError, match="GPUNET_CPU_THREADS.*'two'"):
        cpu_threads.row_blocks(128)


def test_run_blocks_uses_threads_and_reraises():
    seen = {}

    def record(r):
        seen[r.start] = threading.get_ident()
        return r.stop - r.start

    blocks = [slice(0, 2), slice(2, 5), slice(5, 6)]
    assert cpu_threads.run_blocks(record, blocks) == [2, 3, 1]
    assert seen[0] == threading.get_ident() and len(set(seen.values())) >= 2

    def fail(r):
        if r.start == 2:
            raise RuntimeError("block 2 failed")
        return 0

    with pytest.raises(RuntimeError, match="block 2 failed"):
        cpu_threads.run_blocks(fail, blocks)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_row_blocks_work_in_a_forked_child():
    """A child forked after the pool started has none of its threads: it makes its own."""
    import os

    def rows(r):
        return r.stop - r.start

    blocks = [slice(0, 3), slice(3, 5)]
    assert cpu_threads.run_blocks(rows, blocks) == [3, 2]  # the parent's pool is running
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        import signal

        signal.alarm(30)  # a hung pool ends the child (not an exit): the test fails
        ok = cpu_threads.run_blocks(rows, blocks) == [3, 2]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
