"""Import Keras 3 on the TensorFlow backend, quietly, whatever the reader's defaults."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

if keras.backend.backend() != "tensorflow":
    raise RuntimeError(
        f"rlbook needs Keras on the TensorFlow backend, but KERAS_BACKEND is "
        f"{keras.backend.backend()!r}; unset it or set KERAS_BACKEND=tensorflow"
    )

__all__ = ["keras", "tf"]
