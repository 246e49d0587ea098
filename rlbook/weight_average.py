"""One agent from several checkpoints of a run: the mean of their weights.

A DQN's greedy policy changes with every update (policy churn: Schaul et al. 2022). A training
game is played by the hundreds of networks the run passes through while it lasts, so a state one
of them gets wrong is put right a few updates later; a saved network keeps its mistakes for a
whole game. On Breakout such a mistake can cost a game: an agent that lets the ball pass after
a serve loses its next lives to the same serve, 25 steps apart. The mean of the weights of
checkpoints a little apart (stochastic weight averaging: Izmailov et al. 2018; in reinforcement
learning, Nikishin et al. 2018) keeps what they agree on and smooths out what each got wrong
alone. Networks of one run, close in training, tend to lie in one basin of the loss, where the
mean of their weights is itself a working network (Izmailov et al. 2018); the Experiments page
measures what it gives on Breakout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rlbook.checkpoints import read_network, restore_agent
from rlbook.dqn import DQNAgent
from rlbook.files import RunError


def mean_weights(networks: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of networks' weight lists, in float32 whatever they were saved in.

    In the chapter: Breakout, "A trained agent".
    """
    if not networks:
        raise ValueError("no networks to average")
    shapes = [[w.shape for w in weights] for weights in networks]
    if any(s != shapes[0] for s in shapes):
        raise ValueError("the networks to average do not have the same layers")
    return [
        np.mean([np.asarray(w, np.float32) for w in layer], axis=0, dtype=np.float32)
        for layer in zip(*networks, strict=True)
    ]


def restore_averaged(run: str | Path, checkpoint_paths: Sequence[str | Path]) -> DQNAgent:
    """The agent of ``run`` acting with the mean weights of ``checkpoint_paths`` (milestones).

    Each checkpoint must be one of this run's (the run's config builds the network); the target
    network gets the mean too.

    In the chapter: Breakout, "A trained agent".
    """
    paths = list(checkpoint_paths)
    if not paths:
        raise RunError("name at least one checkpoint to average")
    if len({str(p).removesuffix(".index") for p in paths}) != len(paths):
        raise RunError("a checkpoint is named twice among those to average")
    # One agent reads each checkpoint in turn: building one per checkpoint (an environment and
    # a network each) costs more than reading twenty networks into one.
    agent = restore_agent(run, paths[0])
    networks = [agent.online.get_weights()]
    for path in paths[1:]:
        read_network(agent, path, agent.config.game)
        networks.append(agent.online.get_weights())
    agent.online.set_weights(mean_weights(networks))
    agent.sync_target()
    return agent
