"""Training fed by an augmenting ``Sequence`` reaches the accuracy of the in-memory array run."""

from __future__ import annotations

import numpy as np

import gpunet
from gpunet import Sequential, layers, optimizers
from gpunet.preprocessing.image import ImageDataGenerator


def _model(seed):
    gpunet.utils.set_random_seed(seed)
    m = Sequential([layers.Input((8, 8, 1)), layers.Flatten(),
                    layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    m.compile(optimizer=optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def test_augmented_sequence_matches_array_accuracy(backend):
    (x, y), (xt, yt) = gpunet.datasets.digits.load_data()  # the embedded real 8x8 digits
    x = x[..., None].astype("float32") / 16.0
    xt = xt[..., None].astype("float32") / 16.0
    accs = {"arrays": [], "augmented": []}
    for seed in (0, 1):
        m = _model(seed)
        m.fit(x, y, batch_size=32, epochs=30, verbose=0)
        accs["arrays"].append(m.evaluate(xt, yt, verbose=0)[1])
        m = _model(seed)
        gen = ImageDataGenerator(width_shift_range=1, height_shift_range=1,
                                 fill_mode="constant")  # whole-pixel shifts of at most 1
        m.fit(gen.flow(x, y, batch_size=32, seed=seed), epochs=30, verbose=0)
        accs["augmented"].append(m.evaluate(xt, yt, verbose=0)[1])
    arr, aug = np.mean(accs["arrays"]), np.mean(accs["augmented"])
    assert arr > 0.93 and aug > 0.93, accs
    assert abs(arr - aug) < 0.03, accs
