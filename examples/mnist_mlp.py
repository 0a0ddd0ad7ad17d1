"""The classic Keras MNIST MLP (784-512-512-10 with dropout), trained with gpunet.

Usage:
    python examples/mnist_mlp.py [--device cpu|gpu|auto] [--epochs 5] [--batch-size 128]

Looks for ``mnist.npz`` in ``$GPUNET_DATA_DIR`` (then the cache, then downloads it). When no
copy can be found or fetched, it falls back to the 1,797 8x8 UCI handwritten digits shipped
inside gpunet, and says so.
"""

from __future__ import annotations

import argparse
import time

import gpunet
from gpunet import Sequential, layers, optimizers


def load_data(limit: int | None = None):
    """Returns ``(x_train, y_train), (x_test, y_test), name`` scaled to [0, 1]."""
    try:
        (x, y), (xt, yt) = gpunet.datasets.mnist.load_data()
        name, scale = "MNIST (60,000 28x28 images)", 255.0
    except (OSError, ValueError) as e:
        print(f"MNIST is not available: {e}\nFalling back to the embedded 8x8 UCI digits.")
        (x, y), (xt, yt) = gpunet.datasets.digits.load_data()
        name, scale = "UCI optical digits (1,797 8x8 images, embedded)", 16.0
    if limit:
        x, y = x[:limit], y[:limit]
    x = x.reshape(len(x), -1).astype("float32") / scale
    xt = xt.reshape(len(xt), -1).astype("float32") / scale
    return (x, y), (xt, yt), name


def build_model(input_dim: int) -> Sequential:
    """The Keras example's model: two 512-unit ReLU layers with dropout, softmax output."""
    return Sequential([
        layers.Input((input_dim,)),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="cpu, gpu or auto (default)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--verbose", type=int, default=2)
    args = p.parse_args(argv)

    gpunet.utils.set_random_seed(args.seed)
    (x, y), (xt, yt), name = load_data(args.limit)
    with gpunet.backend.device(args.device) as b:
        print(f"Dataset: {name}; device: {b.device} ({b.name})")
        model = build_model(x.shape[1])
        model.summary()
        model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1,
                  verbose=args.verbose)
        elapsed = time.perf_counter() - t0
        loss, acc = model.evaluate(xt, yt, verbose=0)
    print(f"Training time: {elapsed:.1f} s; test loss {loss:.4f}; test accuracy {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
