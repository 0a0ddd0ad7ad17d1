"""Running the ``examples/keras_io`` scripts on small data, under gpunet or under Keras 3.

Each script names the framework only in its import block (``import gpunet as keras``,
``from gpunet import ...``). ``keras_source`` rewrites those lines to ``import keras`` /
``from keras import ...``, so the very same file runs under Keras 3 (``run_under_keras``).
Both runners return the same summary of the script's globals: ``score``, ``RESULT``,
``EVENTS`` and ``history.history`` (as JSON-safe numbers).

Data: the scripts call ``keras.datasets.mnist.load_data()`` / ``imdb.load_data()``; the tests
write a small ``mnist.npz`` (the first samples of the real file) or a synthetic ``imdb.npz``
into a folder that is both ``$GPUNET_DATA_DIR`` and ``$KERAS_HOME/datasets``. Both frameworks
check the official file's hash; the small files are accepted by patching that check.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import runpy
import subprocess
import sys
from typing import Any

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples", "keras_io")


def example_path(name: str) -> str:
    return os.path.join(EXAMPLES, f"{name}.py")


def write_mnist_subset(src_dir: str, dst_dir: str, n_train: int, n_test: int) -> str:
    """The first ``n_train``/``n_test`` samples of ``src_dir/mnist.npz`` in ``dst_dir``."""
    os.makedirs(dst_dir, exist_ok=True)
    with np.load(os.path.join(src_dir, "mnist.npz")) as f:
        arrays = {"x_train": f["x_train"][:n_train], "y_train": f["y_train"][:n_train],
                  "x_test": f["x_test"][:n_test], "y_test": f["y_test"][:n_test]}
    path = os.path.join(dst_dir, "mnist.npz")
    np.savez(path, **arrays)
    return path


def write_synthetic_imdb(dst_dir: str, n_train: int, n_test: int, seed: int = 0) -> str:
    """``imdb.npz`` in Keras's layout (object arrays of word-index lists, raw indices before
    ``index_from``): label 1 when "positive" words (indices 10-19) are in the review, 0 when
    "negative" ones (20-29) are; 2-5 of them among 20-60 random words (30-2999)."""
    rng = np.random.default_rng(seed)

    def split(n):
        xs, ys = [], []
        for i in range(n):
            label = i % 2
            seq = [int(w) for w in rng.integers(30, 3000, size=int(rng.integers(20, 60)))]
            lo = 10 if label else 20
            for w in rng.integers(lo, lo + 10, size=int(rng.integers(2, 6))):
                seq.insert(int(rng.integers(0, len(seq))), int(w))
            xs.append(seq)
            ys.append(label)
        x = np.empty(n, dtype=object)
        x[:] = xs
        return x, np.array(ys, dtype="int64")

    (x_train, y_train), (x_test, y_test) = split(n_train), split(n_test)
    os.makedirs(dst_dir, exist_ok=True)
    path = os.path.join(dst_dir, "imdb.npz")
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _plain(value: Any) -> Any:
    """Numbers, arrays and tensors as floats/lists; dicts, lists and tuples recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return repr(value)


def summary(namespace: dict) -> dict:
    """What a test compares: ``score``, ``RESULT``, ``EVENTS`` and ``history.history``."""
    out = {k.lower(): _plain(namespace[k]) for k in ("score", "RESULT", "EVENTS")
           if k in namespace}
    history = namespace.get("history")
    if history is not None and hasattr(history, "history"):
        out["history"] = _plain(history.history)
    return out


def run_under_gpunet(name: str, data_dir: str, workdir: str, env: dict, monkeypatch) -> dict:
    """Runs ``examples/keras_io/<name>.py`` in this process (``runpy``) with ``env`` set, the
    data of ``data_dir`` accepted, and ``workdir`` as the working directory."""
    import gpunet.datasets.imdb as imdb
    import gpunet.datasets.mnist as mnist

    monkeypatch.setenv("GPUNET_DATA_DIR", data_dir)
    # restored afterwards: the torch-flavoured scripts set KERAS_BACKEND themselves
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    for module, fname in ((mnist, "mnist.npz"), (imdb, "imdb.npz")):
        path = os.path.join(data_dir, fname)
        if os.path.exists(path):
            monkeypatch.setattr(module, "ACCEPTED_HASHES", (_sha256(path),))
    monkeypatch.chdir(workdir)
    return summary(runpy.run_path(example_path(name), run_name="__main__"))


def keras_source(text: str) -> str:
    """The script with its import block naming Keras instead of gpunet."""
    text = re.sub(r"^import gpunet as keras(?=\s|$)", "import keras", text, flags=re.M)
    text = re.sub(r"^from gpunet import ", "from keras import ", text, flags=re.M)
    return re.sub(r"^from gpunet\.", "from keras.", text, flags=re.M)


_KERAS_BOOT = r"""
import json, os, sys
sys.path.insert(0, sys.argv[3])
import keras_io_harness as h
import keras.src.utils.file_utils as file_utils
file_utils.validate_file = lambda *a, **k: True  # the small data files are not Keras's
source = h.keras_source(open(sys.argv[1]).read())
namespace = {"__name__": "__main__", "__file__": sys.argv[1]}
exec(compile(source, sys.argv[1], "exec"), namespace)
json.dump(h.summary(namespace), open(sys.argv[2], "w"))
"""


def keras_backend_for(name: str) -> str:
    """The Keras backend a script needs: the torch-flavoured custom steps need torch."""
    with open(example_path(name)) as f:
        text = f.read()
    m = re.search(r'^os\.environ\["KERAS_BACKEND"\] = "(\w+)"', text, flags=re.M)
    return m.group(1) if m else "jax"


def run_under_keras(python: str, name: str, data_dir: str, workdir: str, env: dict,
                    timeout: float = 900) -> dict:
    """Runs the script under Keras 3 with ``python`` (an interpreter where ``keras`` imports),
    ``$KERAS_HOME/datasets`` holding the files of ``data_dir``; returns its summary."""
    home = os.path.join(workdir, "keras_home")
    os.makedirs(os.path.join(home, "datasets"), exist_ok=True)
    for fname in ("mnist.npz", "imdb.npz"):
        src = os.path.join(data_dir, fname)
        if os.path.exists(src):
            with open(src, "rb") as fi, open(os.path.join(home, "datasets", fname), "wb") as fo:
                fo.write(fi.read())
    out = os.path.join(workdir, "keras_summary.json")
    run_env = dict(os.environ, KERAS_HOME=home, KERAS_BACKEND=keras_backend_for(name),
                   **{k: str(v) for k, v in env.items()})
    proc = subprocess.run([python, "-c", _KERAS_BOOT, example_path(name), out,
                           os.path.dirname(os.path.abspath(__file__))],
                          cwd=workdir, env=run_env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed under Keras:\n{proc.stderr[-4000:]}")
    with open(out) as f:
        return json.load(f)


def keras_python() -> str | None:
    """An interpreter with Keras 3: ``$GPUNET_KERAS_PYTHON``, else this one if it has
    ``keras``, else None."""
    python = os.environ.get("GPUNET_KERAS_PYTHON")
    if python:
        return python
    try:
        import keras  # noqa: F401
    except ImportError:
        return None
    return sys.executable
