"""A second process finds every Numba kernel a training run uses in the disk cache: nothing is
compiled again (a kernel that closes over another compiled function misses the cache, and
was seen recompiling, for seconds, in every process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")

SCRIPT = textwrap.dedent("""
    import numpy as np
    import gpunet as keras
    from gpunet import layers

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5, 3)).astype("float32")
    y = rng.integers(0, 2, 64)
    for rnn in (layers.LSTM, layers.GRU):
        m = keras.Sequential([keras.Input((5, 3)), rnn(16, return_sequences=True), rnn(8),
                              layers.Dropout(0.3), layers.Dense(2, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    m = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                          layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(2)])
    m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(rng.random((64, 8, 8, 1)).astype("float32"), y, batch_size=32, epochs=1, verbose=0)
""")


def _run(tmp_path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
           "GPUNET_CACHE_DIR": str(tmp_path / "gpunet"), "NUMBA_DEBUG_CACHE": "1",
           "GPUNET_BACKEND": "numpy", "GPUNET_NUMBA": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def test_second_process_compiles_nothing(tmp_path):
    first = _run(tmp_path)
    assert "data saved" in first  # the kernels were compiled and written once
    second = _run(tmp_path)
    saved = [ln for ln in second.splitlines() if "data saved" in ln]
    assert not saved, "recompiled in a new process:\n" + "\n".join(saved)
    assert "data loaded" in second
