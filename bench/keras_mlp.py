"""The benchmark's Keras model: an MLP 20-64-64-1, built and fitted here (no downloads)."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def keras_mlp(X: np.ndarray, y: np.ndarray):
    """A binary classifier on *X* (rows of 20 features): Dense 64, Dense 64, Dense 1."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(X.shape[1],)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(X, y, epochs=2, batch_size=256, verbose=0)
    return model
