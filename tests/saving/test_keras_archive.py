"""Keras 3's native ``.keras`` archive (both ways) and Keras 3 ``.weights.h5`` files whose
layers keep their weights in sublayers (MultiHeadAttention, recurrent cells).

Keras-written files are built here with zipfile and h5py from the documented format
(``config.json``, ``metadata.json``, ``model.weights.h5`` with ``layers/<class>/vars/<i>``
and ``optimizer/vars/<i>``), not with Keras.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import Model, Sequential, layers
from gpunet.utils import set_random_seed


def _functional():
    set_random_seed(2)
    a, b = layers.Input((3,), name="in_a"), layers.Input((3,), name="in_b")
    shared = layers.Dense(4, activation="relu", name="shared")
    h = layers.Concatenate()([shared(a), shared(b)])
    m = Model([a, b], layers.Dense(2, name="out")(h))
    lr = gpunet.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    m.compile(optimizer=gpunet.optimizers.SGD(lr, momentum=0.9), loss="mse")
    return m


def _assert_same_weights(a, b):
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_sequential_round_trip_and_next_step(tmp_path, backend, mlp, data):
    x, y = data
    model = mlp()
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert set(z.namelist()) == {"metadata.json", "config.json", "model.weights.h5"}
        cfg = json.loads(z.read("config.json"))
        assert set(json.loads(z.read("metadata.json"))) == {"keras_version", "date_saved"}
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            assert f["layers/dense/vars/0"].shape == (4, 8)
            assert f["layers/dense_1/vars/1"].shape == (3,)
            assert int(f["optimizer/vars/0"][()]) == 8  # iterations
            assert len(f["optimizer/vars"]) == 2 + 2 * 4  # step, lr, (m, v) per variable
    assert cfg["module"] == "keras" and cfg["class_name"] == "Sequential"
    assert cfg["config"]["layers"][0]["config"]["batch_shape"] == [None, 4]
    assert cfg["config"]["layers"][1]["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert cfg["compile_config"]["optimizer"]["class_name"] == "Adam"
    loaded = gpunet.models.load_model(tmp_path / "m.keras")
    assert loaded.backend is backend and loaded.optimizer.iterations == 8
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.train_on_batch(x[:16], y[:16])
    loaded.train_on_batch(x[:16], y[:16])
    _assert_same_weights(loaded, model)


def test_functional_round_trip_and_next_step(tmp_path, backend):
    rng = np.random.default_rng(3)
    xa, xb = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")
    t = rng.normal(size=(8, 2)).astype("float32")
    model = _functional()
    model.fit([xa, xb], t, epochs=2, batch_size=4, shuffle=False, verbose=0)
    model.save(tmp_path / "f.keras")
    with zipfile.ZipFile(tmp_path / "f.keras") as z:
        node = json.loads(z.read("config.json"))["config"]["layers"][2]["inbound_nodes"][1]
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            assert len(f["optimizer/vars"]) == 1 + 4  # step (no lr: a schedule), 4 momenta
    assert node["args"][0]["config"]["keras_history"] == ["in_b", 0, 0]
    loaded = gpunet.models.load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(loaded.predict([xa, xb], verbose=0),
                                  model.predict([xa, xb], verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations == 4
    model.train_on_batch([xa, xb], t)
    loaded.train_on_batch([xa, xb], t)
    _assert_same_weights(loaded, model)


def _keras3_archive(path, kw, w, state, iterations, compile_config=True, drop=()):
    """A ``.keras`` archive as Keras 3 writes it, for the reference network of ``kw``."""
    cfg = kw.keras3_config()
    tc = kw.keras3_training_config(lr=0.01)
    opt = tc["optimizer_config"]
    cfg["compile_config"] = {
        "optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                      "config": opt["config"], "registered_name": None},
        "loss": tc["loss"], "loss_weights": None, "metrics": ["accuracy"],
        "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
        "jit_compile": False} if compile_config else None
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars")
        for name in kw.LAYER_NAMES:
            vg = f.create_group(f"layers/{name}/vars")
            for i, a in enumerate(w.get(name, [])):
                vg.create_dataset(str(i), data=a)
        ov = f.create_group("optimizer/vars")
        arrays = [np.array(iterations, np.int64), np.array(0.01, np.float32)]
        for name in ("dense", "dense_1"):
            for m, v in state[name]:
                arrays += [m, v]
        for i, a in enumerate(arrays):
            ov.create_dataset(str(i), data=a)
    files = {"metadata.json": json.dumps({"keras_version": "3.15.1",
                                          "date_saved": "2026-11-29@12:00:00"}),
             "config.json": json.dumps(cfg), "model.weights.h5": buf.getvalue()}
    with zipfile.ZipFile(path, "w") as z:
        for name, content in files.items():
            if name not in drop:
                z.writestr(name, content)


def test_keras_written_archive(tmp_path, backend, kw):
    w, x = kw.reference_weights(), np.random.default_rng(4).normal(size=(6, 2, 3))
    state = kw.adam_state(w)
    _keras3_archive(tmp_path / "k.keras", kw, w, state, iterations=7)
    model = gpunet.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(model.predict(x.astype("float32"), verbose=0),
                               kw.numpy_forward(x, w), rtol=1e-5, atol=1e-6)
    assert model.optimizer.iterations == 7
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    expected = [a for name in ("dense", "dense_1") for mv in state[name] for a in mv]
    for got, want in zip([a for _, a in model.optimizer.get_slot_arrays()], expected,
                         strict=True):
        np.testing.assert_array_equal(np.asarray(got), want)
    with pytest.warns(UserWarning, match="not.*compiled"):
        _keras3_archive(tmp_path / "u.keras", kw, w, state, 7, compile_config=False)
        assert not gpunet.models.load_model(tmp_path / "u.keras").compiled


def test_kill_during_save_keeps_previous_archive(tmp_path, mlp):
    path = tmp_path / "ckpt.keras"
    old = mlp()
    old.save(path)
    x = np.ones((2, 4), "float32")
    expected = old.predict(x, verbose=0)
    saver = textwrap.dedent("""
        import os, sys, time
        from gpunet import Sequential, layers
        from gpunet import atomic_io as atomic
        m = Sequential([layers.Input((600,)), layers.Dense(600), layers.Dense(600)])
        atomic._CHUNK = 1 << 16
        real = os.write
        def slow(fd, data):
            n = real(fd, data)
            print("writing", flush=True)
            time.sleep(5.0)
            return n
        os.write = slow
        m.save(sys.argv[1])
    """)
    root = os.path.dirname(os.path.dirname(gpunet.__file__))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "GPUNET_BACKEND": "numpy"}
    proc = subprocess.Popen([sys.executable, "-c", saver, str(path)], stdout=subprocess.PIPE,
                            env=env)
    try:
        assert proc.stdout.readline().strip() == b"writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    loaded = gpunet.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    leftovers = [p for p in os.listdir(tmp_path) if p != "ckpt.keras"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ckpt.keras.")  # the torn write
    assert os.path.getsize(tmp_path / leftovers[0]) == 1 << 16
    old.save(path)  # the next save removes the dead writer's temporary file
    assert os.listdir(tmp_path) == ["ckpt.keras"]


def test_corrupt_and_incomplete_archives(tmp_path, mlp, kw):
    path = tmp_path / "m.keras"
    mlp().save(path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ValueError, match=r"m\.keras.*not a valid Keras 3 '\.keras' \(zip\)"):
        gpunet.models.load_model(path)
    w = kw.reference_weights()
    _keras3_archive(tmp_path / "nocfg.keras", kw, w, kw.adam_state(w), 1, drop=("config.json",))
    with pytest.raises(ValueError, match=r"nocfg\.keras.*no config\.json"):
        gpunet.models.load_model(tmp_path / "nocfg.keras")
    _keras3_archive(tmp_path / "now.keras", kw, w, kw.adam_state(w), 1,
                    drop=("model.weights.h5",))
    with pytest.raises(ValueError, match=r"now\.keras.*no model\.weights\.h5"):
        gpunet.models.load_model(tmp_path / "now.keras")
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        gpunet.models.load_model(tmp_path / "missing.keras")


def test_safe_mode_refuses_bytecode_lambda(tmp_path):
    m = Sequential([layers.Input((3,)), layers.Lambda(lambda t: t * 2.0), layers.Dense(2)])
    m.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        gpunet.models.load_model(tmp_path / "lam.keras", compile=False)
    loaded = gpunet.models.load_model(tmp_path / "lam.keras", compile=False, safe_mode=False)
    x = np.ones((1, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), m.predict(x, verbose=0))


# -- Keras 3 .weights.h5 with sublayers ---------------------------------------------------------
def _mha_numpy(x, p, heads, key_dim):
    """Self-attention as Keras 3 computes it, from the sublayers' (kernel, bias)."""
    q, k, v = (np.einsum("btd,dhk->bthk", x, p[s][0]) + p[s][1]
               for s in ("query_dense", "key_dense", "value_dense"))
    s = np.einsum("bqhk,bvhk->bhqv", q, k) / np.sqrt(key_dim)
    s = np.exp(s - s.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    o = np.einsum("bhqv,bvhk->bqhk", s, v)
    return np.einsum("bqhk,hkd->bqd", o, p["output_dense"][0]) + p["output_dense"][1]


@pytest.mark.parametrize("prefix", ["", "_"])  # Keras >= 3.1 names, Keras 3.0's private ones
def test_keras3_weights_with_mha_sublayers(tmp_path, backend, prefix):
    heads, key_dim, dim, steps = 2, 3, 4, 5
    rng = np.random.default_rng(5)
    p = {s: [rng.normal(size=shape).astype("float32"), rng.normal(size=bshape).astype("float32")]
         for s, shape, bshape in (("query_dense", (dim, heads, key_dim), (heads, key_dim)),
                                  ("key_dense", (dim, heads, key_dim), (heads, key_dim)),
                                  ("value_dense", (dim, heads, key_dim), (heads, key_dim)),
                                  ("output_dense", (heads, key_dim, dim), (dim,)))}
    with h5py.File(tmp_path / "k3.weights.h5", "w") as f:
        f.create_group("vars")
        f.create_group("layers/input_layer/vars")
        root = "layers/multi_head_attention"
        f.create_group(root + "/vars")
        for s in ("key_dense", "output_dense", "query_dense", "value_dense"):  # Keras's order
            vg = f.create_group(f"{root}/{prefix}{s}/vars")
            for i, a in enumerate(p[s]):
                vg.create_dataset(str(i), data=a)
        for s in ("_dropout_layer", "_softmax"):
            f.create_group(f"{root}/{s}/vars")
    x_in = layers.Input((steps, dim))
    model = Model(x_in, layers.MultiHeadAttention(heads, key_dim)(x_in, x_in))
    model.load_weights(tmp_path / "k3.weights.h5")
    x = rng.normal(size=(2, steps, dim)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               _mha_numpy(x.astype(np.float64), p, heads, key_dim),
                               rtol=1e-4, atol=1e-5)
    model.save_weights(tmp_path / "again.weights.h5")  # gpunet writes the same layout
    with h5py.File(tmp_path / "again.weights.h5", "r") as f:
        np.testing.assert_array_equal(f[f"{root}/query_dense/vars/0"], p["query_dense"][0])
        assert len(f[root + "/vars"]) == 0


def test_recurrent_weights_live_in_cell(tmp_path):
    set_random_seed(0)
    src = Sequential([layers.Input((4, 2)), layers.LSTM(3), layers.Dense(1)])
    src.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert f["layers/lstm/cell/vars/1"].shape == (3, 12)
    dst = Sequential([layers.Input((4, 2)), layers.LSTM(3), layers.Dense(1)])
    dst.load_weights(tmp_path / "w.weights.h5")
    _assert_same_weights(dst, src)


def test_wrapped_and_nested_layers_round_trip(tmp_path):
    set_random_seed(1)
    inner = Sequential([layers.Input((6,)), layers.Dense(2)], name="head")
    src = Sequential([layers.Input((4, 3)),
                      layers.Bidirectional(layers.GRU(2, return_sequences=True)),
                      layers.TimeDistributed(layers.Dense(3)), layers.Flatten(), layers.Dense(6),
                      inner])
    src.save(tmp_path / "n.keras")
    with zipfile.ZipFile(tmp_path / "n.keras") as z:
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            assert "layers/bidirectional/backward_layer/cell/vars/2" in f
            assert "layers/time_distributed/layer/vars/1" in f
            assert "layers/sequential/layers/dense/vars/0" in f
    loaded = gpunet.models.load_model(tmp_path / "n.keras", compile=False)
    x = np.random.default_rng(6).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), src.predict(x, verbose=0))


def test_load_weights_from_archive(tmp_path, mlp):
    src = mlp()
    src.save(tmp_path / "m.keras")
    dst = mlp(compile=False)
    dst.set_weights([np.zeros_like(w) for w in dst.get_weights()])
    dst.load_weights(tmp_path / "m.keras")
    _assert_same_weights(dst, src)
