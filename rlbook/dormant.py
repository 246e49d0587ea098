"""Dormant units: how much of a Q-network's last hidden layer has stopped taking part.

Sokar et al. (2023) call a ReLU unit *tau-dormant* when its mean activation over a set of
states, divided by the mean over all units of its layer, is at most tau. A unit that never
fires (tau = 0) gets no gradient on its own weights, so it comes back only if the layers below
it change what it sees; while it is silent the layer has that much less room to learn in.
Counts depend on the states: a unit silent on one set of states may fire on another.
"""

from __future__ import annotations

import numpy as np

from rlbook._keras import keras
from rlbook.games import make_game


def hidden_layer(network) -> keras.layers.Layer:
    """The last hidden layer of a Q-network: the ReLU Dense layer in front of its output layer."""
    dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) < 2:
        raise ValueError(f"{network.name} has no hidden Dense layer in front of its output")
    # a unit's mean activation measures how much it takes part only where it cannot go negative
    if dense[-2].activation is not keras.activations.relu:
        raise ValueError(f"{network.name}'s hidden layer {dense[-2].name} is not a ReLU layer")
    return dense[-2]


def unit_activity(network, states: np.ndarray, batch: int = 256) -> np.ndarray:
    """The mean activation of each unit of ``hidden_layer(network)`` over ``states``."""
    if batch <= 0:
        raise ValueError(f"batch must be positive, got {batch}")
    states = np.asarray(states)
    expected = tuple(network.inputs[0].shape[1:])
    if states.ndim != len(expected) + 1 or states.shape[1:] != expected or not len(states):
        shape = ", ".join(map(str, expected))
        raise ValueError(f"states should be [n, {shape}], got {states.shape}")
    probe = keras.Model(network.inputs[0], hidden_layer(network).output)
    total = 0.0
    for start in range(0, len(states), batch):
        total = total + np.asarray(probe(states[start : start + batch]), np.float64).sum(0)
    return total / len(states)


def dormant_fraction(activity: np.ndarray, tau: float = 0.0) -> float:
    """The fraction of units whose mean activation, over the layer's mean, is at most ``tau``.

    ``activity`` is ``unit_activity``'s result. A layer of which no unit fires is dormant whole.
    """
    if tau < 0:
        raise ValueError(f"tau is a fraction of the layer's mean activation, not {tau}")
    activity = np.asarray(activity, np.float64)
    if not activity.size or not np.isfinite(activity).all():
        raise ValueError("activity should be the finite mean activations of a layer's units")
    layer_mean = activity.mean()
    if layer_mean <= 0:
        return 1.0
    return float(np.mean(activity / layer_mean <= tau))


def states_of_play(
    agent, game: str, n: int = 1000, every: int = 4, epsilon: float = 0.05, seed: int = 1
) -> np.ndarray:
    """``n`` frame stacks from ``agent``'s own games, one every ``every`` steps.

    The games are played as the protocol plays them (epsilon-greedy, random no-op starts), so
    the states reach as far into a game as the agent does; one good agent's states let several
    networks be probed on the same inputs.
    """
    if n <= 0 or every <= 0:
        raise ValueError(f"n and every must be positive, got n={n}, every={every}")
    env = make_game(game, 1, sticky_actions=False)
    try:
        rng = np.random.default_rng(seed)
        observations, kept, step = env.reset(seed=seed), [], 0
        while len(kept) < n:
            if step % every == 0:
                kept.append(observations[0])
            actions, _ = agent.act(observations, epsilon, rng)
            observations, step = env.step(actions).observations, step + 1
    finally:
        env.close()
    return np.stack(kept)
