"""The CPU benchmark workloads, built the same way in gpunet, PyTorch eager and Keras 3.

Each workload is a name, a data maker and three model builders. ``run_gpunet``, ``run_torch``
and ``run_keras`` train it for whole epochs through each framework's usual loop (shuffling
included) and return the seconds of the timed epochs.

- ``mlp``: 784-512-512-10 (ReLU, dropout 0.2, softmax), batch 128.
- ``tiny``: Dense(10) on 784 inputs, batch 32.
- ``cnn``: the Keras tutorial convnet (Conv2D(32,3)+pool, Conv2D(64,3)+pool, Dropout(0.5),
  Dense(10)), batch 128.
- ``cnn_dense``: Conv2D(32,3)+pool, Conv2D(64,3)+pool, Dense(128, relu), Dense(10), batch 128.
- ``lstm`` / ``gru``: LSTM(128) / GRU(128) over the 28 rows of an MNIST image, Dense(10),
  batch 128.
- ``text_lstm``: Embedding(20000, 128), LSTM(128), Dense(1, sigmoid) over synthetic
  sequences of 80 ids, batch 32.

All use Adam(1e-3) (PyTorch: eps=1e-7, Keras's default) and (sparse / binary) cross-entropy.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

VOCAB, EMB, SEQ = 20000, 128, 80


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    batch: int
    kind: str  # "image" (N, 28, 28, 1), "flat" (N, 784), "rows" (N, 28, 28), "text"
    samples: int  # training samples per timed epoch


WORKLOADS = {w.key: w for w in [
    Workload("mlp", "MLP 784-512-512-10, batch 128", 128, "flat", 60000),
    Workload("tiny", "tiny Dense(10), batch 32", 32, "flat", 60000),
    Workload("cnn", "Keras convnet (2 conv + pool, Dense(10)), batch 128", 128, "image", 6000),
    Workload("cnn_dense", "CNN 2 conv + pool, Dense(128), Dense(10), batch 128", 128, "image",
             6000),
    Workload("lstm", "LSTM(128) over 28 MNIST rows, Dense(10), batch 128", 128, "rows", 6000),
    Workload("gru", "GRU(128) over 28 MNIST rows, Dense(10), batch 128", 128, "rows", 6000),
    Workload("text_lstm", "Embedding(20000,128)-LSTM(128)-Dense(1), T=80, batch 32", 32, "text",
             1600),
]}


def make_data(w: Workload, samples: int | None = None):
    """``(x, y, source)`` for ``w`` (real MNIST through ``GPUNET_DATA_DIR`` when found)."""
    n = samples or w.samples
    if w.kind == "text":
        rng = np.random.default_rng(0)
        x = rng.integers(1, VOCAB, (n, SEQ)).astype("int64")
        y = ((x < VOCAB // 2).mean(axis=1) > 0.5).astype("float32")[:, None]
        return x, y, "synthetic ids"
    from bench.common import mnist_flat

    x, y, source = mnist_flat(n)
    shape = {"flat": (-1, 784), "image": (-1, 28, 28, 1), "rows": (-1, 28, 28)}[w.kind]
    return np.ascontiguousarray(x.reshape(shape)), y, source


# -- gpunet ------------------------------------------------------------------------------------


def gpunet_model(key: str, device: str = "cpu"):
    import gpunet
    from gpunet import Sequential, layers, optimizers

    gpunet.utils.set_random_seed(0)
    loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    with gpunet.backend.device(device):
        if key in ("mlp", "tiny"):
            stack = [layers.Input((784,))]
            for h in ((512, 512) if key == "mlp" else ()):
                stack += [layers.Dense(h, activation="relu"), layers.Dropout(0.2)]
            stack.append(layers.Dense(10, activation="softmax"))
        elif key in ("cnn", "cnn_dense"):
            stack = [layers.Input((28, 28, 1)),
                     layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                     layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                     layers.Flatten()]
            if key == "cnn":
                stack += [layers.Dropout(0.5)]
            else:
                stack += [layers.Dense(128, activation="relu")]
            stack.append(layers.Dense(10, activation="softmax"))
        elif key in ("lstm", "gru"):
            rnn = layers.LSTM(128) if key == "lstm" else layers.GRU(128)
            stack = [layers.Input((28, 28)), rnn, layers.Dense(10, activation="softmax")]
        else:
            stack = [layers.Input((SEQ,), dtype="int64"), layers.Embedding(VOCAB, EMB),
                     layers.LSTM(128), layers.Dense(1, activation="sigmoid")]
            loss = "binary_crossentropy"
        model = Sequential(stack)
        model.compile(optimizer=optimizers.Adam(1e-3), loss=loss, metrics=metrics)
    return model


def run_gpunet(key: str, x, y, epochs: int = 1, device: str = "cpu") -> float:
    import gpunet

    w = WORKLOADS[key]
    model = gpunet_model(key, device)
    with gpunet.backend.device(device) as b:
        model.fit(x[:w.batch * 5], y[:w.batch * 5], batch_size=w.batch, epochs=1, verbose=0)
        b.synchronize()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=w.batch, epochs=epochs, verbose=0)
        b.synchronize()
        return time.perf_counter() - t0


# -- PyTorch eager -----------------------------------------------------------------------------


def torch_model(key: str):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if key in ("mlp", "tiny"):
        mods, d = [], 784
        for h in ((512, 512) if key == "mlp" else ()):
            mods += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(0.2)]
            d = h
        return nn.Sequential(*mods, nn.Linear(d, 10))
    if key in ("cnn", "cnn_dense"):
        head = ([nn.Dropout(0.5), nn.Linear(1600, 10)] if key == "cnn"
                else [nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10)])
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             *head)

    class Rec(nn.Module):
        def __init__(self):
            super().__init__()
            text = key == "text_lstm"
            self.emb = nn.Embedding(VOCAB, EMB) if text else None
            cls = nn.GRU if key == "gru" else nn.LSTM
            self.rnn = cls(EMB if text else 28, 128, batch_first=True)
            self.out = nn.Linear(128, 1 if text else 10)

        def forward(self, x):
            if self.emb is not None:
                x = self.emb(x)
            _, h = self.rnn(x)
            h = h[0] if isinstance(h, tuple) else h
            return self.out(h[-1])

    return Rec()


def run_torch(key: str, x, y, epochs: int = 1, device: str = "cpu") -> float:
    import torch
    from torch import nn

    w = WORKLOADS[key]
    dev = torch.device("cuda" if device.startswith("gpu") else "cpu")
    model = torch_model(key).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    text = key == "text_lstm"
    lossf = nn.BCEWithLogitsLoss() if text else nn.CrossEntropyLoss()
    xn = x.transpose(0, 3, 1, 2).copy() if w.kind == "image" else x
    xt, yt = torch.from_numpy(xn).to(dev), torch.from_numpy(y).to(dev)
    n = len(xt)

    def epoch(limit=None):
        model.train()
        perm = torch.randperm(n, device=dev)
        correct = torch.zeros((), device=dev)
        for i in range(math.ceil(n / w.batch) if limit is None else limit):
            idx = perm[i * w.batch:(i + 1) * w.batch]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = lossf(out, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                pred = (out > 0).float() if text else out.argmax(1)
                correct += (pred == yb).sum()
        return float(correct) / n

    epoch(limit=5)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


# -- Keras 3 (run in a child process by bench/run_all.py) --------------------------------------


def keras_model(key: str):
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    loss = "sparse_categorical_crossentropy"
    if key in ("mlp", "tiny"):
        stack = [keras.Input((784,))]
        for h in ((512, 512) if key == "mlp" else ()):
            stack += [layers.Dense(h, activation="relu"), layers.Dropout(0.2)]
        stack.append(layers.Dense(10, activation="softmax"))
    elif key in ("cnn", "cnn_dense"):
        stack = [keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                 layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"),
                 layers.MaxPooling2D(2), layers.Flatten()]
        stack += ([layers.Dropout(0.5)] if key == "cnn"
                  else [layers.Dense(128, activation="relu")])
        stack.append(layers.Dense(10, activation="softmax"))
    elif key in ("lstm", "gru"):
        rnn = layers.LSTM(128) if key == "lstm" else layers.GRU(128)
        stack = [keras.Input((28, 28)), rnn, layers.Dense(10, activation="softmax")]
    else:
        stack = [keras.Input((SEQ,), dtype="int64"), layers.Embedding(VOCAB, EMB),
                 layers.LSTM(128), layers.Dense(1, activation="sigmoid")]
        loss = "binary_crossentropy"
    model = keras.Sequential(stack)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"])
    return model


def keras_worker(key: str, folder: str, epochs: int) -> float:
    """Keras 3's ``fit`` on the arrays saved in ``folder`` (the JAX backend by default)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    w = WORKLOADS[key]
    x, y = np.load(os.path.join(folder, "x.npy")), np.load(os.path.join(folder, "y.npy"))
    model = keras_model(key)
    warm = w.batch * 5 + len(x) % w.batch  # compiles the full and the last partial batch too
    model.fit(x[:warm], y[:warm], batch_size=w.batch, epochs=1, verbose=0)
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=w.batch, epochs=epochs, verbose=0)
    return time.perf_counter() - t0
