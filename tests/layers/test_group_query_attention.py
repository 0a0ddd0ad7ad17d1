"""GroupQueryAttention gives the outputs and attention scores Keras 3.15 gave on the same
weights and inputs (tests/fixtures/gqa.*, made by tests/fixtures/make_keras_gqa.py; no Keras
needed here): grouped, multi-query and multi-head forms, attention masks with a fully masked
row on both of Keras's paths, Keras masks, causal and sliding-window masks, the gate; Keras's
weight names, shapes, order and config; float64 gradients against finite differences; a model
that trains; .keras/.weights.h5 round trips and Keras-saved files; Keras's argument errors."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd import Tensor
from gpunet.autograd.gradcheck import check_grad

FIXDIR = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FIX = np.load(FIXDIR / "gqa.npz")
META = json.loads((FIXDIR / "gqa.json").read_text())
CASES = {k: v for k, v in META["cases"].items() if k != "reg"}


def _np(backend, t):
    return backend.to_numpy(t.data if isinstance(t, Tensor) else t)


def _layer_from_keras(key):
    return layers.deserialize({"class_name": "GroupQueryAttention",
                               "config": CASES[key]["config"]})


def _call_args(backend, key):
    call = CASES[key]["call"]
    args = {"query": backend.asarray(FIX[f"{key}_q"]), "value": backend.asarray(FIX[f"{key}_v"])}
    if f"{key}_k" in FIX:
        args["key"] = backend.asarray(FIX[f"{key}_k"])
    if call.get("mask"):
        args["attention_mask"] = FIX[f"{key}_mask"]
    if call.get("qmask"):
        args["query_mask"] = FIX[f"{key}_qmask"]
    if call.get("vmask"):
        args["value_mask"] = FIX[f"{key}_vmask"]
    if call.get("causal"):
        args["use_causal_mask"] = True
    return args


def _built(backend, key):
    layer = _layer_from_keras(key)
    args = _call_args(backend, key)
    layer(**args)
    layer.set_weights([FIX[f"{key}_w{i}"] for i in range(CASES[key]["n_weights"])])
    return layer, args


@pytest.mark.parametrize("key", sorted(CASES))
def test_outputs_and_scores_match_keras(backend, key):
    layer, args = _built(backend, key)
    y = layer(**args)
    np.testing.assert_allclose(_np(backend, y), FIX[f"{key}_y"], rtol=1e-5, atol=2e-5)
    y2, s = layer(**args, return_attention_scores=True)
    np.testing.assert_allclose(_np(backend, y2), FIX[f"{key}_y_scores_path"], rtol=1e-5,
                               atol=2e-5)
    np.testing.assert_allclose(_np(backend, s), FIX[f"{key}_scores"], rtol=1e-5, atol=1e-6)


def test_fully_masked_row_differs_between_keras_paths_as_in_keras(backend):
    # Keras's ops.dot_product_attention averages the values over a fully masked row, while
    # its explicit path (scores asked for, or dropout) zeroes that row's weights
    key = "cross_key_mask"
    layer, args = _built(backend, key)
    y, y2, s = FIX[f"{key}_y"], FIX[f"{key}_y_scores_path"], FIX[f"{key}_scores"]
    assert not np.allclose(y[0, 1], y2[0, 1])
    np.testing.assert_array_equal(s[0, :, 1], 0.0)
    out, scores = layer(**args, return_attention_scores=True)
    np.testing.assert_array_equal(_np(backend, scores)[0, :, 1], 0.0)


@pytest.mark.parametrize("key", sorted(CASES))
def test_weights_names_shapes_order_and_config_equal_keras(key):
    layer, _ = _built(gpunet.backend.backend_for("numpy"), key)
    case = CASES[key]
    assert [w.path for w in layer.weights] == case["paths"]
    assert [list(w.shape) for w in layer.weights] == case["shapes"]
    cfg = json.loads(json.dumps(layer.get_config()))
    kcfg = case["config"]
    assert set(cfg) == set(kcfg)
    for k in kcfg:
        if k not in ("dtype",) and not k.endswith(("initializer", "regularizer", "constraint")):
            assert cfg[k] == kcfg[k], k
    assert cfg["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert layers.serialize(layer)["class_name"] == "GroupQueryAttention"


def test_default_name_and_keras_export_name():
    layer = layers.GroupQueryAttention(4, 2, 1)
    assert layer.name == "grouped_query_attention"
    assert gpunet.registry.serialize(layer)["class_name"] == "GroupQueryAttention"
    back = layers.deserialize(layers.serialize(layer))
    assert type(back).__name__ == "GroupedQueryAttention"
    assert back.num_key_value_heads == 1


def test_activity_and_kernel_regularizers_sum_as_keras(backend):
    case = META["cases"]["reg"]
    layer = layers.deserialize({"class_name": "GroupQueryAttention", "config": case["config"]})
    x = backend.asarray(FIX["reg_x"])
    layer(x, x)
    layer.set_weights([FIX[f"reg_w{i}"] for i in range(case["n_weights"])])
    layer(x, x)
    total = sum(float(_np(backend, v)) for v in layer.losses)
    assert len(layer.losses) == case["n_losses"]
    np.testing.assert_allclose(total, case["loss_total"], rtol=1e-5)


def _reference(q, v, k, ws, heads, kv, hd, mask=None, gate=False):
    """NumPy float64 grouped-query attention (Keras's einsums), weights in Keras order."""
    it = iter(ws)
    wq, bq, wk, bk = next(it), next(it), next(it), next(it)
    if gate:
        wg, bg = next(it), next(it)
    wv, bv, wo, bo = next(it), next(it), next(it), next(it)
    qh = np.einsum("bqm,muh->bquh", q, wq) + bq
    kh = np.repeat(np.einsum("bkm,mvh->bkvh", k, wk) + bk, heads // kv, axis=2)
    vh = np.repeat(np.einsum("bkm,mvh->bkvh", v, wv) + bv, heads // kv, axis=2)
    s = np.einsum("bquh,bkuh->buqk", qh / np.sqrt(hd), kh)
    if mask is not None:
        s = np.where(mask[:, None], s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = np.einsum("buqk,bkuh->bquh", p, vh)
    if gate:
        o = o / (1 + np.exp(-(np.einsum("bqm,muh->bquh", q, wg) + bg)))
    return np.einsum("bquh,uhm->bqm", o, wo) + bo


def test_float64_gradients_match_finite_differences(backend):
    rng = np.random.default_rng(4)
    layer = layers.GroupQueryAttention(3, 4, 2, use_gate=True, dtype="float64")
    q = rng.normal(size=(2, 4, 5))
    v = rng.normal(size=(2, 3, 5))
    mask = rng.random((2, 4, 3)) > 0.3
    mask[:, :, 0] = True
    layer(backend.asarray(q), backend.asarray(v), attention_mask=mask)
    ws = [w.astype("float64") for w in layer.get_weights()]
    np.testing.assert_allclose(
        _np(backend, layer(backend.asarray(q), backend.asarray(v), attention_mask=mask)),
        _reference(q, v, v, ws, 4, 2, 3, mask, gate=True), rtol=1e-10, atol=1e-12)
    check_grad(lambda a, b: layer(a, b, attention_mask=mask), [q, v], backend=backend)
    kernel = layer.weights[2]  # key/kernel: each key head serves two query heads

    for w in layer.weights:
        w.grad = None
    y = layer(backend.asarray(q), backend.asarray(v), attention_mask=mask)
    y.backward(backend.xp.ones(y.shape, "float64"))
    eps, w0 = 1e-6, ws[2]
    num = np.zeros_like(w0)
    for idx in np.ndindex(*w0.shape):
        for sign in (1, -1):
            w = w0.copy()
            w[idx] += sign * eps
            ws2 = list(ws)
            ws2[2] = w
            num[idx] += sign * _reference(q, v, v, ws2, 4, 2, 3, mask, gate=True).sum()
    np.testing.assert_allclose(_np(backend, kernel.grad), num / (2 * eps), rtol=1e-5,
                               atol=1e-7)


def test_dropout_only_in_training_and_seeded(backend):
    x = backend.asarray(np.random.default_rng(1).normal(size=(2, 5, 4)).astype("float32"))
    layer = layers.GroupQueryAttention(2, 2, 1, dropout=0.5, seed=7)
    a = _np(backend, layer(x, x))
    np.testing.assert_array_equal(a, _np(backend, layer(x, x, training=False)))
    t1 = _np(backend, layer(x, x, training=True))
    assert not np.allclose(t1, a)
    same = layers.GroupQueryAttention(2, 2, 1, dropout=0.5, seed=7)
    same(x, x)
    same.set_weights(layer.get_weights())
    np.testing.assert_array_equal(_np(backend, same(x, x, training=True)), t1)


def test_keras_mask_from_embedding_flows_and_passes_on(backend):
    ids = np.array([[3, 4, 0, 0], [5, 1, 2, 0]])
    emb = layers.Embedding(8, 6, mask_zero=True)
    gqa = layers.GroupQueryAttention(3, 2, 1)
    e = emb(backend.asarray(ids))
    y = gqa(e, e)
    np.testing.assert_array_equal(backend.to_numpy(y._keras_mask), ids != 0)
    explicit = gqa(Tensor(e.data), Tensor(e.data), query_mask=ids != 0, value_mask=ids != 0)
    np.testing.assert_allclose(_np(backend, y), _np(backend, explicit), rtol=1e-6)


def test_explicit_masks_as_model_inputs_take_effect(tmp_path):
    q = gpunet.Input((4, 6))
    qm = gpunet.Input((4,), dtype="bool")
    vm = gpunet.Input((4,), dtype="bool")
    layer = layers.GroupQueryAttention(3, 2, 1)
    model = gpunet.Model([q, qm, vm], layer(q, q, query_mask=qm, value_mask=vm))
    x = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")
    qmask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    vmask = np.array([[1, 0, 1, 1], [1, 1, 1, 0]], bool)
    y = model.predict([x, qmask, vmask], verbose=0)
    want = layer(x, x, attention_mask=qmask[:, :, None] & vmask[:, None, :]).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    assert not np.allclose(y, layer(x, x).numpy())
    model.save(tmp_path / "m.keras")
    back = gpunet.models.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(back.predict([x, qmask, vmask], verbose=0), y, rtol=1e-6)


def test_keras_saved_model_loads_and_predicts_the_same(backend):
    data = np.load(FIXDIR / "gqa_model.npz")
    with gpunet.backend.device(backend):
        model = gpunet.models.load_model(str(FIXDIR / "gqa_model.keras"))
        np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], rtol=1e-5,
                                   atol=1e-5)
        fresh = gpunet.models.model_from_json(json.dumps(META["model_config"]))
        fresh.load_weights(str(FIXDIR / "gqa_model.weights.h5"))
        np.testing.assert_allclose(fresh.predict(data["x"], verbose=0), data["y"], rtol=1e-5,
                                   atol=1e-5)


def _model(seed=0):
    gpunet.utils.set_random_seed(seed)
    inp = gpunet.Input((6, 4))
    h = layers.GroupQueryAttention(4, 4, 2, use_gate=True)(inp, inp, use_causal_mask=True)
    h = layers.GlobalAveragePooling1D()(h)
    return gpunet.Model(inp, layers.Dense(1)(h))


def test_round_trips_keras_file_and_weights_h5(tmp_path):
    import h5py

    model = _model()
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    y = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    back = gpunet.models.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(back.predict(x, verbose=0), y, rtol=1e-6)
    model.save(tmp_path / "m.h5")
    legacy = gpunet.models.load_model(str(tmp_path / "m.h5"))
    np.testing.assert_allclose(legacy.predict(x, verbose=0), y, rtol=1e-6)
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5") as f:
        for sub in ("_query_dense", "_key_dense", "_gate_dense", "_value_dense",
                    "_output_dense"):
            assert f"layers/grouped_query_attention/{sub}/vars/0" in f, sub
    other = _model(seed=5)
    other.load_weights(str(tmp_path / "m.weights.h5"))
    np.testing.assert_allclose(other.predict(x, verbose=0), y, rtol=1e-6)


def test_keras_loads_the_gpunet_file_when_installed(tmp_path):
    keras = pytest.importorskip("keras")
    model = _model()
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    model.save(tmp_path / "m.keras")
    kmodel = keras.saving.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(np.asarray(kmodel.predict(x, verbose=0)),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_tiny_model_trains():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 4)).astype("float32")
    y = x[:, :, 0].mean(axis=1, keepdims=True) * 2.0
    model = _model()
    model.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.2 * hist.history["loss"][0]


def test_flash_attention_as_keras_without_a_flash_kernel(backend):
    x = backend.asarray(np.ones((1, 3, 4), "float32"))
    with pytest.raises(ValueError, match="Dropout is not supported when flash attention"):
        layers.GroupQueryAttention(2, 2, 1, dropout=0.1, flash_attention=True)
    layer = layers.GroupQueryAttention(2, 2, 1, flash_attention=True)
    with pytest.raises(RuntimeError, match="flash attention is not available"):
        layer(x, x)
    with pytest.raises(ValueError, match="Returning attention scores is not supported"):
        layer(x, x, return_attention_scores=True)
    assert layers.GroupQueryAttention(2, 2, 1, flash_attention=False)(x, x).shape == (1, 3, 4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_query_heads=3, num_key_value_heads=2), "must be divisible by"),
    (dict(num_key_value_heads=0), "`num_key_value_heads` must be a positive integer"),
    (dict(head_dim=0), "`head_dim` must be a positive integer"),
    (dict(sliding_window=0), "`sliding_window` must be `None` or a positive integer"),
    (dict(sliding_window=1.5), "`sliding_window` must be `None` or a positive integer"),
    (dict(dropout=1.5), "`dropout` must be a float in"),
])
def test_bad_arguments_raise(kwargs, match):
    args = dict(head_dim=4, num_query_heads=4, num_key_value_heads=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        layers.GroupQueryAttention(**args)


def test_bad_inputs_raise_naming_layer():
    layer = layers.GroupQueryAttention(2, 2, 1, name="gqa")
    with pytest.raises(ValueError, match="gqa.*expects `query` and `value`"):
        layer(np.ones((1, 3, 4), "float32"))
    with pytest.raises(ValueError, match="last dimension of `query_shape` and `value_shape`"):
        layer(gpunet.Input((3, 4)), gpunet.Input((3, 5)))
    ones = np.ones((1, 3, 4), "float32")
    with pytest.raises(ValueError, match="gqa.*`value` and `key`, except the last one"):
        layer(ones, ones, np.ones((1, 2, 4), "float32"))
    with pytest.raises(ValueError, match=r"gqa.*expected `value` of shape \(batch, seq_len, 4\)"):
        layer(ones, np.ones((1, 3, 5), "float32"))
    with pytest.raises(ValueError, match="expects `query` of shape"):
        layers.GroupQueryAttention(2, 2, 1)(np.ones((1, 2, 3, 4), "float32"),
                                            np.ones((1, 2, 3, 4), "float32"))
