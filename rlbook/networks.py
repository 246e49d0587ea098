"""The Q-networks: the Nature-DQN conv net, a small one for Catch, and how their weights start.

A network maps uint8 frame stacks ``[n, stack, H, W]`` to one output per action (a Q-value), or
to ``atoms`` outputs per action (the logits of C51's return distribution, ``rlbook.c51``).
"""

from __future__ import annotations

import numpy as np

from rlbook._keras import keras

INITS = ("glorot", "torch")
# Mixed bfloat16 computes in bfloat16 but keeps float32 weights, so checkpoints are float32
# whichever precision trained them, and the outputs (and so the loss) come out in float32.
DTYPE_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def nature_cnn(dtype: str = "float32") -> list[keras.layers.Layer]:
    """The conv net of Mnih et al. (2015): 32 8x8/4, 64 4x4/2, 64 3x3/1, 512 dense.

    In the chapter: Breakout, "The network".
    """
    return [
        keras.layers.Conv2D(32, 8, strides=4, activation="relu", dtype=dtype),
        keras.layers.Conv2D(64, 4, strides=2, activation="relu", dtype=dtype),
        keras.layers.Conv2D(64, 3, strides=1, activation="relu", dtype=dtype),
        keras.layers.Flatten(dtype=dtype),
        keras.layers.Dense(512, activation="relu", dtype=dtype),
    ]


def small_cnn(dtype: str = "float32") -> list[keras.layers.Layer]:
    """A small conv net for tiny pixel games such as Catch."""
    return [
        keras.layers.Conv2D(16, 3, strides=1, activation="relu", dtype=dtype),
        keras.layers.Flatten(dtype=dtype),
        keras.layers.Dense(64, activation="relu", dtype=dtype),
    ]


NETWORKS = {"nature": nature_cnn, "small": small_cnn}


def build_network(
    kind: str,
    obs_shape: tuple[int, int, int],
    n_actions: int,
    seed: int = 0,
    precision: str = "float32",
    atoms: int = 1,
    init: str = "glorot",
):
    """A Q-network taking uint8 frame stacks ``[stack, H, W]`` and scaling them inside.

    Frames stay uint8 all the way into the model, so the replay memory and the host-to-device
    copy move a quarter of the bytes that float inputs would. ``precision`` is "float32" or
    "bfloat16" (mixed: float32 weights and outputs, bfloat16 arithmetic in between). With
    ``atoms`` > 1 the output is ``[n, n_actions, atoms]`` logits instead of ``[n, n_actions]``.
    """
    if kind not in NETWORKS:
        raise ValueError(f"unknown network {kind!r}; choose one of {sorted(NETWORKS)}")
    if kind == "nature" and min(obs_shape[1:]) < 36:
        raise ValueError(f"the nature network needs frames of at least 36x36, got {obs_shape[1:]}")
    if precision not in DTYPE_POLICIES:
        raise ValueError(f"unknown precision {precision!r}; choose one of {sorted(DTYPE_POLICIES)}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {list(INITS)}")
    dtype = DTYPE_POLICIES[precision]
    keras.utils.set_random_seed(seed)
    head = [keras.layers.Dense(n_actions * atoms, name="q_values", dtype="float32")]
    if atoms > 1:
        head.append(keras.layers.Reshape((n_actions, atoms), dtype="float32"))
    model = keras.Sequential(
        [
            keras.Input(shape=obs_shape, dtype="uint8"),
            # Stacks arrive channels-first from the environment; TensorFlow's CPU convolutions
            # want channels last.
            keras.layers.Permute((2, 3, 1)),
            keras.layers.Rescaling(1.0 / 255.0, dtype=dtype),
            *NETWORKS[kind](dtype),
            *head,
        ],
        name=f"dqn_{kind}",
    )
    if init == "torch":
        fan_in_uniform(model, np.random.default_rng(seed))
    return model


def fan_in_uniform(model, rng: np.random.Generator) -> None:
    """Draw every weight and bias of ``model`` from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    PyTorch's default for its linear and convolution layers. Against Keras' Glorot uniform it
    starts the 512-unit layer and the output with about 2.3x smaller weights, and its biases
    are not zero.
    """
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Dense | keras.layers.Conv2D):
            continue
        bound = 1.0 / np.sqrt(np.prod(layer.kernel.shape[:-1]))
        for variable in (layer.kernel, layer.bias):
            variable.assign(rng.uniform(-bound, bound, variable.shape).astype(np.float32))
