"""A small Conv2D / BatchNorm / Dense / LayerNorm model trained under ``mixed_float16`` from
Keras 3.15's initial weights, against what Keras computed (fixtures/make_keras_mixed.py):
dtypes of outputs, variables and gradients, first-batch loss and gradients, six SGD steps
through the automatic LossScaleOptimizer, the loss scale, an overflowing step, predict /
evaluate, and the configs Keras writes in .keras and .h5 files."""

from __future__ import annotations

import json
import os
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import gpunet
from gpunet import layers
from gpunet.autograd.tensor import Tensor

FIX = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "mixed_float16.npz"))
N = int(FIX["n_weights"])
# float16 tolerance: a float16 ulp is ~1e-3 relative; a few roundings apart from Keras/XLA
RTOL, ATOL = 2e-2, 5e-3


def build(backend):
    gpunet.mixed_precision.set_global_policy("mixed_float16")
    with gpunet.backend.device(backend):
        m = gpunet.Sequential([
            layers.Input((6, 6, 2)),
            layers.Conv2D(4, 3, name="conv"),
            layers.BatchNormalization(name="bn"),
            layers.Activation("relu", name="relu"),
            layers.Flatten(name="flatten"),
            layers.Dense(8, activation="tanh", name="dense"),
            layers.LayerNormalization(name="ln"),
            layers.Dense(3, name="logits"),
            layers.Activation("softmax", dtype="float32", name="probs"),
        ], name="mixed")
    m.set_weights([FIX[f"init_{i}"] for i in range(N)])
    return m


def test_policies_and_variable_dtypes(backend):
    m = build(backend)
    assert [la.name for la in m.layers] == list(FIX["layer_names"])
    assert [la.dtype_policy.name for la in m.layers] == list(FIX["policies"])
    assert [la.compute_dtype for la in m.layers] == list(FIX["compute_dtypes"])
    assert [la.variable_dtype for la in m.layers] == list(FIX["variable_policy_dtypes"])
    assert [str(w.dtype) for w in m.weights] == list(FIX["variable_dtypes"])
    assert m.dtype_policy.name == "mixed_float16"


def test_layer_outputs_as_keras(backend):
    m = build(backend)
    h = Tensor(backend.asarray(FIX["x"][:8]))
    for layer, dtype in zip(m.layers, FIX["output_dtypes"]):
        h = layer(h, training=False)
        assert str(h.dtype) == dtype, layer.name
        np.testing.assert_allclose(backend.to_numpy(h.data).astype("f4"),
                                   FIX[f"out_{layer.name}"], rtol=RTOL, atol=ATOL,
                                   err_msg=layer.name)


def test_first_batch_loss_and_float32_gradients(backend):
    m = build(backend)
    loss_fn = gpunet.losses.SparseCategoricalCrossentropy()
    x = Tensor(backend.asarray(FIX["x"][:8]))
    loss = loss_fn(backend.asarray(FIX["y"][:8]), m(x, training=True))
    assert loss.dtype == np.float32
    assert float(loss.data) == pytest.approx(float(FIX["loss0"]), rel=2e-3)
    loss.backward()
    trainable = m.trainable_weights
    keras_trainable = [i for i, p in enumerate(FIX["weight_paths"]) if "moving" not in p]
    assert len(trainable) == len(keras_trainable)
    for w, i in zip(trainable, range(len(keras_trainable))):
        assert str(w.grad.dtype) == FIX["grad_dtypes"][i] == "float32"
        ref = FIX[f"grad_{i}"]
        np.testing.assert_allclose(backend.to_numpy(w.grad), ref, rtol=RTOL,
                                   atol=ATOL * max(1.0, float(np.abs(ref).max())),
                                   err_msg=w.path)


def test_training_steps_loss_scale_and_overflow(backend):
    m = build(backend)
    m.compile(optimizer=gpunet.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    assert type(m.optimizer).__name__ == str(FIX["optimizer_class"])
    assert type(m.optimizer.inner_optimizer).__name__ == str(FIX["inner_class"])
    assert m.optimizer.dynamic_scale == float(FIX["initial_scale"])
    x, y = FIX["x"], FIX["y"]
    losses = [float(m.train_on_batch(x[s * 8:(s + 1) * 8], y[s * 8:(s + 1) * 8]))
              for s in range(len(FIX["losses"]))]
    np.testing.assert_allclose(losses, FIX["losses"], rtol=3e-3)
    for i, w in enumerate(m.get_weights()):
        ref = FIX[f"trained_{i}"]
        np.testing.assert_allclose(w, ref, rtol=RTOL, atol=ATOL * max(1.0, np.abs(ref).max()),
                                   err_msg=str(FIX["weight_paths"][i]))
    assert m.optimizer.dynamic_scale == float(FIX["scale_after"])
    assert m.optimizer.iterations == int(FIX["iterations_after"])
    p = m.predict(x[:8], verbose=0)
    assert str(p.dtype) == str(FIX["predict_dtype"])
    np.testing.assert_allclose(p, FIX["predict"], rtol=RTOL, atol=ATOL)
    assert m.evaluate(x[:16], y[:16], verbose=0) == pytest.approx(float(FIX["evaluate"]),
                                                                  rel=3e-3)
    before = m.get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # float16 overflow, on purpose
        m.train_on_batch(x[:8] * 3e4, y[:8])
    assert m.optimizer.dynamic_scale == float(FIX["overflow_scale"])  # halved
    assert m.optimizer.iterations == int(FIX["overflow_iterations"])  # the step not counted
    assert bool(FIX["overflow_weights_kept"])
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)  # weights (and BN statistics) kept


def _dtypes(cfg):
    # Keras marks a policy object shared by several layers with a `shared_object_id`
    return [({k: v for k, v in d.items() if k != "shared_object_id"} if isinstance(d, dict)
             else d) for d in (la["config"].get("dtype") for la in cfg["config"]["layers"])]


def test_keras_archive_config_and_round_trip(backend, tmp_path):
    m = build(backend)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    m.train_on_batch(FIX["x"][:8], FIX["y"][:8])
    m.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        ours = json.loads(z.read("config.json"))
    keras_cfg = json.loads(str(FIX["keras_config"]))
    assert _dtypes(ours) == _dtypes(keras_cfg)
    assert ours["config"]["dtype"] == {k: v for k, v in keras_cfg["config"]["dtype"].items()
                                       if k != "shared_object_id"}
    gpunet.mixed_precision.set_global_policy("float32")  # the file brings its policies
    loaded = gpunet.models.load_model(tmp_path / "m.keras")
    assert [la.dtype_policy.name for la in loaded.layers] == list(FIX["policies"])
    # Keras's Sequential.from_config makes the model under the global policy; the saved
    # compile config brings the LossScaleOptimizer back
    assert loaded.dtype_policy.name == "float32"
    assert type(loaded.optimizer).__name__ == "LossScaleOptimizer"
    np.testing.assert_array_equal(loaded.predict(FIX["x"][:8], verbose=0),
                                  m.predict(FIX["x"][:8], verbose=0))


def test_h5_config_and_round_trip(backend, tmp_path):
    m = build(backend)
    m.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as f:
        ours = json.loads(f.attrs["model_config"])
    keras_cfg = json.loads(str(FIX["h5_config"]))
    for a, b in zip(_dtypes(ours), _dtypes(keras_cfg)):
        if isinstance(b, dict) and b["config"]["name"].startswith("mixed_"):
            assert a == b  # a mixed policy as the Keras 3 dict
        else:  # single-dtype policies: gpunet's .h5 writes the name (both load either form)
            assert a == (b["config"]["name"] if isinstance(b, dict) else b)
    gpunet.mixed_precision.set_global_policy("float32")
    loaded = gpunet.models.load_model(tmp_path / "m.h5", compile=False)
    assert [la.dtype_policy.name for la in loaded.layers] == list(FIX["policies"])
    assert [str(w.dtype) for w in loaded.weights] == list(FIX["variable_dtypes"])
    np.testing.assert_array_equal(loaded.predict(FIX["x"][:8], verbose=0),
                                  m.predict(FIX["x"][:8], verbose=0))


@pytest.mark.parametrize("key", ["h5_config", "keras_config"])
def test_keras_written_config_loads(backend, key):
    # the model config exactly as Keras 3.15 wrote it (.h5 attribute, .keras config.json)
    m = build(backend)
    gpunet.mixed_precision.set_global_policy("float32")
    clone = gpunet.models.model_from_json(str(FIX[key]))
    assert [la.dtype_policy.name for la in clone.layers] == list(FIX["policies"])
    clone.set_weights(m.get_weights())
    np.testing.assert_array_equal(clone.predict(FIX["x"][:8], verbose=0),
                                  m.predict(FIX["x"][:8], verbose=0))
