"""Writes ``.h5`` files in the layouts Keras 2 (tf.keras) and Keras 3 produce, with h5py only.

Built from the documented format (shared/reference/keras-h5-layout.md and keras-semantics.md
section 7), not from Keras, so the loader is checked against the format rather than against
itself. The reference network is Flatten → Dense(relu) → Dropout → Dense → Activation(softmax).
"""

from __future__ import annotations

import json

import h5py
import numpy as np

INPUT_SHAPE = (2, 3)
HIDDEN, CLASSES = 5, 4


def reference_weights(seed: int = 0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    n_in = int(np.prod(INPUT_SHAPE))
    return {"dense": [rng.normal(size=(n_in, HIDDEN)).astype("float32"),
                      rng.normal(size=(HIDDEN,)).astype("float32")],
            "dense_1": [rng.normal(size=(HIDDEN, CLASSES)).astype("float32"),
                        rng.normal(size=(CLASSES,)).astype("float32")]}


def numpy_forward(x: np.ndarray, w: dict[str, list[np.ndarray]]) -> np.ndarray:
    """The reference network written with plain NumPy (inference: Dropout is the identity)."""
    h = x.reshape(len(x), -1).astype(np.float64) @ w["dense"][0] + w["dense"][1]
    h = np.maximum(h, 0.0)
    z = h @ w["dense_1"][0] + w["dense_1"][1]
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


# -- model configs -----------------------------------------------------------------------------
def _k2_init(cls: str, cfg: dict) -> dict:
    return {"class_name": cls, "config": cfg}


def _k2_dense(name: str, units: int, activation: str, **extra) -> dict:
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": "float32", **extra, "units": units,
        "activation": activation, "use_bias": True,
        "kernel_initializer": _k2_init("GlorotUniform", {"seed": None}),
        "bias_initializer": _k2_init("Zeros", {}), "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None}}


def keras2_config() -> dict:
    """tf.keras 2 Sequential config: InputLayer first, ``batch_input_shape`` repeated."""
    bis = [None, *INPUT_SHAPE]
    base = {"trainable": True, "dtype": "float32"}
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": bis, "dtype": "float32",
                                                "sparse": False, "ragged": False,
                                                "name": "flatten_input"}},
        {"class_name": "Flatten", "config": {"name": "flatten", **base, "batch_input_shape": bis,
                                             "data_format": "channels_last"}},
        _k2_dense("dense", HIDDEN, "relu"),
        {"class_name": "Dropout", "config": {"name": "dropout", **base, "rate": 0.5,
                                             "noise_shape": None, "seed": None}},
        _k2_dense("dense_1", CLASSES, "linear"),
        {"class_name": "Activation", "config": {"name": "activation", **base,
                                                "activation": "softmax"}}]}}


def _policy() -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
            "registered_name": None}


def _k3(cls: str, cfg: dict, module: str = "keras.layers", build=None) -> dict:
    out = {"module": module, "class_name": cls, "config": cfg, "registered_name": None}
    if build is not None:
        out["build_config"] = {"input_shape": build}
    return out


def _k3_init(cls: str, cfg: dict) -> dict:
    return _k3(cls, cfg, "keras.initializers")


def _k3_dense(name: str, units: int, activation: str, n_in: int) -> dict:
    return _k3("Dense", {
        "name": name, "trainable": True, "dtype": _policy(), "units": units,
        "activation": activation, "use_bias": True,
        "kernel_initializer": _k3_init("GlorotUniform", {"seed": None}),
        "bias_initializer": _k3_init("Zeros", {}), "kernel_regularizer": None,
        "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
        "lora_rank": None}, build=[None, n_in])


def keras3_config() -> dict:
    """Keras 3 Sequential config: ``batch_shape``, DTypePolicy dicts, module/build_config."""
    n_in = int(np.prod(INPUT_SHAPE))
    base = {"trainable": True, "dtype": _policy()}
    return _k3("Sequential", {
        "name": "sequential", "trainable": True, "dtype": _policy(), "layers": [
            _k3("InputLayer", {"batch_shape": [None, *INPUT_SHAPE], "dtype": "float32",
                               "sparse": False, "ragged": False, "name": "input_layer",
                               "optional": False}),
            _k3("Flatten", {"name": "flatten", **base, "data_format": "channels_last"},
                build=[None, *INPUT_SHAPE]),
            _k3_dense("dense", HIDDEN, "relu", n_in),
            _k3("Dropout", {"name": "dropout", **base, "rate": 0.5, "seed": None,
                            "noise_shape": None}, build=[None, HIDDEN]),
            _k3_dense("dense_1", CLASSES, "linear", HIDDEN),
            _k3("Activation", {"name": "activation", **base, "activation": "softmax"},
                build=[None, CLASSES])],
        "build_input_shape": [None, *INPUT_SHAPE]}, module="keras", build=[None, *INPUT_SHAPE])


LAYER_NAMES = ["flatten", "dense", "dropout", "dense_1", "activation"]


# -- training configs and optimizer weights ----------------------------------------------------
def keras2_training_config(legacy: bool = False, lr: float = 0.0099999997) -> dict:
    if legacy:
        opt = {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": lr,
                                                "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999,
                                                "epsilon": 1e-07, "amsgrad": False}}
    else:
        opt = {"class_name": "Custom>Adam", "config": {
            "name": "Adam", "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
            "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
            "ema_overwrite_frequency": None, "jit_compile": False, "is_legacy_optimizer": False,
            "learning_rate": lr, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
            "amsgrad": False}}
    metric = {"class_name": "MeanMetricWrapper", "config": {
        "name": "accuracy", "dtype": "float32", "fn": "sparse_categorical_accuracy"}}
    return {"loss": "sparse_categorical_crossentropy", "metrics": [[metric]],
            "weighted_metrics": None, "loss_weights": None, "optimizer_config": opt}


def keras3_training_config(lr: float = 0.001) -> dict:
    return {"loss": "sparse_categorical_crossentropy", "loss_weights": None,
            "metrics": ["accuracy"], "weighted_metrics": None, "run_eagerly": False,
            "steps_per_execution": 1, "jit_compile": False, "optimizer_config": {
                "class_name": "Adam", "config": {
                    "name": "adam", "learning_rate": lr, "weight_decay": None,
                    "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                    "loss_scale_factor": None, "gradient_accumulation_steps": None,
                    "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}}}


def adam_state(w: dict, seed: int = 1) -> dict[str, list[np.ndarray]]:
    """Made-up (m, v) per variable, keyed like ``w``."""
    rng = np.random.default_rng(seed)
    return {k: [(rng.normal(size=a.shape).astype("float32"),
                 rng.uniform(size=a.shape).astype("float32")) for a in arrs]
            for k, arrs in w.items()}


def optimizer_weights(flavor: str, w: dict, state: dict, iterations: int) -> list:
    """``[(name, array)]`` in the order Keras writes them (flavor k2, k2_legacy or k3)."""
    var = [(layer, v, i) for layer in w for i, v in enumerate(("kernel", "bias"))]
    if flavor == "k2":
        out = [("iteration:0", np.array(iterations, np.int64))]
        for layer, v, i in var:
            out += [(f"Adam/m/{layer}/{v}:0", state[layer][i][0]),
                    (f"Adam/v/{layer}/{v}:0", state[layer][i][1])]
        return out
    if flavor == "k2_legacy":
        out = [("Adam/iter:0", np.array(iterations, np.int64))]
        for slot in (0, 1):
            out += [(f"Adam/{layer}/{v}/{'mv'[slot]}:0", state[layer][i][slot])
                    for layer, v, i in var]
        return out
    out = [("adam/iteration", np.array(iterations, np.int32)),
           ("adam/learning_rate", np.array(0.001, np.float32))]
    for layer, v, i in var:
        out += [(f"adam/sequential_{layer}_{v}_momentum", state[layer][i][0]),
                (f"adam/sequential_{layer}_{v}_velocity", state[layer][i][1])]
    return out


# -- files -------------------------------------------------------------------------------------
def _names_attr(group, name: str, names: list[str], fixed: bool) -> None:
    if not names:
        group.attrs[name] = np.array([], dtype=np.float64)
    elif fixed:
        group.attrs[name] = np.array([n.encode() for n in names], dtype="S")
    else:
        group.attrs[name] = [n.encode() for n in names]


def write_weight_groups(g, flavor: str, w: dict, fixed_strings: bool = False,
                        layer_names: list[str] | None = None) -> None:
    """``layer_names`` + one group per layer, in the Keras 2 (``dense/kernel:0``) or Keras 3
    (``sequential/dense/kernel``) spelling."""
    layer_names = layer_names or LAYER_NAMES
    version = "2.21.0" if flavor == "k2" else "3.15.1"
    backend = "tensorflow" if flavor == "k2" else "torch"
    _names_attr(g, "layer_names", layer_names, fixed_strings)
    g.attrs["backend"] = np.bytes_(backend) if fixed_strings else backend.encode()
    g.attrs["keras_version"] = np.bytes_(version) if fixed_strings else version.encode()
    for layer in sorted(layer_names):
        lg = g.create_group(layer)
        arrays = w.get(layer, [])
        names = [(f"{layer}/{v}:0" if flavor == "k2" else f"sequential/{layer}/{v}")
                 for v in ("kernel", "bias")[:len(arrays)]]
        _names_attr(lg, "weight_names", names, fixed_strings)
        for n, a in zip(names, arrays):
            lg.create_dataset(n, data=a)
    top = g.create_group("top_level_model_weights")
    _names_attr(top, "weight_names", [], fixed_strings)


def write_model_file(path, flavor: str, w: dict, training_config: dict | None = None,
                     opt_weights: list | None = None, model_config: dict | None = None,
                     fixed_strings: bool = False) -> None:
    """A whole-model ``.h5`` as ``model.save`` writes it (flavor ``"k2"`` or ``"k3"``)."""
    if model_config is None:
        model_config = keras2_config() if flavor == "k2" else keras3_config()
    with h5py.File(path, "w") as f:
        version = "2.21.0" if flavor == "k2" else "3.15.1"
        if fixed_strings:  # old Keras 2 + h5py 2 files: fixed-length bytes everywhere
            f.attrs["keras_version"] = np.bytes_(version)
            f.attrs["backend"] = np.bytes_("tensorflow")
            f.attrs["model_config"] = np.bytes_(json.dumps(model_config))
        else:
            f.attrs["keras_version"] = version
            f.attrs["backend"] = "tensorflow" if flavor == "k2" else "torch"
            f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        write_weight_groups(f.create_group("model_weights"), flavor, w, fixed_strings)
        if opt_weights:
            og = f.create_group("optimizer_weights")
            og.attrs["weight_names"] = [n.encode() for n, _ in opt_weights]
            for n, a in opt_weights:
                og.create_dataset(n, data=a)


def write_keras3_weights(path, w: dict, with_names: bool = True) -> None:
    """Keras 3 ``save_weights("x.weights.h5")``: ``layers/<class>[_n]/vars/<i>``."""
    with h5py.File(path, "w") as f:
        root = f.create_group("vars")
        if with_names:
            root.attrs["name"] = "sequential"
        paths = {"flatten": "flatten", "dense": "dense", "dropout": "dropout",
                 "dense_1": "dense_1", "activation": "activation"}
        for layer, p in paths.items():
            vg = f.create_group(f"layers/{p}/vars")
            if with_names:
                vg.attrs["name"] = layer
            for i, a in enumerate(w.get(layer, [])):
                vg.create_dataset(str(i), data=a)
        f.create_group("optimizer/vars").create_dataset("0", data=np.array(3, np.int64))


# -- a two-input Functional model with a shared layer --------------------------------------------
# in_a, in_b: (3,) → shared Dense(4, relu) on both → concatenate → Dense(2) "out".
FUNCTIONAL_LAYERS = ["in_a", "in_b", "shared", "concatenate", "out"]  # Keras's model.layers order


def functional_weights(seed: int = 0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {"shared": [rng.normal(size=(3, 4)).astype("float32"),
                       rng.normal(size=(4,)).astype("float32")],
            "out": [rng.normal(size=(8, 2)).astype("float32"),
                    rng.normal(size=(2,)).astype("float32")]}


def functional_numpy_forward(xa: np.ndarray, xb: np.ndarray, w: dict) -> np.ndarray:
    k, b = w["shared"]
    ha = np.maximum(xa.astype(np.float64) @ k + b, 0.0)
    hb = np.maximum(xb.astype(np.float64) @ k + b, 0.0)
    return np.concatenate([ha, hb], axis=1) @ w["out"][0] + w["out"][1]


def keras2_functional_config() -> dict:
    """tf.keras 2 Functional config: ``inbound_nodes`` as ``[[[name, node, tensor, {}]]]``."""
    def inp(name):
        return {"class_name": "InputLayer", "name": name, "inbound_nodes": [], "config": {
            "batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
            "ragged": False, "name": name}}

    shared = _k2_dense("shared", 4, "relu")
    shared.update(name="shared", inbound_nodes=[[["in_a", 0, 0, {}]], [["in_b", 0, 0, {}]]])
    cat = {"class_name": "Concatenate", "name": "concatenate", "config": {
        "name": "concatenate", "trainable": True, "dtype": "float32", "axis": -1},
        "inbound_nodes": [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]}
    out = _k2_dense("out", 2, "linear")
    out.update(name="out", inbound_nodes=[[["concatenate", 0, 0, {}]]])
    return {"class_name": "Functional", "config": {
        "name": "model", "trainable": True, "layers": [inp("in_a"), inp("in_b"), shared, cat, out],
        "input_layers": [["in_a", 0, 0], ["in_b", 0, 0]], "output_layers": [["out", 0, 0]]}}


def _k3_tensor(name: str, node: int, shape: list) -> dict:
    return {"class_name": "__keras_tensor__", "config": {
        "shape": shape, "dtype": "float32", "keras_history": [name, node, 0]}}


def keras3_functional_config() -> dict:
    """Keras 3 Functional config: ``{"args": [...], "kwargs": {}}`` nodes of KerasTensors."""
    def inp(name):
        return {**_k3("InputLayer", {"batch_shape": [None, 3], "dtype": "float32",
                                     "sparse": False, "name": name}),
                "name": name, "inbound_nodes": []}

    shared = _k3_dense("shared", 4, "relu", 3)
    shared.update(name="shared", inbound_nodes=[
        {"args": [_k3_tensor("in_a", 0, [None, 3])], "kwargs": {}},
        {"args": [_k3_tensor("in_b", 0, [None, 3])], "kwargs": {}}])
    cat = _k3("Concatenate", {"name": "concatenate", "trainable": True, "dtype": _policy(),
                              "axis": -1}, build=[[None, 4], [None, 4]])
    cat.update(name="concatenate", inbound_nodes=[{"args": [[
        _k3_tensor("shared", 0, [None, 4]), _k3_tensor("shared", 1, [None, 4])]],
        "kwargs": {}}])
    out = _k3_dense("out", 2, "linear", 8)
    out.update(name="out", inbound_nodes=[
        {"args": [_k3_tensor("concatenate", 0, [None, 8])], "kwargs": {}}])
    return _k3("Functional", {
        "name": "functional", "trainable": True,
        "layers": [inp("in_a"), inp("in_b"), shared, cat, out],
        "input_layers": [["in_a", 0, 0], ["in_b", 0, 0]], "output_layers": [["out", 0, 0]]},
        module="keras.src.models.functional")


def write_functional_file(path, flavor: str, w: dict,
                          training_config: dict | None = None) -> None:
    """A whole-model ``.h5`` of the reference Functional model, as Keras 2 or 3 writes it."""
    cfg = keras2_functional_config() if flavor == "k2" else keras3_functional_config()
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.21.0" if flavor == "k2" else "3.15.1"
        f.attrs["backend"] = "tensorflow" if flavor == "k2" else "torch"
        f.attrs["model_config"] = json.dumps(cfg).encode("utf8")
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        write_weight_groups(f.create_group("model_weights"), flavor, w,
                            layer_names=FUNCTIONAL_LAYERS)
