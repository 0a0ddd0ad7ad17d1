"""Float64 finite-difference checks of the whole-sequence recurrent ops (``gpunet.ops.rnn``):
every input (x, kernel, recurrent kernel, bias, initial states) and every output (sequence,
final states), with masks, go_backwards, dropout masks and non-default activations."""

from __future__ import annotations

import numpy as np
import pytest

from gpunet import ops
from gpunet.ops import rnn

N, T, F, U = 2, 4, 3, 2
MASK = np.array([[True, True, False, True], [False, True, True, False]])


def _r(seed, *shape, scale=0.7):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def _inputs(gates, bias_shape=None):
    bias_shape = bias_shape or (gates * U,)
    return [_r(0, N, T, F), _r(1, F, gates * U), _r(2, U, gates * U), _r(3, *bias_shape),
            _r(4, N, U)]


def _keep(seed, *shape, rate=0.4):
    keep = np.random.default_rng(seed).random(shape) >= rate
    return keep / (1 - rate)


def _sum_outputs(out):
    """One Tensor from a Function's outputs (the states are weighted differently)."""
    if not isinstance(out, tuple):
        return out
    parts = [out[0]] + [s * (1.5 + k) for k, s in enumerate(out[1:])]
    flat = [p.reshape((N, -1)) for p in parts]
    return ops.concatenate(flat, axis=-1)


CASES = {
    "plain": {},
    "sequences": {"return_sequences": True},
    "state": {"return_state": True},
    "masked": {"return_sequences": True, "return_state": True, "mask": MASK},
    "masked_last": {"mask": MASK},
    "zero_output": {"return_sequences": True, "mask": MASK, "zero_output_for_mask": True},
    "backwards": {"return_sequences": True, "go_backwards": True, "return_state": True},
    "backwards_masked": {"return_sequences": True, "go_backwards": True, "mask": MASK},
}


def _masks(case, backend, gates):
    kw = dict(CASES[case])
    if "mask" in kw:
        kw["mask"] = backend.asarray(kw["mask"])
    return kw


@pytest.mark.parametrize("case", sorted(CASES))
def test_simple_rnn_gradients(backend, case):
    kw = _masks(case, backend, 1)

    def f(x, w, u, b, h0):
        return _sum_outputs(ops.rnn.simple_rnn(x, w, u, b, h0, **kw))

    check_grad = _check(backend)
    check_grad(f, _inputs(1))


@pytest.mark.parametrize("case", sorted(CASES))
def test_lstm_gradients(backend, case):
    kw = _masks(case, backend, 4)

    def f(x, w, u, b, h0, c0):
        return _sum_outputs(ops.rnn.lstm(x, w, u, b, [h0, c0], **kw))

    _check(backend)(f, _inputs(4) + [_r(5, N, U)])


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("case", sorted(CASES))
def test_gru_gradients(backend, case, reset_after):
    kw = _masks(case, backend, 3)
    bshape = (2, 3 * U) if reset_after else (3 * U,)

    def f(x, w, u, b, h0):
        return _sum_outputs(ops.rnn.gru(x, w, u, b, h0, reset_after=reset_after, **kw))

    _check(backend)(f, _inputs(3, bshape))


def _check(backend):
    from gpunet.autograd.gradcheck import check_grad

    return lambda f, inputs, **kw: check_grad(f, inputs, backend=backend, **kw)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru", "gru_v1"])
def test_dropout_masks_and_other_activations(backend, kind):
    """Per-gate input and recurrent dropout masks, relu / hard_sigmoid / a generic activation."""
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_v1": 3}[kind]
    dp = backend.asarray(_keep(7, gates, N, F))
    rdp = backend.asarray(_keep(8, gates, N, U))
    shared = backend.asarray(_keep(9, N, F))
    mask = backend.asarray(MASK)
    ra = kind != "gru_v1"
    bshape = (2, 3 * U) if kind == "gru" else None

    def generic(t):  # not a known name: exercised through the autograd fallback
        return ops.softplus(t) - 0.5

    for kw in ({"dropout_mask": dp, "recurrent_dropout_mask": rdp, "mask": mask},
               {"dropout_mask": shared, "activation": "relu"},
               {"activation": generic, "return_sequences": True}):
        if kind != "simple_rnn":
            kw = {**kw, "recurrent_activation": "hard_sigmoid"}

        def f(x, w, u, b, h0, kw=kw):
            if kind == "simple_rnn":
                return ops.rnn.simple_rnn(x, w, u, b, h0, **kw)
            if kind == "lstm":
                return ops.rnn.lstm(x, w, u, b, [h0, h0 * 0.5], **kw)
            return ops.rnn.gru(x, w, u, b, h0, reset_after=ra, **kw)

        inputs = _inputs(gates, bshape)
        if kw.get("activation") == "relu":
            inputs[0] = np.abs(inputs[0])  # keep pre-activations off relu's kink
        _check(backend)(f, inputs)


def test_no_gradient_requested_for_data_or_states(backend):
    """Backward skips inputs that need no gradient (the data and the initial state)."""

    def f(x, w, u, b, h0):
        return ops.rnn.gru(x, w, u, b, h0, return_sequences=True)

    _check(backend)(f, _inputs(3, (2, 3 * U)), wrt=[1, 2, 3])


def test_without_bias(backend):
    def f(x, w, u, h0):
        return rnn.lstm(x, w, u, None, [h0, h0], return_sequences=True)

    inputs = _inputs(4)
    _check(backend)(f, inputs[:3] + [inputs[4]])


def test_embedding_lookup_gradient_accumulates_repeated_ids(backend):
    ids = backend.asarray(np.array([[0, 3, 3], [1, 0, 3]]))

    def f(w):
        return ops.embedding_lookup(w, ids)

    _check(backend)(f, [_r(6, 5, 2)])
    w = np.arange(10.0).reshape(5, 2)
    got = ops.embedding_lookup(gpunet_tensor(backend, w), ids)
    np.testing.assert_array_equal(backend.to_numpy(got.data), w[[[0, 3, 3], [1, 0, 3]]])


def gpunet_tensor(backend, a):
    from gpunet.autograd import Tensor

    return Tensor(backend.asarray(a))
