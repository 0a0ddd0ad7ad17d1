"""Philox4x32-10: Random123's test vectors, the fused CPU kernels against the NumPy reference,
the CUDA kernel against both (on a GPU), and dropout as Keras writes it."""

from __future__ import annotations

import numpy as np
import pytest

import gpunet
from gpunet.backend import numpy_backend
from gpunet.backend.kernels import numba_cpu, numba_philox
from gpunet.backend.philox import (
    PhiloxOps,
    PhiloxStream,
    keep_threshold,
    philox_blocks,
    split_seed,
    words,
)

# Random123 1.14, examples/kat_vectors: "philox4x32 10 <ctr x4> <key x2> <expected x4>"
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]
# randomgen 2.5.1: Philox(key=12345, counter=6, number=4, width=32).random_raw(8) (randomgen
# steps its counter before each block, so these are blocks 7 and 8 of key 12345)
RANDOMGEN_KEY_12345_BLOCKS_7_8 = [2667469288, 1132955194, 352380175, 2594486496,
                                  1646164935, 2053434220, 1998206044, 418478548]
NUMBA = numba_cpu.numba_enabled()


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_random123_known_answers(ctr, key, expected):
    start = ctr[0] | (ctr[1] << 32)
    got = philox_blocks(start, 1, key, hi=(ctr[2], ctr[3]))[0]
    assert [int(v) for v in got] == list(expected)


def test_a_stream_of_blocks_matches_randomgen():
    got = philox_blocks(7, 2, split_seed(12345)).reshape(-1)
    assert [int(v) for v in got] == RANDOMGEN_KEY_12345_BLOCKS_7_8


def test_words_take_consecutive_blocks_and_the_stream_moves_by_whole_blocks():
    s = PhiloxStream(12345)
    s.counter = 7
    start = s.take(6)  # 6 values: blocks 7 and 8 (two words of block 8 unused)
    assert start == 7 and s.counter == 9
    # planar: element i is word i // 2 of block 7 + i % 2
    planar = np.array(RANDOMGEN_KEY_12345_BLOCKS_7_8).reshape(2, 4).T.reshape(-1)
    assert [int(v) for v in words(7, 6, s.key)] == planar[:6].tolist()
    assert s.get_state() == {"philox": [12345, 0, 9]}
    t = PhiloxStream(1)
    t.set_state(s.get_state())
    assert t.key == s.key and t.counter == 9


def test_uniform_values_are_the_top_24_bits():
    w = words(3, 10, (5, 6))
    u = PhiloxOps().philox_uniform(3, (5, 6), (2, 5), "float64")
    np.testing.assert_array_equal(u.reshape(-1), (w >> 8) / 2.0**24)
    assert u.min() >= 0 and u.max() < 1
    h = PhiloxOps().philox_uniform(3, (5, 6), (10,), "float16")
    assert h.dtype == np.float16 and h.max() < 1
    np.testing.assert_array_equal(h, ((w >> 21) / 2.0**11).astype(np.float16))


def test_keep_is_uniform_at_least_rate():
    ops = PhiloxOps()
    for rate in (0.0, 0.1, 0.5, 0.9):
        keep = ops.philox_keep(11, (1, 2), (1000,), rate)
        u = ops.philox_uniform(11, (1, 2), (1000,), "float64")
        np.testing.assert_array_equal(keep, u >= rate)
    assert keep_threshold(0.5) == 2**23
    big = ops.philox_keep(0, (9, 9), (200_000,), 0.3)
    assert abs(big.mean() - 0.7) < 0.005  # binomial sd ~0.001


def test_dropout_is_keras_where_form():
    ops = PhiloxOps()
    x = np.array([1.0, np.inf, np.nan, -3.0] * 50, np.float32)
    y, keep = ops.philox_dropout(x, 0, (4, 2), 0.4)
    kp = np.float32(0.6)
    np.testing.assert_array_equal(y, np.where(keep, x / kp, np.float32(0)))
    assert np.all(y[~keep] == 0) and not np.any(np.signbit(y[~keep]))  # +0, even for inf/nan
    g = ops.dropout_grad(np.ones_like(x), keep, 0.4)
    np.testing.assert_array_equal(g, np.where(keep, np.float32(1) / kp, 0))


@pytest.mark.skipif(not NUMBA, reason="Numba is not installed or GPUNET_NUMBA=0")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 9, 12, 13, 4099, numba_philox.PARALLEL_SIZE + 3])
def test_numba_kernels_equal_the_numpy_reference(dtype, n):
    ref = PhiloxOps()
    key, start, rate = split_seed(2**40 + 17), 2**32 - 5, 0.3  # the counter crosses 2**32
    np.testing.assert_array_equal(numba_philox.words(start, n, key), words(start, n, key))
    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
    y, mask = numba_philox.dropout(x, start, key, keep_threshold(rate),
                                   np.dtype(dtype).type(1 - rate))
    y_ref, keep_ref = ref.philox_dropout(x, start, key, rate)
    np.testing.assert_array_equal(mask.astype(bool), keep_ref)
    np.testing.assert_array_equal(y, y_ref)
    gy = np.random.default_rng(1).standard_normal(n).astype(dtype)
    np.testing.assert_array_equal(numba_philox.dropout_grad(gy, mask, y.dtype.type(1 - rate)),
                                  ref.dropout_grad(gy, keep_ref, rate))


def test_the_numpy_backend_takes_either_path_with_the_same_result(monkeypatch):
    b = numpy_backend()
    x = np.random.default_rng(0).standard_normal((64, 1024)).astype("float32")
    y, keep = b.philox_dropout(x, 5, (1, 2), 0.25)
    monkeypatch.setenv("GPUNET_NUMBA", "0")
    y0, keep0 = b.philox_dropout(x, 5, (1, 2), 0.25)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(keep.astype(bool), keep0)
    np.testing.assert_array_equal(b.dropout_grad(x, keep, 0.25), b.dropout_grad(x, keep0, 0.25))


def test_seeded_dropout_layer_draws_a_fresh_reproducible_mask_each_call(backend):
    x = gpunet.ops.ones((8, 300))
    layer = gpunet.layers.Dropout(0.5, seed=3)
    a = gpunet.ops.convert_to_numpy(layer(x, training=True))
    b2 = gpunet.ops.convert_to_numpy(layer(x, training=True))
    assert not np.array_equal(a, b2)
    again = gpunet.layers.Dropout(0.5, seed=3)
    np.testing.assert_array_equal(gpunet.ops.convert_to_numpy(again(x, training=True)), a)
    # the mask is the seed's Philox stream: blocks 0.. of key 3
    keep = PhiloxOps().philox_keep(0, split_seed(3), (8, 300), 0.5)
    np.testing.assert_array_equal(a, np.where(keep, 2.0, 0.0))


def test_set_random_seed_gives_the_same_unseeded_masks():
    x = np.ones((4, 50), "float32")
    gpunet.utils.set_random_seed(5)
    a = gpunet.layers.Dropout(0.3)(x, training=True).numpy()
    gpunet.utils.set_random_seed(5)
    b = gpunet.layers.Dropout(0.3)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.gpu
def test_cuda_words_and_masks_equal_the_cpu_ones():
    cp = pytest.importorskip("cupy")
    g = gpunet.backend.backend_for("gpu:0")
    key, start = split_seed(99), 2**32 - 3
    np.testing.assert_array_equal(cp.asnumpy(g.philox_words(start, 1001, key)),
                                  words(start, 1001, key))
    x = np.random.default_rng(0).standard_normal((33, 77)).astype("float32")
    y_gpu, keep_gpu = g.philox_dropout(cp.asarray(x), start, key, 0.2)
    y_cpu, keep_cpu = numpy_backend().philox_dropout(x, start, key, 0.2)
    np.testing.assert_array_equal(cp.asnumpy(keep_gpu), keep_cpu.astype(bool))
    np.testing.assert_array_equal(cp.asnumpy(y_gpu), y_cpu)
