"""Running whole episodes on small discrete environments: training records and success rates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np


@dataclass
class History:
    """What happened in each training episode."""

    rewards: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    def record(self, reward: float, length: int) -> None:
        self.rewards.append(float(reward))
        self.lengths.append(int(length))

    @property
    def success_fraction(self) -> float:
        """Fraction of training episodes that reached the goal (reward 1 on FrozenLake)."""
        return float(np.mean(np.asarray(self.rewards) > 0)) if self.rewards else 0.0


def success_rate(
    env: gym.Env, policy: Callable[[int], int] | np.ndarray, episodes: int = 5000, seed: int = 0
) -> float:
    """Fraction of ``episodes`` in which ``policy`` reaches a positive reward.

    ``policy`` is a table of actions (one per state) or a function of the state.
    """
    act = (lambda s: int(policy[s])) if isinstance(policy, np.ndarray) else policy
    successes = 0
    state, _ = env.reset(seed=seed)
    for _ in range(episodes):
        while True:
            state, reward, terminated, truncated, _ = env.step(act(state))
            if terminated or truncated:
                successes += reward > 0
                state, _ = env.reset()
                break
    return successes / episodes
